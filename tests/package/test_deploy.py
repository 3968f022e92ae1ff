"""`python -m stack provision --stage prod` then `chalice deploy --stage prod`,
against the local emulator as far as it goes.

moto's ImportRestApi rejects Chalice's swagger (its ``info`` has no
``description``), so the deploy stops at the API; everything before it --
the role with the generated policy, the layer, the function and its
configuration -- is created and checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION
from stack.policy import policy_path, stage_environment
from stack.provision import plan_for_stage
from tests.package.conftest import PROJECT_DIR

APP_NAME = "chalice-reference-api"


def aws_environment(emulator) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("AWS_")}
    return {**environment, **LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ENDPOINT_URL": emulator.endpoint_url}


def client(emulator, service: str):
    return boto3.session.Session(region_name=LOCAL_REGION, **{
        key.lower(): value for key, value in LOCAL_CREDENTIALS.items()}).client(
        service, endpoint_url=emulator.endpoint_url)


@pytest.fixture(scope="module")
def deployed(lambda_package, emulator) -> subprocess.CompletedProcess:
    environment = aws_environment(emulator)
    for _ in range(2):  # provisioning twice changes nothing the second time
        subprocess.run([sys.executable, "-m", "stack", "provision", "--stage", "prod"],
                       cwd=PROJECT_DIR, env=environment, check=True, capture_output=True)
    chalice = Path(sys.executable).with_name("chalice")
    return subprocess.run([str(chalice), "deploy", "--stage", "prod"],
                          cwd=lambda_package.project_dir, env=environment,
                          capture_output=True, text=True, timeout=300)


def test_provisioning_creates_every_planned_resource(deployed, emulator):
    plan = plan_for_stage(stage_environment("prod"))
    s3, dynamodb, sqs = (client(emulator, name) for name in ("s3", "dynamodb", "sqs"))
    for bucket in plan.buckets:
        s3.head_bucket(Bucket=bucket)
    for table in plan.tables:
        assert dynamodb.describe_table(TableName=table.name)["Table"]["TableStatus"] == \
            "ACTIVE"
    for queue in plan.queues:
        sqs.get_queue_url(QueueName=getattr(queue, "name", queue))


def test_deploy_creates_roles_with_the_generated_policy(deployed, emulator):
    iam = client(emulator, "iam")
    roles = [role["RoleName"] for role in iam.list_roles()["Roles"]
             if role["RoleName"].startswith(f"{APP_NAME}-prod")]
    assert roles
    for role in roles:  # one per function
        [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)[
            "PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        assert document == json.loads(policy_path("prod").read_text())


def test_deploy_creates_the_function_as_configured(deployed, emulator):
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    prod = config["stages"]["prod"]
    function = client(emulator, "lambda").get_function_configuration(
        FunctionName=f"{APP_NAME}-prod")
    assert function["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert function["Handler"] == "app.app"
    assert (function["MemorySize"], function["Timeout"]) == (prod["lambda_memory_size"],
                                                             prod["lambda_timeout"])
    assert function["Environment"]["Variables"] == stage_environment("prod")
    [layer] = function["Layers"]
    assert f"{APP_NAME}-prod-managed-layer" in layer["Arn"]


def test_deploy_stops_only_at_the_emulators_api_import(deployed):
    assert deployed.returncode != 0
    output = deployed.stdout + deployed.stderr
    assert "Creating lambda function" in output
    assert "when calling the ImportRestApi operation" in output, output[-2000:]
