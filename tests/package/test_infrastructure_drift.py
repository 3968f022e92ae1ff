"""Every path that builds a stage's resources builds what resources.json declares.

`make run` (dev, the emulator), `make deploy STAGE=prod` (a resources stack,
then chalice deploy) and `make package` + `aws cloudformation deploy` (the
merged template) are each compared, resource by resource, with the template
resolved for the stage: names, timeouts, retention, redrive, the queue
policy, the bucket's notification, CORS rule and protection, the tables'
keys, indexes, billing and point-in-time recovery, the SecureString.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import boto3
import pytest

from stack.emulated import complete_stack
from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION, free_port, wait_for_port
from stack.policy import stage_environment
from stack.provision import deploy_stack, ensure_secret_parameter
from stack.run import _EndpointSession
from stack.template import load_template, secure_parameters, stack_parameters
from tests.package.conftest import PROJECT_DIR, aws_environment, stand_in_models
from tests.support.infrastructure import declared, observed

TEMPLATE = load_template(PROJECT_DIR)


def session(endpoint_url: str) -> _EndpointSession:
    return _EndpointSession(boto3.session.Session(region_name=LOCAL_REGION, **{
        key.lower(): value for key, value in LOCAL_CREDENTIALS.items()}), endpoint_url)


def clients(endpoint_url: str):
    return session(endpoint_url).client


def client(service: str, endpoint_url: str):
    return session(endpoint_url).client(service)


def test_make_run_builds_the_dev_stage_as_declared(stage_environment, emulator):
    parameters = stack_parameters(TEMPLATE, stage_environment)
    assert observed(clients(emulator.endpoint_url), TEMPLATE, parameters) == declared(
        TEMPLATE, parameters)


def test_make_deploy_builds_the_prod_stage_as_declared(deployed, lambda_package, emulator):
    parameters = stack_parameters(TEMPLATE, stage_environment("prod",
                                                              lambda_package.project_dir))
    assert observed(clients(emulator.endpoint_url), TEMPLATE, parameters) == declared(
        TEMPLATE, parameters)


@pytest.fixture(scope="module")
def separate_emulator() -> Iterator[str]:
    """A moto server process of its own: the prod names are taken in the shared one."""
    import sys
    from pathlib import Path

    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")),
                               "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_packaged_template_carries_resources_json_with_the_stage_values(lambda_package):
    packaged = json.loads(lambda_package.template.read_text())
    for logical_id, resource in TEMPLATE["Resources"].items():
        assert packaged["Resources"][logical_id] == resource, logical_id
    assert packaged["Metadata"] == TEMPLATE["Metadata"]
    defaults = {name: parameter["Default"]
                for name, parameter in packaged["Parameters"].items()}
    assert defaults == stack_parameters(TEMPLATE, stage_environment("prod"))


def test_the_packaged_template_builds_the_prod_stage_as_declared(lambda_package,
                                                                 separate_emulator):
    # moto implements no SAM transform (it answers 500 to Chalice's functions
    # and API), so the emulator creates resources.json's part of sam.json, as
    # `aws cloudformation deploy` would: a change set, then its execution.
    packaged = json.loads(lambda_package.template.read_text())
    part = {"Metadata": packaged["Metadata"], "Parameters": packaged["Parameters"],
            "Resources": {logical_id: packaged["Resources"][logical_id]
                          for logical_id in TEMPLATE["Resources"]}}
    aws = clients(separate_emulator)
    parameters = {name: parameter["Default"]
                  for name, parameter in packaged["Parameters"].items()}
    for parameter in secure_parameters(TEMPLATE, parameters):  # docs: created first
        ensure_secret_parameter(aws("ssm"), parameter)
    cloudformation = aws("cloudformation")
    cloudformation.create_change_set(StackName="chalice-reference-api-prod",
                                     ChangeSetName="packaged", ChangeSetType="CREATE",
                                     TemplateBody=json.dumps(part),
                                     Capabilities=["CAPABILITY_IAM"])
    cloudformation.execute_change_set(StackName="chalice-reference-api-prod",
                                      ChangeSetName="packaged")
    complete_stack(session(separate_emulator), part, parameters, "chalice-reference-api-prod")
    assert observed(aws, TEMPLATE, parameters) == declared(TEMPLATE, parameters)


def test_after_the_packaged_stack_the_models_are_uploaded_to_its_bucket(
        lambda_package, separate_emulator, tmp_path):
    import sys

    bucket = stage_environment("prod")["MODEL_BUCKET"]
    s3 = client("s3", separate_emulator)
    if bucket not in {item["Name"] for item in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)  # as the packaged stack does
    result = subprocess.run(
        [sys.executable, "-m", "stack", "upload-models", "--stage", "prod",
         "--models", str(stand_in_models(tmp_path / "models"))],
        cwd=PROJECT_DIR, env=aws_environment(separate_emulator), capture_output=True,
        text=True, check=True)
    assert result.stdout.splitlines() == [f"CLASSIFIER_MODEL=s3://{bucket}/classifier.json",
                                          f"DETECTOR_MODEL=s3://{bucket}/detector.json"]
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["classifier.json", "classifier.onnx", "detector.json",
                    "detector.onnx"]


def test_moto_skips_exactly_what_stack_emulated_applies(emulator, stage_environment):
    # If moto's CloudFormation learns one of these, stack/emulated.py can drop it.
    parameters = stack_parameters(TEMPLATE, stage_environment)
    for name in ("BlobsBucketName", "BlobsTableName", "BlobsQueueName", "UsersTableName",
                 "BlobsDeadLetterQueueName", "ModelBucketName", "CallbackSecretParameterName"):
        parameters[name] += "-bare"
    aws = session(emulator.endpoint_url)
    for parameter in secure_parameters(TEMPLATE, parameters):
        ensure_secret_parameter(aws.client("ssm"), parameter)
    deploy_stack(aws.client("cloudformation"), "moto-bare", TEMPLATE, parameters)
    created = observed(aws.client, TEMPLATE, parameters)
    wanted = declared(TEMPLATE, parameters)
    skipped = {logical_id: sorted(key for key in wanted[logical_id]
                                  if created[logical_id][key] != wanted[logical_id][key])
               for logical_id in wanted if created[logical_id] != wanted[logical_id]}
    assert skipped == {
        "BlobsBucket": ["cors", "notifications", "public_access_block"],
        "ModelBucket": ["public_access_block", "versioning"],
        "BlobEventsQueuePolicy": ["grant"],
        "BlobsTable": ["recovery"],
        "UsersTable": ["recovery"],
    }
