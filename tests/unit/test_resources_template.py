"""resources.json: lint-clean, and every per-stage value comes from the stage's config."""

import json
from pathlib import Path

import pytest

from chalicelib.errors import ConfigurationError
from stack.policy import stage_environment
from stack.template import (
    load_template,
    recorded_environment,
    resolve,
    secure_parameters,
    stack_parameters,
    stage_variables,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(PROJECT_DIR)
STAGES = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]


def test_cfn_lint_finds_no_error_or_warning_in_resources_json():
    from cfnlint.api import lint_file

    assert [str(match) for match in lint_file(PROJECT_DIR / "resources.json")
            if match.rule.id[0] in "EW"] == []


def test_every_parameter_takes_its_value_from_the_stage_config_or_a_default():
    sources = stage_variables(TEMPLATE)
    assert set(sources) <= set(TEMPLATE["Parameters"])
    assert [name for name, parameter in TEMPLATE["Parameters"].items()
            if name not in sources and "Default" not in parameter] == []


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_gives_every_parameter_a_value(stage):
    parameters = stack_parameters(TEMPLATE, stage_environment(stage, PROJECT_DIR))
    assert set(parameters) == set(TEMPLATE["Parameters"])
    assert all(parameters[name] for name in stage_variables(TEMPLATE))


def test_names_are_typed_once_in_the_template_as_parameters():
    text = json.dumps(TEMPLATE["Resources"])
    for stage in STAGES:
        assert f"chalice-ref-{stage}" not in text


def test_a_missing_stage_variable_is_named():
    environment = {**stage_environment("prod", PROJECT_DIR), "RESOURCES": "{}"}
    environment.pop("BLOBS_DLQ")
    with pytest.raises(ConfigurationError, match="BLOBS_DLQ must be set"):
        stack_parameters(TEMPLATE, environment)
    environment["BLOBS_DLQ"] = "dlq"
    with pytest.raises(ConfigurationError, match=r"RESOURCES has no users\.table"):
        stack_parameters(TEMPLATE, environment)


def test_outputs_are_recorded_into_the_variables_their_parameters_come_from():
    environment = stage_environment("prod", PROJECT_DIR)
    assert recorded_environment(TEMPLATE, {"BlobsBucketName": environment["BLOBS_BUCKET"]},
                                environment) == {}
    changes = recorded_environment(TEMPLATE, {"BlobsBucketName": "renamed-blobs",
                                              "UsersTableName": "renamed-users"}, environment)
    assert changes["BLOBS_BUCKET"] == "renamed-blobs"
    assert json.loads(changes["RESOURCES"])["users"] == {"backend": "dynamodb",
                                                         "table": "renamed-users"}


def test_the_callback_secret_is_a_securestring_of_the_stage():
    parameters = stack_parameters(TEMPLATE, stage_environment("prod", PROJECT_DIR))
    [secret] = secure_parameters(TEMPLATE, parameters)
    assert secret.name == stage_environment("prod", PROJECT_DIR)["CALLBACK_SECRET_PARAMETER"]


def test_resolve_replaces_refs_attributes_and_substitutions():
    value = {"A": {"Ref": "P"}, "B": [{"Fn::GetAtt": ["Q", "Arn"]}],
             "C": {"Fn::Sub": "arn:aws:s3:::${P}/${AWS::AccountId}/${Q.Arn}"}}
    resolved = resolve(value, lambda name: {"P": "p", "AWS::AccountId": "1"}[name],
                       lambda logical_id, attribute: f"{logical_id}-{attribute}")
    assert resolved == {"A": "p", "B": ["Q-Arn"], "C": "arn:aws:s3:::p/1/Q-Arn"}
