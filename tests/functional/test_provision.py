import boto3

from stack.provision import Table, ensure_bucket, ensure_queue, ensure_table


def clients(emulator):
    session = boto3.session.Session(region_name="us-east-1")
    return (session.client(name, endpoint_url=emulator.endpoint_url)
            for name in ("s3", "dynamodb", "sqs"))


def test_ensure_functions_are_idempotent(emulator):
    s3, dynamodb, sqs = clients(emulator)
    table = Table("provision-test", hash_key="pk", range_key="sk")
    for _ in range(2):
        ensure_bucket(s3, "provision-test-bucket")
        ensure_table(dynamodb, table)
        url = ensure_queue(sqs, "provision-test-queue")
    s3.put_object(Bucket="provision-test-bucket", Key="k", Body=b"v")
    assert s3.get_object(Bucket="provision-test-bucket", Key="k")["Body"].read() == b"v"
    schema = dynamodb.describe_table(TableName="provision-test")["Table"]["KeySchema"]
    assert {key["AttributeName"]: key["KeyType"] for key in schema} == {"pk": "HASH",
                                                                         "sk": "RANGE"}
    assert url.endswith("/provision-test-queue")
