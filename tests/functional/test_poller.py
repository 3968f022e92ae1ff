"""The local stand-in for Lambda's SQS event source mapping."""

import json

import pytest

from stack.poller import QueuePoller
from tests.support.uploads import aws, wait_until


@pytest.fixture
def queues(emulator, request):
    sqs = aws(emulator.endpoint_url, "sqs")
    name = f"poller-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(sqs, f"{name}-dlq"),
                                     "maxReceiveCount": "2"})})["QueueUrl"]
    return sqs, name, url, dlq_url


def queue_arn(sqs, name):
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]
                                    )["Attributes"]["QueueArn"]


def bodies_in(sqs, url):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1).get("Messages", [])
    return sorted(message["Body"] for message in messages)


def test_acknowledged_messages_are_deleted_and_failed_ones_end_in_the_dlq(queues):
    sqs, name, url, dlq_url = queues
    for body in ("ok", "fails"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    events = []

    def handler(event, context):
        events.append(event)
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                      for record in event["Records"]
                                      if record["body"] == "fails"]}

    poller = QueuePoller(sqs, name, handler, wait_seconds=1).start()
    try:
        wait_until(lambda: bodies_in(sqs, dlq_url) == ["fails"], timeout=10)
    finally:
        poller.stop()
    received = [record["body"] for event in events for record in event["Records"]]
    assert received.count("ok") == 1 and received.count("fails") == 2
    record = events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn(sqs, name)
    assert set(record) >= {"messageId", "receiptHandle", "body", "attributes", "md5OfBody"}


def test_a_handler_that_raises_leaves_the_whole_batch_for_redelivery(queues):
    sqs, name, url, _ = queues
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
    poller = QueuePoller(sqs, name, lambda event, context: 1 / 0, wait_seconds=1)
    assert poller.poll_once() == 1
    assert wait_until(lambda: bodies_in(sqs, url), timeout=5) == ['{"n": 1}']


def test_stop_returns_promptly(queues):
    sqs, name, _, _ = queues
    poller = QueuePoller(sqs, name, lambda event, context: None, wait_seconds=1).start()
    poller.stop(timeout=5)
    assert not poller.running
