"""Create the AWS resources a stage's configuration names, idempotently.

The same plan runs against the local emulator (``make run``, the tests) and,
for a deployed stage, against real AWS (``python -m stack provision --stage
prod``).  Each ``ensure_*`` call leaves an existing resource as it is.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Index:
    """A global secondary index (all attributes projected)."""

    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class Queue:
    """A queue; with ``dead_letter_queue`` its redrive policy points there."""

    name: str
    dead_letter_queue: str | None = None
    max_receive_count: int = 5
    visibility_timeout: int = 30


@dataclass(frozen=True)
class BucketNotification:
    """S3 ObjectCreated events for keys under ``prefix`` sent to ``queue``."""

    bucket: str
    queue: str
    prefix: str


@dataclass(frozen=True)
class Plan:
    buckets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    queues: tuple[str | Queue, ...] = ()
    notifications: tuple[BucketNotification, ...] = ()
    secret_parameters: tuple[str, ...] = ()


def plan_for_stage(environment: Mapping[str, str]) -> Plan:
    """The resources the stage's environment variables refer to."""
    buckets: list[str] = []
    tables: list[Table] = list(_resource_tables(environment))
    queues: list[str | Queue] = []
    notifications: list[BucketNotification] = []
    secret_parameters: list[str] = []
    if environment.get("BLOBS_BUCKET"):
        from chalicelib.settings import BlobSettings
        from chalicelib.uploads.processing import UPLOAD_PREFIX
        from chalicelib.uploads.records import LISTING_INDEX

        blobs = BlobSettings.from_environ(environment)
        buckets.append(blobs.bucket)
        tables.append(Table(blobs.table, hash_key="id", indexes=(
            Index(LISTING_INDEX, hash_key="listing", range_key="created_at"),)))
        queues.append(blobs.dead_letter_queue)
        queues.append(Queue(blobs.queue, dead_letter_queue=blobs.dead_letter_queue,
                            max_receive_count=int(environment.get("BLOBS_MAX_RECEIVES")
                                                  or 5),
                            visibility_timeout=int(
                                environment.get("BLOBS_VISIBILITY_TIMEOUT") or 180)))
        notifications.append(BucketNotification(blobs.bucket, blobs.queue, UPLOAD_PREFIX))
        secret_parameters.append(blobs.callback_secret_parameter)
    return Plan(buckets=tuple(buckets), tables=tuple(tables), queues=tuple(queues),
                notifications=tuple(notifications),
                secret_parameters=tuple(secret_parameters))


def _resource_tables(environment: Mapping[str, str]) -> tuple[Table, ...]:
    from chalicelib.settings import parse_resources

    return tuple(Table(resource.table, hash_key="id")
                 for resource in parse_resources(environment.get("RESOURCES"))
                 if resource.table is not None)


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
    if plan.queues or plan.notifications:
        sqs = session.client("sqs")
        for queue in plan.queues:
            if isinstance(queue, Queue):
                ensure_redriven_queue(sqs, queue)
            else:
                ensure_queue(sqs, queue)
    if plan.notifications:
        s3 = session.client("s3")
        for notification in plan.notifications:
            ensure_bucket_notification(s3, sqs, notification)
    if plan.secret_parameters:
        ssm = session.client("ssm")
        for name in plan.secret_parameters:
            ensure_secret_parameter(ssm, name)


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
    keys = _key_schema(table.hash_key, table.range_key)
    attributes = dict.fromkeys(item["AttributeName"] for item in keys)
    request: dict[str, Any] = {}
    if table.indexes:
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": index.name, "KeySchema": _key_schema(index.hash_key,
                                                               index.range_key),
             "Projection": {"ProjectionType": "ALL"}} for index in table.indexes]
        for index in table.indexes:
            attributes.update(dict.fromkeys(
                item["AttributeName"] for item in _key_schema(index.hash_key,
                                                              index.range_key)))
    try:
        dynamodb.create_table(
            TableName=table.name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                  for name in attributes],
            **request,
        )
    except dynamodb.exceptions.ResourceInUseException:
        pass
    dynamodb.get_waiter("table_exists").wait(TableName=table.name,
                                             WaiterConfig={"Delay": 1})


def ensure_queue(sqs: Any, name: str, attributes: Mapping[str, str] | None = None) -> str:
    """Create the queue unless it exists; returns its URL."""
    return sqs.create_queue(QueueName=name, Attributes=dict(attributes or {}))["QueueUrl"]


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return keys


def queue_arn(sqs: Any, name: str) -> str:
    """The ARN of the existing queue ``name``."""
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]
                                    )["Attributes"]["QueueArn"]


def ensure_redriven_queue(sqs: Any, queue: Queue) -> str:
    """Create the queue with its visibility timeout and redrive policy; returns its URL.

    The dead-letter queue must exist.  An existing queue gets the attributes set.
    """
    attributes = {"VisibilityTimeout": str(queue.visibility_timeout)}
    if queue.dead_letter_queue:
        attributes["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": queue_arn(sqs, queue.dead_letter_queue),
            "maxReceiveCount": str(queue.max_receive_count)})
    url = ensure_queue(sqs, queue.name)
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def ensure_bucket_notification(s3: Any, sqs: Any, notification: BucketNotification) -> None:
    """Let S3 send the bucket's ObjectCreated events under the prefix to the queue."""
    arn = queue_arn(sqs, notification.queue)
    url = sqs.get_queue_url(QueueName=notification.queue)["QueueUrl"]
    bucket_arn = f"arn:aws:s3:::{notification.bucket}"
    # Only this bucket may send to the queue.
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}}}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket=notification.bucket,
        NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix",
                                                "Value": notification.prefix}]}},
        }]})


def ensure_secret_parameter(ssm: Any, name: str) -> None:
    """Create the SecureString parameter with a random value unless it exists."""
    try:
        ssm.get_parameter(Name=name)
        return
    except ssm.exceptions.ParameterNotFound:
        pass
    try:
        ssm.put_parameter(Name=name, Value=secrets.token_urlsafe(32), Type="SecureString",
                          Description="HMAC-SHA256 key signing upload callbacks")
    except ssm.exceptions.ParameterAlreadyExists:
        pass


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
