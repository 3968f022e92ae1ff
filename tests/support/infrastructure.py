"""What a stage's resources look like: as resources.json declares them, and as an
account (the emulator) holds them, in the same terms so the two compare equal.

The facts compared: names, a queue's visibility timeout, retention and
redrive, a queue policy's grant, a bucket's notification, CORS rule, public
access block, encryption and versioning, a table's keys, indexes, billing mode
and point-in-time recovery, and the SecureString parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stack.template import resolve, secure_parameters


def declared(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The facts resources.json declares, with the stage's parameter values."""
    resources = template["Resources"]

    def name_of(logical_id: str) -> str:
        properties = resources[logical_id]["Properties"]
        key = {"AWS::S3::Bucket": "BucketName", "AWS::SQS::Queue": "QueueName",
               "AWS::DynamoDB::Table": "TableName"}[resources[logical_id]["Type"]]
        return resolve(properties[key], ref, get_att)

    def ref(name: str) -> str:
        if name in parameters:
            return parameters[name]
        if name.startswith("AWS::"):
            return f"<{name}>"
        return name_of(name)

    def get_att(logical_id: str, attribute: str) -> str:
        return name_of(logical_id)  # ARNs compare by the name they end in

    facts: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        # Alarms and the dashboard: checked by tests/package/test_template.py and
        # cfn-lint; the emulator has no CloudWatch to build them in.
        if kind.startswith("AWS::CloudWatch::"):
            continue
        properties = resolve(resource.get("Properties", {}), ref, get_att)
        if kind == "AWS::S3::Bucket":
            facts[logical_id] = _declared_bucket(properties)
        elif kind == "AWS::SQS::Queue":
            redrive = properties.get("RedrivePolicy")
            facts[logical_id] = {
                "name": properties["QueueName"],
                "visibility_timeout": int(properties.get("VisibilityTimeout", 30)),
                "retention": int(properties.get("MessageRetentionPeriod", 345600)),
                "redrive": (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"]))
                if redrive else None}
        elif kind == "AWS::SQS::QueuePolicy":
            [statement] = properties["PolicyDocument"]["Statement"]
            facts[logical_id] = {"queues": sorted(properties["Queues"]),
                                 "grant": _grant(statement)}
        elif kind == "AWS::DynamoDB::Table":
            facts[logical_id] = _declared_table(properties)
    for parameter in secure_parameters(template, parameters):
        facts[f"SecureString {parameter.name}"] = "SecureString"
    return facts


def _declared_bucket(properties: Mapping[str, Any]) -> dict[str, Any]:
    notifications = properties.get("NotificationConfiguration", {}).get(
        "QueueConfigurations", [])
    encryption = properties.get("BucketEncryption", {}).get(
        "ServerSideEncryptionConfiguration", [])
    return {
        "name": properties["BucketName"],
        "public_access_block": properties.get("PublicAccessBlockConfiguration"),
        "encryption": [rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
                       for rule in encryption],
        "versioning": properties.get("VersioningConfiguration", {}).get("Status"),
        "cors": [(sorted(rule["AllowedMethods"]), rule["AllowedOrigins"],
                  rule.get("AllowedHeaders", []), rule.get("MaxAge"))
                 for rule in properties.get("CorsConfiguration", {}).get("CorsRules", [])],
        "notifications": [(entry["Queue"], entry["Event"], [
            (rule["Name"].lower(), rule["Value"])
            for rule in entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])])
            for entry in notifications],
    }


def _declared_table(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": properties["TableName"],
        "keys": _keys(properties["KeySchema"]),
        "attributes": sorted((item["AttributeName"], item["AttributeType"])
                             for item in properties["AttributeDefinitions"]),
        "billing": properties.get("BillingMode", "PROVISIONED"),
        "indexes": sorted((index["IndexName"], _keys(index["KeySchema"]),
                           index["Projection"]["ProjectionType"])
                          for index in properties.get("GlobalSecondaryIndexes", [])),
        "recovery": bool(properties.get("PointInTimeRecoverySpecification", {}).get(
            "PointInTimeRecoveryEnabled")),
    }


def _keys(schema: list[Mapping[str, str]]) -> list[tuple[str, str]]:
    return [(item["AttributeName"], item["KeyType"]) for item in schema]


def _grant(statement: Mapping[str, Any]) -> dict[str, Any]:
    condition = statement.get("Condition", {})
    return {"principal": statement["Principal"], "action": statement["Action"],
            "resource": _name(statement["Resource"]),
            "source": _name(condition.get("ArnLike", {}).get("aws:SourceArn", ""))}


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def observed(clients: Any, template: Mapping[str, Any], parameters: Mapping[str, str]
             ) -> dict[str, Any]:
    """The same facts as the account holds them; ``clients(service)`` gives a client.

    Reads the resources by the names the template gives them for these
    parameters, so a resource created under another name is missing here.
    """
    expected = declared(template, parameters)
    s3, sqs, dynamodb, ssm = (clients(name) for name in ("s3", "sqs", "dynamodb", "ssm"))
    facts: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            facts[logical_id] = _observed_bucket(s3, expected[logical_id]["name"])
        elif kind == "AWS::SQS::Queue":
            facts[logical_id] = _observed_queue(sqs, expected[logical_id]["name"])
        elif kind == "AWS::SQS::QueuePolicy":
            queues = expected[logical_id]["queues"]
            policies = [json.loads(attributes["Policy"])["Statement"] for attributes in
                        (_queue_attributes(sqs, name) for name in queues)
                        if "Policy" in attributes]
            facts[logical_id] = {"queues": queues,
                                 "grant": _grant(policies[0][0]) if policies else None}
        elif kind == "AWS::DynamoDB::Table":
            facts[logical_id] = _observed_table(dynamodb, expected[logical_id]["name"])
    for parameter in secure_parameters(template, parameters):
        facts[f"SecureString {parameter.name}"] = ssm.get_parameter(
            Name=parameter.name)["Parameter"]["Type"]
    return facts


def _observed_bucket(s3: Any, name: str) -> dict[str, Any]:
    def optional(call: Any, key: str, missing: str) -> Any:
        try:
            return call(Bucket=name)[key]
        except s3.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == missing:
                return None
            raise

    cors = optional(s3.get_bucket_cors, "CORSRules", "NoSuchCORSConfiguration") or []
    encryption = optional(s3.get_bucket_encryption, "ServerSideEncryptionConfiguration",
                          "ServerSideEncryptionConfigurationNotFoundError")
    notifications = s3.get_bucket_notification_configuration(Bucket=name).get(
        "QueueConfigurations", [])
    return {
        "name": name,
        "public_access_block": optional(s3.get_public_access_block,
                                        "PublicAccessBlockConfiguration",
                                        "NoSuchPublicAccessBlockConfiguration"),
        "encryption": [rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
                       for rule in (encryption or {}).get("Rules", [])],
        "versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
        "cors": [(sorted(rule["AllowedMethods"]), rule["AllowedOrigins"],
                  rule.get("AllowedHeaders", []), rule.get("MaxAgeSeconds"))
                 for rule in cors],
        "notifications": [(_name(entry["QueueArn"]), event, [
            (rule["Name"].lower(), rule["Value"])
            for rule in entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])])
            for entry in notifications for event in entry["Events"]],
    }


def _queue_attributes(sqs: Any, name: str) -> dict[str, str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def _observed_queue(sqs: Any, name: str) -> dict[str, Any]:
    attributes = _queue_attributes(sqs, name)
    redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes \
        else None
    return {"name": name, "visibility_timeout": int(attributes["VisibilityTimeout"]),
            "retention": int(attributes["MessageRetentionPeriod"]),
            "redrive": (_name(redrive["deadLetterTargetArn"]), int(redrive["maxReceiveCount"]))
            if redrive else None}


def _observed_table(dynamodb: Any, name: str) -> dict[str, Any]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    backups = dynamodb.describe_continuous_backups(TableName=name)[
        "ContinuousBackupsDescription"]
    return {
        "name": name,
        "keys": _keys(table["KeySchema"]),
        "attributes": sorted((item["AttributeName"], item["AttributeType"])
                             for item in table["AttributeDefinitions"]),
        "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
        "indexes": sorted((index["IndexName"], _keys(index["KeySchema"]),
                           index["Projection"]["ProjectionType"])
                          for index in table.get("GlobalSecondaryIndexes", [])),
        "recovery": backups["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"] == "ENABLED",
    }
