"""What Lambda's SQS event source mapping does, for `make run`.

A thread long-polls the upload events queue in the emulator, hands each
batch to the app's own ``handle_blob_event`` as a Lambda SQS event, deletes
the messages the handler acknowledged and leaves the rest: they reappear
after the queue's visibility timeout and, after maxReceiveCount receives,
SQS moves them to the dead-letter queue -- as in AWS.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("stack.poller")
Handler = Callable[[dict[str, Any], Any], Any]


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str
                     ) -> dict[str, Any]:
    """The event Lambda gives a function for received SQS ``messages``."""
    return {"Records": [{
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(  # noqa: S324 -- SQS's own
            message["Body"].encode("utf-8")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for message in messages]}


class QueuePoller:
    """Feeds one queue to one handler on a background thread until stop()."""

    def __init__(self, sqs: Any, queue_name: str, handler: Handler, *,
                 batch_size: int = 10, wait_seconds: int = 1,
                 function_name: str = "handle_blob_event") -> None:
        self._sqs = sqs
        self._queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self._queue_arn = sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._handler = handler
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._function_name = function_name
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poll-{queue_name}",
                                        daemon=True)

    def start(self) -> QueuePoller:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current batch and stop (a receive waits at most wait_seconds)."""
        self._stopping.set()
        self._thread.join(timeout)

    def poll_once(self) -> int:
        """Receive one batch and hand it to the handler; returns the messages received."""
        received = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds, AttributeNames=["All"],
            MessageAttributeNames=["All"]).get("Messages", [])
        if not received:
            return 0
        event = lambda_sqs_event(received, self._queue_arn,
                                 self._sqs.meta.region_name)
        try:
            response = self._handler(event, self._context())
        except Exception:
            # Lambda's behaviour for a failed invocation: nothing is deleted.
            LOG.exception("%s failed; %d message(s) will be delivered again",
                          self._function_name, len(received))
            return len(received)
        failed = {item["itemIdentifier"]
                  for item in (response or {}).get("batchItemFailures", [])}
        done = [message for message in received if message["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(done)])
        if failed:
            LOG.warning("%d message(s) reported failed; SQS will deliver them again",
                        len(failed))
        return len(received)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                # The emulator going away at shutdown, or a hiccup: keep
                # polling until told to stop, as the event source mapping does.
                if self._stopping.is_set():
                    return
                LOG.exception("polling failed; retrying")
                self._stopping.wait(1)

    def _context(self) -> Any:
        from chalice.local import LambdaContext

        return LambdaContext(self._function_name, memory_size=1536, max_runtime_ms=30_000)
