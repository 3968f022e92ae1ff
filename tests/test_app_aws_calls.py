"""Every AWS call the app made during this test run is allowed by the IAM policy.

Runs last (``after_all``): by then the functional tests and the e2e local
stack have exercised the app's routes and handlers against the emulator.
"""

import json

import pytest

from stack.policy import (
    allows,
    build_policy,
    iam_action,
    policy_path,
    resource_arns,
    stage_environment,
)
from tests.support.aws_calls import read_calls
from tests.support.policy_check import CANARY

SWITCHES = {"LABELLER": "rekognition"}
TEST_ONLY_TABLES = "arn:aws:dynamodb:*:*:table/contract-"
# The model store's tests fetch models from buckets of their own (the dev
# stage loads its models from the package, so it has no model bucket to scope).
TEST_ONLY_MODEL_BUCKETS = "arn:aws:s3:::test-models-"


@pytest.mark.after_all
def test_every_aws_call_the_app_made_is_allowed_by_the_generated_policy(aws_calls_log):
    calls = list(read_calls(aws_calls_log))
    assert any(call["params"] == CANARY and call["presigned"] for call in calls), (
        "the AWS call recorder recorded nothing: is the botocore plugin loaded?")
    # Some grants follow a stage switch (LABELLER=rekognition adds Rekognition);
    # the tests exercise every switch, so the policies are built with all on.
    committed = json.loads(policy_path("prod").read_text())
    prod_switched = build_policy("prod", environment={**stage_environment("prod"), **SWITCHES})
    # The tests run the dev stage: its own names scope the same grants.  Its
    # models are files, except where the docs run them from its model bucket,
    # as `make upload-model` puts them there (docs/bring-your-own-models.md).
    dev_environment = stage_environment("dev")
    dev_models = {f"{kind.upper()}_MODEL":
                  f"s3://{dev_environment['MODEL_BUCKET']}/{kind}/{kind}.json"
                  for kind in ("classifier", "detector")}
    dev = build_policy("dev", environment={**dev_environment, **SWITCHES, **dev_models})
    refused: dict[str, set[str]] = {}
    app_calls = [call for call in calls if call["origin"] == "app"]
    for call in app_calls:
        action = iam_action(call["service"], call["operation"], call["presigned_post"])
        # Contract tests drive the adapters against tables of their own; only
        # the stage's resources say anything about the policy's scoping.
        arns = [arn for arn in resource_arns(call["service"], call["params"])
                if not arn.startswith((TEST_ONLY_TABLES, TEST_ONLY_MODEL_BUCKETS))]
        deployed = allows(committed, action) or allows(prod_switched, action)
        if not deployed or not allows(dev, action, arns):
            refused.setdefault(action, set()).update(
                [f"{call['site'].rsplit(':', 1)[0]} on {arn}" for arn in arns[:1]]
                or [call["site"].rsplit(":", 1)[0]])
    print(f"\n{len(app_calls)} AWS calls by the app, "
          f"{len({call['operation'] for call in app_calls})} operations, checked")
    assert {action: sorted(sites)[:2] for action, sites in refused.items()} == {}, (
        "declare these in the calling module's IAM_GRANTS, then run `make policy`")
