import json
import os
import re
import subprocess
import sys

import pytest
from chalice import Chalice

from chalicelib import iam
from stack.policy import (
    allows,
    build_policy,
    iam_action,
    platform_grants,
    policy_path,
    render,
    resource_arns,
    sqs_sources,
    stage_environment,
)
from tests.support import aws_calls

PROD = json.loads(policy_path("prod").read_text())


def test_committed_policy_is_what_make_policy_generates():
    assert policy_path("prod").read_text() == render(build_policy("prod")), (
        "the policy is stale: run `make policy` and commit .chalice/policy-prod.json")


def assert_scoped_to_stage_names(policy, environment):
    names = {value for name, value in environment.items() if name.startswith("BLOBS_")}
    names |= {spec["table"] for spec in json.loads(environment.get("RESOURCES", "{}")
                                                     ).values() if "table" in spec}
    names |= {value.removeprefix("s3://").split("/")[0] for name, value in environment.items()
              if name.endswith("_MODEL") and value.startswith("s3://")}
    for statement in policy["Statement"]:
        services = {action.split(":")[0] for action in statement["Action"]}
        if services & {"s3", "dynamodb", "sqs"}:
            for resource in statement["Resource"]:
                assert resource != "*" and any(
                    re.search(rf"[:/]{re.escape(name)}(/|$)", resource) for name in names
                ), resource


def test_no_wildcard_resource_for_s3_dynamodb_or_sqs():
    assert_scoped_to_stage_names(PROD, stage_environment("prod"))


def test_declared_grants_become_statements_on_the_stage_names(monkeypatch):
    grants = [("chalicelib.uploads", iam.Grant(
                  ("s3:PutObject", "s3:GetObject"),
                  iam.s3_objects("BLOBS_BUCKET", prefix="uploads/"))),
              ("chalicelib.uploads", iam.Grant(("dynamodb:PutItem", "dynamodb:Query"),
                                               iam.dynamodb_table("BLOBS_TABLE", True))),
              ("chalicelib.resources", iam.Grant(("dynamodb:GetItem",),
                                                 iam.dynamodb_resource_tables())),
              ("chalicelib.uploads", iam.Grant(("sqs:SendMessage",),
                                               iam.sqs_queue("BLOBS_QUEUE"))),
              ("chalicelib.prediction", iam.Grant(("s3:GetObject",),
                                                  iam.s3_uri_objects("CLASSIFIER_MODEL")))]
    monkeypatch.setattr("stack.policy.declared_grants", lambda: grants)
    environment = stage_environment("prod")
    policy = build_policy("prod", environment=environment)
    assert_scoped_to_stage_names(policy, environment)
    bucket, table = environment["BLOBS_BUCKET"], environment["BLOBS_TABLE"]
    assert allows(policy, "s3:PutObject", [f"arn:aws:s3:::{bucket}/uploads/abc"])
    assert not allows(policy, "s3:PutObject", [f"arn:aws:s3:::{bucket}/other"])
    assert allows(policy, "dynamodb:Query",
                  [f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/index/by-created"])
    assert not allows(policy, "dynamodb:DeleteItem", [f"arn:aws:dynamodb:*:*:table/{table}"])
    users = json.loads(environment["RESOURCES"])["users"]["table"]
    assert allows(policy, "dynamodb:GetItem", [f"arn:aws:dynamodb:*:*:table/{users}"])
    # Prod models live in the stage's model bucket: read-only, nothing else there.
    models_bucket = environment["CLASSIFIER_MODEL"].removeprefix("s3://").split("/")[0]
    assert allows(policy, "s3:GetObject", [f"arn:aws:s3:::{models_bucket}/classifier.onnx"])
    assert not allows(policy, "s3:PutObject", [f"arn:aws:s3:::{models_bucket}/classifier.onnx"])
    declared = [statement for statement in policy["Statement"]
                if not statement["Sid"].startswith(("Lambda", "SqsSource"))]
    assert len(declared) == 5


def test_prod_stage_uses_the_generated_policy_file():
    config = json.loads((policy_path("prod").parent / "config.json").read_text())
    prod = config["stages"]["prod"]
    assert prod["autogen_policy"] is False
    assert prod["iam_policy_file"] == policy_path("prod").name


def test_lambda_may_write_only_its_own_logs():
    logs = [statement for statement in PROD["Statement"]
            if any(action.startswith("logs:") for action in statement["Action"])]
    assert logs and all(resource.startswith(
        "arn:aws:logs:*:*:log-group:/aws/lambda/chalice-reference-api-prod")
        for statement in logs for resource in statement["Resource"])


@pytest.mark.parametrize("service, operation, presigned_post, action", [
    ("s3", "PutObject", False, "s3:PutObject"),
    ("s3", "HeadObject", False, "s3:GetObject"),
    ("s3", "ListObjectsV2", False, "s3:ListBucket"),
    ("s3", "CreateBucket", True, "s3:PutObject"),
    ("dynamodb", "Query", False, "dynamodb:Query"),
    ("sqs", "SendMessage", False, "sqs:SendMessage"),
])
def test_iam_action_of_a_call(service, operation, presigned_post, action):
    assert iam_action(service, operation, presigned_post) == action


def test_resource_arns_of_a_call():
    assert resource_arns("s3", {"Bucket": "b", "Key": "uploads/x"}) == (
        "arn:aws:s3:::b/uploads/x",)
    assert resource_arns("dynamodb", {"TableName": "t"}) == ("arn:aws:dynamodb:*:*:table/t",)
    assert resource_arns("sqs", {"QueueUrl": "http://h/123/q"}) == ("arn:aws:sqs:*:*:q",)
    assert resource_arns("ssm", {"Name": "/app/secret"}) == (
        "arn:aws:ssm:*:*:parameter/app/secret",)


def test_allows_matches_action_and_every_resource():
    policy = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"],
                             "Resource": ["arn:aws:s3:::b/uploads/*"]}]}
    assert allows(policy, "s3:GetObject", ["arn:aws:s3:::b/uploads/k"])
    assert not allows(policy, "s3:GetObject", ["arn:aws:s3:::b/other/k"])
    assert not allows(policy, "s3:PutObject", ["arn:aws:s3:::b/uploads/k"])
    assert not allows(policy, "s3:GetObject", ["arn:aws:s3:::b/uploads/k",
                                               "arn:aws:s3:::other/uploads/k"])


def test_resolvers_scope_grants_to_the_stage_names():
    environment = {"BUCKET": "blobs", "TABLE": "records", "QUEUE": "events",
                   "MODEL": "s3://models/net.json", "LOCAL_MODEL": "chalicelib/m.json",
                   "RESOURCES": json.dumps({"users": {"backend": "dynamodb",
                                                      "table": "users"},
                                            "mocks": {"backend": "memory"}})}
    assert iam.s3_objects("BUCKET", prefix="uploads/")(environment) == (
        "arn:aws:s3:::blobs/uploads/*",)
    assert iam.dynamodb_table("TABLE", indexes=True)(environment) == (
        "arn:aws:dynamodb:*:*:table/records", "arn:aws:dynamodb:*:*:table/records/index/*")
    assert iam.dynamodb_resource_tables()(environment) == ("arn:aws:dynamodb:*:*:table/users",)
    assert iam.sqs_queue("QUEUE")(environment) == ("arn:aws:sqs:*:*:events",)
    # A manifest's .onnx sits beside it: the grant is on the manifest's folder.
    assert iam.s3_uri_objects("MODEL", "LOCAL_MODEL")(environment) == (
        "arn:aws:s3:::models/*",)
    assert iam.sqs_queue("UNSET")(environment) == ()


def test_sqs_handlers_get_only_their_own_queue_to_poll():
    app = Chalice("probe")

    @app.on_sqs_message(queue="probe-queue")
    def handle_probe(event):
        return None

    grants = dict(platform_grants(sqs_sources(app), "probe", "prod"))
    polling = grants["sqs-source-handle_probe"]
    assert polling.resource({}) == ("arn:aws:sqs:*:*:probe-queue",)
    assert "sqs:ReceiveMessage" in polling.actions and "sqs:SendMessage" not in polling.actions


def test_recorder_sees_presigned_urls_in_child_processes(tmp_path):
    log = tmp_path / "calls.jsonl"
    environment = dict(os.environ)
    environment.update({"BOTOCORE_EXPERIMENTAL__PLUGINS": aws_calls.PLUGIN,
                        aws_calls.LOG_VARIABLE: str(log)})
    code = ("import boto3; boto3.session.Session(aws_access_key_id='a', "
            "aws_secret_access_key='b', region_name='us-east-1').client('s3')"
            ".generate_presigned_url('put_object', Params={'Bucket': 'b', 'Key': 'k'})")
    child = subprocess.Popen([sys.executable, "-c", code], env=environment,
                             cwd=str(aws_calls.PROJECT_DIR))
    assert child.wait(timeout=60) == 0
    [call] = list(aws_calls.read_calls(log))
    assert (call["pid"], call["service"], call["operation"], call["presigned"]) == (
        child.pid, "s3", "PutObject", True)
    assert iam_action(call["service"], call["operation"]) == "s3:PutObject"


def test_recorder_sees_the_key_of_presigned_posts(tmp_path, monkeypatch):
    import boto3

    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv(aws_calls.LOG_VARIABLE, str(log))
    monkeypatch.setenv("BOTOCORE_EXPERIMENTAL__PLUGINS", aws_calls.PLUGIN)
    s3 = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b",
                               region_name="us-east-1").client("s3")
    s3.generate_presigned_post("bucket", "uploads/${filename}")
    [call] = list(aws_calls.read_calls(log))
    assert call["presigned_post"] and call["params"] == {"Bucket": "bucket",
                                                         "Key": "uploads/${filename}"}
    assert iam_action("s3", call["operation"], call["presigned_post"]) == "s3:PutObject"
    assert resource_arns("s3", call["params"]) == ("arn:aws:s3:::bucket/uploads/${filename}",)


def test_calls_are_attributed_to_the_project_code_that_made_them():
    root = aws_calls.PROJECT_DIR
    assert aws_calls.origin_of(str(root / "chalicelib" / "uploads.py")) == "app"
    assert aws_calls.origin_of(str(root / "app.py")) == "app"
    assert aws_calls.origin_of(str(root / "stack" / "provision.py")) == "stack"
    assert aws_calls.origin_of(str(root / "tests" / "conftest.py")) == "tests"
    assert aws_calls.origin_of(boto3_file()) is None


def boto3_file():
    import boto3
    return boto3.__file__


def test_switched_grants_follow_their_stage_switch():
    grant = iam.only_when("LABELLER", "rekognition", iam.any_resource())
    assert grant({"LABELLER": "rekognition"}) == ("*",)
    assert grant({"LABELLER": "classifier"}) == ()
