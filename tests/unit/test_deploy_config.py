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


def test_buildspec_tests_provisions_packages_and_deploys_prod_in_order():
    spec = yaml.safe_load((PROJECT_DIR / "buildspec.yml").read_text())
    assert spec["phases"]["install"]["runtime-versions"]["python"] == \
        float((PROJECT_DIR / ".python-version").read_text().strip())
    commands = [command for phase in ("install", "pre_build", "build")
                for command in spec["phases"][phase]["commands"]]
    steps = ["make test", "-m stack provision --stage prod", "make package",
             "chalice deploy --stage prod"]
    positions = [next(index for index, command in enumerate(commands) if step in command)
                 for step in steps]
    assert positions == sorted(positions)
