"""What moto's CloudFormation leaves out of resources.json, applied with boto3.

moto 5.2.5's ``create_stack`` creates the buckets (with their encryption), the
queues (visibility timeout, retention, redrive policy), the tables (keys,
indexes, billing mode) and reports the outputs, but it skips a bucket's
notification, CORS rule, public access block and versioning, a table's
point-in-time recovery, and every ``AWS::SQS::QueuePolicy``.  Against the
emulator these are applied afterwards from the same template, resolved
against the stack it just created; in AWS, CloudFormation applies them itself.
``tests/package/test_infrastructure_drift.py`` checks both ways end alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from stack.template import resolve

ACCOUNT_ID = "123456789012"  # moto's default account


def complete_stack(session: Any, template: Mapping[str, Any], parameters: Mapping[str, str],
                   stack: str) -> list[str]:
    """Apply the properties the emulator's CloudFormation skipped; returns what was applied."""
    cloudformation = session.client("cloudformation")
    physical = {resource["LogicalResourceId"]: resource["PhysicalResourceId"]
                for resource in cloudformation.describe_stack_resources(StackName=stack)[
                    "StackResources"] if "LogicalResourceId" in resource}
    resolver = _Resolver(session, template, parameters, physical)
    applied = []
    for logical_id, resource in template["Resources"].items():
        apply = _APPLIERS.get(resource["Type"])
        if apply is None:
            continue
        properties = resolver(resource.get("Properties", {}))
        for what in apply(session, resolver.name_of(logical_id), properties):
            applied.append(f"{logical_id}: {what}")
    return applied


class _Resolver:
    def __init__(self, session: Any, template: Mapping[str, Any],
                 parameters: Mapping[str, str], physical: Mapping[str, str]) -> None:
        self._session = session
        self._template = template
        self._parameters = parameters
        self._physical = physical

    def __call__(self, value: Any) -> Any:
        return resolve(value, self._ref, self._get_att)

    def name_of(self, logical_id: str) -> str:
        """The resource's name as the API wants it (a queue's name, not its URL)."""
        physical = self._physical.get(logical_id, "")
        return physical.rsplit("/", 1)[-1] if physical.startswith("https://") else physical

    def _ref(self, name: str) -> str:
        if name in self._parameters:
            return self._parameters[name]
        if name == "AWS::AccountId":
            return ACCOUNT_ID
        if name == "AWS::Region":
            return self._session.client("sts").meta.region_name
        if name in self._physical:
            return self._physical[name]
        raise ValueError(f"Ref {name} names nothing in the stack")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self._template["Resources"][logical_id]["Type"]
        name = self.name_of(logical_id)
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            sqs = self._session.client("sqs")
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        raise ValueError(f"Fn::GetAtt {logical_id}.{attribute} is not known here")


def _complete_bucket(session: Any, bucket: str, properties: Mapping[str, Any]) -> list[str]:
    s3 = session.client("s3")
    applied = []
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"])
        applied.append("public access block")
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={
            "Status": properties["VersioningConfiguration"]["Status"]})
        applied.append("versioning")
    if "CorsConfiguration" in properties:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            _cors_rule(rule) for rule in properties["CorsConfiguration"]["CorsRules"]]})
        applied.append("CORS")
    if "NotificationConfiguration" in properties:
        queues = properties["NotificationConfiguration"].get("QueueConfigurations", [])
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [_queue_notification(entry) for entry in queues]})
        applied.append("notification")
    return applied


# CloudFormation's property names -> the S3 API's, where they differ.
_CORS_FIELDS = {"AllowedHeaders": "AllowedHeaders", "AllowedMethods": "AllowedMethods",
                "AllowedOrigins": "AllowedOrigins", "ExposedHeaders": "ExposeHeaders",
                "MaxAge": "MaxAgeSeconds", "Id": "ID"}


def _cors_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {_CORS_FIELDS[key]: int(value) if key == "MaxAge" else value
            for key, value in rule.items()}


def _queue_notification(entry: Mapping[str, Any]) -> dict[str, Any]:
    notification: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
    rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
    if rules:
        notification["Filter"] = {"Key": {"FilterRules": rules}}
    return notification


def _complete_table(session: Any, table: str, properties: Mapping[str, Any]) -> list[str]:
    specification = properties.get("PointInTimeRecoverySpecification")
    if not specification:
        return []
    session.client("dynamodb").update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": bool(specification["PointInTimeRecoveryEnabled"])})
    return ["point-in-time recovery"]


def _complete_queue_policy(session: Any, _: str, properties: Mapping[str, Any]) -> list[str]:
    sqs = session.client("sqs")
    for queue in properties["Queues"]:  # resolved Refs: queue URLs
        url = sqs.get_queue_url(QueueName=queue.rsplit("/", 1)[-1])["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "Policy": json.dumps(properties["PolicyDocument"])})
    return ["queue policy"]


_APPLIERS: dict[str, Callable[[Any, str, Mapping[str, Any]], list[str]]] = {
    "AWS::S3::Bucket": _complete_bucket,
    "AWS::DynamoDB::Table": _complete_table,
    "AWS::SQS::QueuePolicy": _complete_queue_policy,
}


# Alarms and the dashboard watch AWS's own metrics: the emulator has none to
# watch, and moto's CloudFormation implements neither (it warns on every start).
MONITORING_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard")


def without_monitoring(template: Mapping[str, Any]) -> dict[str, Any]:
    """``template`` less its alarms and dashboard, for the emulator's stack."""
    resources = {logical_id: resource
                 for logical_id, resource in template["Resources"].items()
                 if resource["Type"] not in MONITORING_TYPES}
    return {**template, "Resources": resources}
