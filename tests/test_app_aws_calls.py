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


@pytest.mark.after_all
def test_every_aws_call_the_app_made_is_allowed_by_the_generated_policy(aws_calls_log):
    calls = list(read_calls(aws_calls_log))
    assert any(call["params"] == CANARY and call["presigned"] for call in calls), (
        "the AWS call recorder recorded nothing: is the botocore plugin loaded?")
    committed = json.loads(policy_path("prod").read_text())
    # The tests run the dev stage: its own names scope the same grants.
    dev = build_policy("dev", environment=stage_environment("dev"))
    refused: dict[str, set[str]] = {}
    app_calls = [call for call in calls if call["origin"] == "app"]
    for call in app_calls:
        action = iam_action(call["service"], call["operation"], call["presigned_post"])
        arns = resource_arns(call["service"], call["params"])
        if not allows(committed, action) or not allows(dev, action, arns):
            refused.setdefault(action, set()).update(
                [f"{call['site'].rsplit(':', 1)[0]} on {arn}" for arn in arns[:1]]
                or [call["site"].rsplit(":", 1)[0]])
    print(f"\n{len(app_calls)} AWS calls by the app, "
          f"{len({call['operation'] for call in app_calls})} operations, checked")
    assert {action: sorted(sites)[:2] for action, sites in refused.items()} == {}, (
        "declare these in the calling module's IAM_GRANTS, then run `make policy`")
