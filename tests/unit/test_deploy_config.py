"""The prod stage and the CodeBuild spec deploy what the README documents."""

import json
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
PROD = CONFIG["stages"]["prod"]


def test_prod_sets_memory_timeout_and_log_retention():
    assert PROD["lambda_memory_size"] >= 1024
    # API Gateway stops waiting at 29 s; a longer function timeout only costs.
    assert PROD["lambda_timeout"] <= 30
    assert PROD["log_retention_in_days"] > 0
    assert PROD["automatic_layer"] is True


def test_prod_talks_to_real_aws_with_the_function_role():
    environment = {**CONFIG.get("environment_variables", {}), **PROD["environment_variables"]}
    assert not {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "ALLOW_LOOPBACK_URLS"} & {name for name, value in environment.items()
                                          if value not in ("", "false")}
    assert environment["APP_STAGE"] == "prod"
    assert all("-prod-" in environment[name] for name in
               ("BLOBS_BUCKET", "BLOBS_TABLE", "BLOBS_QUEUE", "BLOBS_DLQ"))


def buildspec_commands(*phases: str) -> list[str]:
    spec = yaml.safe_load((PROJECT_DIR / "buildspec.yml").read_text())
    return [command for phase in phases for command in spec["phases"][phase]["commands"]]


def test_buildspec_checks_settings_tests_and_deploys_prod_in_order():
    spec = yaml.safe_load((PROJECT_DIR / "buildspec.yml").read_text())
    assert spec["phases"]["install"]["runtime-versions"]["python"] == \
        float((PROJECT_DIR / ".python-version").read_text().strip())
    commands = buildspec_commands("install", "pre_build", "build")
    steps = ["DEPLOY_STATE_BUCKET", "-m stack check --stage prod", ".ci/run",
             "deploy-state fetch prod", "make deploy STAGE=prod"]
    positions = [next(index for index, command in enumerate(commands) if step in command)
                 for step in steps]
    assert positions == sorted(positions)


def test_ci_lints_once_and_hides_no_failure():
    commands = buildspec_commands("install", "pre_build", "build", "post_build")
    ci_script = (PROJECT_DIR / ".ci" / "run").read_text()
    assert not any("make lint" in command or "ruff" in command for command in commands)
    assert ci_script.count("\nmake test") == 1 and "make lint" not in ci_script
    for text in [*commands, ci_script, (PROJECT_DIR / ".ci" / "deploy-state").read_text()]:
        assert "|| echo" not in text and "|| true" not in text
    assert "set -euo pipefail" in ci_script


def test_ci_checks_the_stage_settings_before_the_tests():
    ci_script = (PROJECT_DIR / ".ci" / "run").read_text()
    assert ci_script.index("-m stack check") < ci_script.index("make test")


def test_deployed_state_is_kept_only_from_a_successful_build():
    [store] = buildspec_commands("post_build")
    assert store.startswith('if [ "$CODEBUILD_BUILD_SUCCEEDING" = "1" ]')
    assert "deploy-state store prod" in store
