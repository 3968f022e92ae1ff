"""The CloudFormation template `make package` writes: the whole stack, lint-clean."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from chalice import IAMAuthorizer

from chalicelib.prediction.images import RAW_IMAGE_TYPES
from stack.policy import policy_path, stage_environment
from tests.package.conftest import build, copy_project

PROD = stage_environment("prod")
PROBE_ROUTE = "/packaging-probe"
# An IAM-secured route and an SQS handler of its own, added to a copy of the
# app, so the template checks do not hang on which routes the app has today.
PROBE_CODE = f'''

from chalice import IAMAuthorizer as _ProbeIAMAuthorizer


@app.route("{PROBE_ROUTE}", methods=["GET"], authorizer=_ProbeIAMAuthorizer())
def packaging_probe() -> dict:
    return {{}}


@app.on_sqs_message(queue="{PROD['BLOBS_QUEUE']}")
def packaging_probe_events(event) -> None:
    return None
'''


@pytest.fixture(scope="module")
def probe_template(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("probe")
    project_dir = copy_project(root / "project", extra_app_code=PROBE_CODE)
    try:
        build(project_dir, root / "package", vendor=False)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"chalice package failed:\n{error.stdout}\n{error.stderr}")
    return json.loads((root / "package" / "sam.json").read_text())


@pytest.fixture(scope="module")
def template(lambda_package) -> dict:
    return json.loads(lambda_package.template.read_text())


def lint_errors(template_path: Path) -> list[str]:
    from cfnlint.api import lint_file

    return [str(match) for match in lint_file(template_path)
            if match.rule.id.startswith("E")]


def test_cfn_lint_finds_no_error_in_the_packaged_template(lambda_package):
    assert lint_errors(lambda_package.template) == []


def test_cfn_lint_finds_no_error_with_iam_routes_and_sqs_handlers(probe_template, tmp_path):
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(probe_template))
    assert lint_errors(path) == []


def swagger(template: dict) -> dict:
    return template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]


def test_api_takes_multipart_and_image_bodies_as_binary(template):
    media_types = swagger(template)["x-amazon-apigateway-binary-media-types"]
    assert {"multipart/form-data", *RAW_IMAGE_TYPES} <= set(media_types)


def test_iam_routes_require_sigv4_and_the_others_do_not(probe_template):
    from app import app

    iam_routes = {(PROBE_ROUTE, "get")} | {
        (path, method.lower()) for path, methods in app.routes.items()
        for method, entry in methods.items() if isinstance(entry.authorizer, IAMAuthorizer)}
    definition = swagger(probe_template)
    sigv4 = {name for name, scheme in definition.get("securityDefinitions", {}).items()
             if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    for path, operations in definition["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                continue
            schemes = {name for entry in operation.get("security", []) for name in entry}
            assert (schemes & sigv4 != set()) == ((path, method) in iam_routes), (path, method)


def test_the_stack_holds_bucket_queue_dlq_tables_and_their_wiring(template):
    resources = template["Resources"]
    defaults = {name: parameter["Default"]
                for name, parameter in template["Parameters"].items()}
    assert {name: defaults[name] for name in ("BlobsBucketName", "BlobsTableName",
                                              "BlobsQueueName", "BlobsDeadLetterQueueName",
                                              "UsersTableName", "BlobsVisibilityTimeout")} == {
        "BlobsBucketName": PROD["BLOBS_BUCKET"], "BlobsTableName": PROD["BLOBS_TABLE"],
        "BlobsQueueName": PROD["BLOBS_QUEUE"], "BlobsDeadLetterQueueName": PROD["BLOBS_DLQ"],
        "UsersTableName": json.loads(PROD["RESOURCES"])["users"]["table"],
        "BlobsVisibilityTimeout": PROD["BLOBS_VISIBILITY_TIMEOUT"]}
    [notification] = resources["BlobsBucket"]["Properties"]["NotificationConfiguration"][
        "QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": ["BlobEventsQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix",
                                                         "Value": "uploads/"}]
    assert "BlobEventsQueuePolicy" in resources["BlobsBucket"]["DependsOn"]
    [statement] = resources["BlobEventsQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"]
    assert (statement["Principal"], statement["Action"]) == (
        {"Service": "s3.amazonaws.com"}, "sqs:SendMessage")
    redrive = resources["BlobEventsQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["BlobEventsDeadLetterQueue", "Arn"]}
    assert resources["BlobsTable"]["Properties"]["TableName"] == {"Ref": "BlobsTableName"}
    assert resources["UsersTable"]["Properties"]["TableName"] == {"Ref": "UsersTableName"}
    assert resources["APIHandler"]["Type"] == "AWS::Serverless::Function"
    assert resources["RestAPI"]["Type"] == "AWS::Serverless::Api"


def test_the_role_carries_the_committed_policy(template):
    role = template["Resources"]["DefaultRole"] if "DefaultRole" in template[
        "Resources"] else template["Resources"]["ApiHandlerRole"]
    [policy] = role["Properties"]["Policies"]
    assert policy["PolicyDocument"] == json.loads(policy_path("prod").read_text())


def test_sqs_handlers_wait_for_their_queue_and_poll_it(probe_template):
    function = probe_template["Resources"]["PackagingProbeEvents"]
    assert "BlobEventsQueue" in function["DependsOn"]
    [event] = function["Properties"]["Events"].values()
    assert event["Type"] == "SQS"
    assert PROD["BLOBS_QUEUE"] in json.dumps(event["Properties"]["Queue"])
