"""`make deploy STAGE=prod` against the local emulator, as far as it goes.

The resources stack, the recorded outputs, the uploaded models and the
regenerated policy all happen; then `chalice deploy` creates the role with
that policy, the layer and the function, and stops at the API: moto's
ImportRestApi rejects Chalice's swagger (its ``info`` has no ``description``).
"""

from __future__ import annotations

import json
import sys

import boto3
import pytest

from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION
from stack.policy import policy_path, stage_environment

APP_NAME = "chalice-reference-api"


def client(emulator, service: str):
    return boto3.session.Session(region_name=LOCAL_REGION, **{
        key.lower(): value for key, value in LOCAL_CREDENTIALS.items()}).client(
        service, endpoint_url=emulator.endpoint_url)


@pytest.fixture(scope="module")
def project_dir(lambda_package, deployed):
    return lambda_package.project_dir


def test_the_stages_models_are_uploaded_and_recorded(deployed, project_dir, emulator):
    environment = stage_environment("prod", project_dir)
    bucket = environment["MODEL_BUCKET"]
    keys = sorted(item["Key"] for item in client(emulator, "s3").list_objects_v2(
        Bucket=bucket)["Contents"])
    assert keys == ["classifier.json", "classifier.onnx", "detector.json",
                    "detector.onnx"]
    assert (environment["CLASSIFIER_MODEL"], environment["DETECTOR_MODEL"]) == (
        f"s3://{bucket}/classifier.json", f"s3://{bucket}/detector.json")


def test_the_policy_is_regenerated_for_the_recorded_models(deployed, project_dir):
    policy = json.loads(policy_path("prod", project_dir).read_text())
    bucket = stage_environment("prod", project_dir)["MODEL_BUCKET"]
    resources = {arn for statement in policy["Statement"]
                 for arn in statement["Resource"]}
    assert f"arn:aws:s3:::{bucket}/*" in resources


def test_deploy_creates_roles_with_the_generated_policy(deployed, project_dir, emulator):
    iam = client(emulator, "iam")
    roles = [role["RoleName"] for role in iam.list_roles()["Roles"]
             if role["RoleName"].startswith(f"{APP_NAME}-prod")]
    assert roles
    for role in roles:  # one per function
        [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)[
            "PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == json.loads(policy_path("prod", project_dir).read_text())


def test_deploy_creates_the_function_with_the_recorded_environment(deployed, project_dir,
                                                                   emulator):
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    prod = config["stages"]["prod"]
    function = client(emulator, "lambda").get_function_configuration(
        FunctionName=f"{APP_NAME}-prod")
    assert function["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert function["Handler"] == "app.app"
    assert (function["MemorySize"], function["Timeout"]) == (prod["lambda_memory_size"],
                                                             prod["lambda_timeout"])
    assert function["Environment"]["Variables"] == stage_environment("prod", project_dir)
    [layer] = function["Layers"]
    assert f"{APP_NAME}-prod-managed-layer" in layer["Arn"]


def test_deploy_runs_every_step_and_stops_only_at_the_emulators_api_import(deployed):
    output = deployed.stdout + deployed.stderr
    steps = ["2. resources stack", "3. models uploaded", "4. recorded into",
             "5. policy", "6. chalice deploy", "Creating lambda function"]
    positions = [output.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), output[-3000:]
    assert deployed.returncode != 0
    assert "when calling the ImportRestApi operation" in output, output[-2000:]


def test_step_7_turns_on_partial_batch_responses_where_chalice_left_them_off(
        deployed, project_dir, emulator):
    from stack.deploy import report_batch_item_failures

    lambda_client, sqs = client(emulator, "lambda"), client(emulator, "sqs")
    prod = stage_environment("prod", project_dir)
    # chalice deploy created the queue handlers' functions, then moto stopped
    # it at the API before their event source mappings: those are made here
    # as Chalice makes them (the stage's queues, no FunctionResponseTypes).
    for name, queue in (("handle_blob_event", prod["BLOBS_QUEUE"]),
                        ("handle_dead_blob_event", prod["BLOBS_DLQ"])):
        function = f"{APP_NAME}-prod-{name}"
        arn = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lambda_client.create_event_source_mapping(EventSourceArn=arn, FunctionName=function,
                                                  BatchSize=5)

    def mappings():
        return [mapping for name in ("handle_blob_event", "handle_dead_blob_event")
                for mapping in lambda_client.list_event_source_mappings(
                    FunctionName=f"{APP_NAME}-prod-{name}")["EventSourceMappings"]]

    before = mappings()
    assert len(before) == 2 and not any(m.get("FunctionResponseTypes") for m in before)
    updated = report_batch_item_failures(lambda_client, project_dir, "prod")
    assert sorted(updated) == sorted(mapping["UUID"] for mapping in before)
    assert all(mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
               for mapping in mappings())
    # A second deploy finds them set and changes nothing.
    assert sorted(report_batch_item_failures(lambda_client, project_dir, "prod")) == sorted(
        updated)
