import json

from stack.run import provision_local
from tests.support.uploads import aws


def test_the_dev_stage_gets_its_upload_resources_wired_together(emulator, stage_environment):
    endpoint = emulator.endpoint_url
    sqs, s3, dynamodb, ssm = (aws(endpoint, name) for name in ("sqs", "s3", "dynamodb", "ssm"))
    secret_name = stage_environment["CALLBACK_SECRET_PARAMETER"]
    secret = ssm.get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]

    # Provisioning again updates the stack and keeps the secret.
    provision_local(stage_environment)

    assert secret["Type"] == "SecureString" and len(secret["Value"]) >= 32
    assert ssm.get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]["Value"] \
        == secret["Value"]
    table = dynamodb.describe_table(TableName=stage_environment["BLOBS_TABLE"])["Table"]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-created"
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["listing", "created_at"]
    queue_url = sqs.get_queue_url(QueueName=stage_environment["BLOBS_QUEUE"])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url,
                                          AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":" + stage_environment["BLOBS_DLQ"])
    assert int(redrive["maxReceiveCount"]) == int(stage_environment["BLOBS_MAX_RECEIVES"])
    policy = json.loads(attributes["Policy"])["Statement"][0]
    assert policy["Condition"]["ArnLike"]["aws:SourceArn"] == \
        f"arn:aws:s3:::{stage_environment['BLOBS_BUCKET']}"
    [notification] = s3.get_bucket_notification_configuration(
        Bucket=stage_environment["BLOBS_BUCKET"])["QueueConfigurations"]
    assert notification["QueueArn"] == attributes["QueueArn"]
    [rule] = notification["Filter"]["Key"]["FilterRules"]
    assert (rule["Name"].lower(), rule["Value"]) == ("prefix", "uploads/")
    assert notification["Events"] == ["s3:ObjectCreated:*"]
