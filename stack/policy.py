"""The stage's least-privilege IAM policy, generated from the code.

Chalice's own policy generator reads only app.py, misses boto3 resources,
chalicelib and presigned URLs, and writes ``Resource: "*"``.  Instead every
chalicelib module declares ``IAM_GRANTS`` (see ``chalicelib/iam.py``); this
module collects them, adds what Lambda itself needs for the app's functions
(logs, polling the SQS queues of ``@app.on_sqs_message`` handlers), resolves
resource names from the stage's environment in ``.chalice/config.json`` and
writes ``.chalice/policy-<stage>.json``::

    python -m stack policy --stage prod        # make policy

The helpers below (``iam_action``, ``resource_arns``, ``allows``) also let the
test suite check every AWS call it recorded against the generated policy.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chalicelib import iam

PROJECT_DIR = Path(__file__).resolve().parent.parent
POLICY_STAGES = ("prod",)

# S3 operations whose IAM action is not named after the operation.
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "DeleteObjects": "DeleteObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "GetObjectAttributes": "GetObject",
}
_SQS_POLLING = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def policy_path(stage: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Where the committed policy of ``stage`` lives (Chalice's iam_policy_file)."""
    return project_dir / ".chalice" / f"policy-{stage}.json"


def declared_grants() -> list[tuple[str, iam.Grant]]:
    """Every ``IAM_GRANTS`` entry of every chalicelib module, with its module name."""
    import chalicelib

    grants = []
    for module_info in sorted(pkgutil.walk_packages(chalicelib.__path__, "chalicelib."),
                              key=lambda info: info.name):
        module = importlib.import_module(module_info.name)
        for grant in getattr(module, "IAM_GRANTS", ()):
            grants.append((module_info.name, grant))
    return grants


def platform_grants(sqs_sources: list[tuple[str, str]], app_name: str,
                    stage: str) -> list[tuple[str, iam.Grant]]:
    """What Lambda needs for the app's functions: their logs and their SQS queues.

    ``sqs_sources`` are (function name, queue ARN) pairs, see :func:`sqs_sources`.
    """
    logs = iam.Grant(_LOG_ACTIONS, lambda environment: (
        f"arn:aws:logs:*:*:log-group:/aws/lambda/{app_name}-{stage}*",))
    grants = [("lambda", logs)]
    for name, arn in sqs_sources:
        grants.append((f"sqs-source-{name}",
                       iam.Grant(_SQS_POLLING, lambda environment, arn=arn: (arn,))))
    return grants


def sqs_sources(app: Any) -> list[tuple[str, str]]:
    """(function name, queue ARN) of every ``@app.on_sqs_message`` handler of ``app``."""
    from chalice.app import SQSEventConfig

    return [(source.name, source.queue_arn or f"arn:aws:sqs:*:*:{source.queue}")
            for source in app.event_sources if isinstance(source, SQSEventConfig)]


def stage_sqs_sources(environment: Mapping[str, str],
                      project_dir: Path = PROJECT_DIR) -> list[tuple[str, str]]:
    """:func:`sqs_sources` of app.py imported with the stage's environment.

    In a fresh interpreter: handlers may name their queue from the environment
    at import time, and this process may have imported app.py for another stage.
    """
    code = ("import json, app, stack.policy as p; "
            "print(json.dumps(p.sqs_sources(app.app)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=project_dir, check=True,
                            capture_output=True, text=True,
                            env={**os.environ, **environment,
                                 "PYTHONPATH": os.pathsep.join((str(project_dir),
                                                                str(PROJECT_DIR)))})
    return [tuple(pair) for pair in json.loads(result.stdout)]


def stage_environment(stage: str, project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """The environment variables ``.chalice/config.json`` gives ``stage``."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    environment = dict(config.get("environment_variables", {}))
    environment.update(config["stages"][stage].get("environment_variables", {}))
    return environment


def build_policy(stage: str, project_dir: Path = PROJECT_DIR,
                 environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The policy document of ``stage``: one statement per declared grant."""
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    environment = environment if environment is not None else stage_environment(
        stage, project_dir)
    statements = []
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    platform = platform_grants(stage_sqs_sources(environment, project_dir),
                               config["app_name"], stage)
    for source, grant in [*platform, *declared_grants()]:
        resources = tuple(sorted(set(grant.resource(environment))))
        actions = tuple(sorted(set(grant.actions)))
        if not resources or (actions, resources) in seen:
            continue  # the stage does not configure this resource, or it is listed
        seen.add((actions, resources))
        statements.append({
            "Sid": _sid(source, len(statements)),
            "Effect": "Allow",
            "Action": list(actions),
            "Resource": list(resources),
        })
    return {"Version": "2012-10-17", "Statement": statements}


def render(policy: Mapping[str, Any]) -> str:
    """The policy as the committed file holds it."""
    return json.dumps(policy, indent=2, sort_keys=False) + "\n"


def write_policy(stage: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Generate and write ``.chalice/policy-<stage>.json``; returns its path."""
    path = policy_path(stage, project_dir)
    path.write_text(render(build_policy(stage, project_dir)))
    return path


def _sid(source: str, index: int) -> str:
    words = source.replace("chalicelib.", "").replace("_", ".").replace("-", ".").split(".")
    return "".join(word.capitalize() for word in words if word) + str(index)


def iam_action(service: str, operation: str, presigned_post: bool = False) -> str:
    """The IAM action a botocore call needs (``service`` is the signing name)."""
    if service == "s3":
        if presigned_post:
            return "s3:PutObject"
        return f"s3:{_S3_ACTIONS.get(operation, operation)}"
    return f"{service}:{operation}"


def resource_arns(service: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    """The ARNs (with ``*`` for region and account) a call's parameters address."""
    if service == "s3" and params.get("Bucket"):
        key = params.get("Key")
        return (f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else ""),)
    if service == "dynamodb":
        tables = list(params.get("Tables") or ())
        if params.get("TableName"):
            tables.append(params["TableName"])
        return tuple(f"arn:aws:dynamodb:*:*:table/{table}" for table in tables)
    if service == "sqs" and params.get("QueueUrl"):
        return (f"arn:aws:sqs:*:*:{params['QueueUrl'].rstrip('/').rsplit('/', 1)[-1]}",)
    if service == "sqs" and params.get("QueueName"):
        return (f"arn:aws:sqs:*:*:{params['QueueName']}",)
    if service == "ssm" and params.get("Name"):
        return (f"arn:aws:ssm:*:*:parameter/{params['Name'].lstrip('/')}",)
    return ()


def allows(policy: Mapping[str, Any], action: str, arns: Iterable[str] = ()) -> bool:
    """Whether some Allow statement of ``policy`` grants ``action`` on every ARN."""
    arns = tuple(arns)
    for statement in policy["Statement"]:
        if statement["Effect"] != "Allow" or not _matches_any(action, statement["Action"]):
            continue
        if all(_matches_any(arn, statement["Resource"]) for arn in arns):
            return True
    return False


def _matches_any(value: str, patterns: str | list[str]) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    # IAM matches action names case-insensitively and ARNs case-sensitively;
    # actions here are always written in their canonical case.
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in patterns)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m stack policy", description=__doc__)
    parser.add_argument("--stage", action="append", choices=POLICY_STAGES)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    for stage in args.stage or POLICY_STAGES:
        print(f"wrote {write_policy(stage).relative_to(PROJECT_DIR)}")
    return 0
