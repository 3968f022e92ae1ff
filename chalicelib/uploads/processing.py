"""The upload events handler: S3 ObjectCreated records arriving through SQS.

Each message is handled on its own.  Its outcome is one of:

* processed: the blob is ``done`` or ``failed``, its callback sent once;
* dropped: nothing to do, ever (S3's test event, a key outside the upload
  prefix, a deleted blob, a vanished object) -- logged, and acknowledged;
* retry: a transient failure (throttling, a dependency down) -- the message
  is reported as a batch item failure, so SQS delivers it again and, after
  the queue's maxReceiveCount, moves it to the dead-letter queue.

Any other error propagates and fails the whole batch: the messages come back
and, being idempotent, are handled again; a poison message ends in the DLQ.

Nothing stays in limbo.  A message in the dead-letter queue reaches
``handle_dead_letters``, which fails its blob if still pending (saying why)
and sends the callback.  A callback claimed by a function that died stays
``sending`` only until the next event for the blob (SQS redelivers the
unacknowledged message, or the dead-letter handler gets it): once the claim
is older than twice a delivery's worst case, that event takes it over and
delivers; while it is younger, the event is retried later.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import observability
from chalicelib.errors import Unavailable
from chalicelib.uploads import callbacks
from chalicelib.uploads.labelling import Labeller, NotAnImage
from chalicelib.uploads.records import BlobRecords
from chalicelib.uploads.storage import BlobStorage

LOG = logging.getLogger(__name__)
# Fetching, decoding and labelling one upload of at most MAX_UPLOAD_BYTES.
LABELLING_BUDGET_SECONDS = 10.0
UPLOAD_PREFIX = "uploads/"
_KEY = re.compile(r"uploads/([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                  r"-[0-9a-f]{12})")


DEAD_LETTER_ERROR = ("the upload could not be processed: its event failed every delivery "
                     "and went to the dead-letter queue")


class BatchFailed(Exception):
    """Some messages must be retried, and partial batch responses are off."""


class CallbackInFlight(Unavailable):
    """Another invocation is sending the blob's callback; look again later."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str
    event_time: str | None = None  # when S3 created the object (ISO 8601)


@dataclass(frozen=True)
class CallbackSettings:
    attempts: int
    backoff: float
    timeout: float
    allow_loopback: bool

    @property
    def worst_case_seconds(self) -> float:
        """Every attempt timing out, and the waits between them."""
        return self.attempts * self.timeout + self.backoff * (2 ** (self.attempts - 1) - 1)

    @property
    def stale_after(self) -> timedelta:
        """How old a ``sending`` claim must be before its sender is taken for dead."""
        return timedelta(seconds=2 * self.worst_case_seconds + 1)


def object_key(blob_id: str) -> str:
    """Where a blob's upload lives: fixed prefix plus the server-made id."""
    return UPLOAD_PREFIX + blob_id


def blob_id_from_key(key: str) -> str | None:
    """The blob id an object key belongs to, or None for a foreign key."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def parse_message(body: str) -> list[ObjectCreated]:
    """The created objects an SQS message announces (none for S3's test event)."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        LOG.warning("dropped a message that is not JSON: %.200r", body)
        return []
    if not isinstance(payload, dict):
        LOG.warning("dropped a message that is not an S3 event: %.200r", body)
        return []
    if payload.get("Event") == "s3:TestEvent":
        LOG.info("dropped S3's test event for bucket %s", payload.get("Bucket"))
        return []
    created = []
    for record in payload.get("Records") or []:
        try:
            if not str(record["eventName"]).startswith("ObjectCreated:"):
                LOG.info("dropped an S3 %s event", record["eventName"])
                continue
            # S3 URL-encodes keys in events (a space arrives as '+').
            created.append(ObjectCreated(bucket=record["s3"]["bucket"]["name"],
                                         key=unquote_plus(record["s3"]["object"]["key"]),
                                         event_time=record.get("eventTime")))
        except (KeyError, TypeError):
            LOG.warning("dropped a malformed S3 record: %.200r", record)
    if not created and not payload.get("Records"):
        LOG.warning("dropped a message without S3 records: %.200r", body)
    return created


def now_text(clock: Callable[[], datetime] | None = None) -> str:
    """An ISO 8601 UTC timestamp with microseconds; sorts as it reads."""
    moment = clock() if clock else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Processor:
    """Turns one created object into a finished blob and its callback."""

    def __init__(self, records: BlobRecords, storage: BlobStorage,
                 labeller: Callable[[], Labeller], load_secret: Callable[[], bytes], *,
                 max_upload_bytes: int, max_labels: int, callback: CallbackSettings,
                 deliver: Callable[..., callbacks.Delivery] = callbacks.deliver) -> None:
        self._records = records
        self._storage = storage
        self._labeller = labeller
        self._load_secret = load_secret
        self._max_upload_bytes = max_upload_bytes
        self._max_labels = max_labels
        self._callback = callback
        self._deliver = deliver

    @property
    def worst_case_seconds(self) -> float:
        """How long one object may take: labelling plus every callback attempt.

        A batch of the handler's batch size must fit in its function timeout,
        or a timeout would cut a claimed callback off (a test checks prod's).
        """
        return LABELLING_BUDGET_SECONDS + self.callback_worst_case_seconds

    @property
    def callback_worst_case_seconds(self) -> float:
        """How long one callback may take (the dead-letter handler's part)."""
        return self._callback.worst_case_seconds

    def _blob_of(self, created: ObjectCreated, what: str) -> str | None:
        """The blob an event is about, or None (logged) when it is no upload of this stage."""
        blob_id = blob_id_from_key(created.key)
        if created.bucket != self._storage.bucket or blob_id is None:
            LOG.warning("dropped %s for %s/%s: not an upload of this stage",
                        what, created.bucket, created.key)
            return None
        return blob_id

    def process(self, created: ObjectCreated) -> str:
        """Handle one created object; returns what happened. Raises Unavailable."""
        blob_id = self._blob_of(created, "an event")
        if blob_id is None:
            return "dropped"
        record = self._records.get(blob_id)
        if record is None:
            # A deleted blob (or one that never existed): its upload is an
            # orphan nobody can reach, so remove it rather than keep paying.
            LOG.warning("dropped an event for blob %s: no such blob; removing the object",
                        blob_id)
            self._storage.delete(created.key)
            return "dropped"
        observability.record(blob_id=blob_id)
        if record["status"] == "pending":
            outcome = self._finish(blob_id, created.key)
            if outcome == "dropped":
                return outcome
            observability.record(
                time_to_label_ms=observability.milliseconds_since(created.event_time))
            record = self._records.get(blob_id)
            if record is None:
                LOG.warning("blob %s was deleted while it was processed", blob_id)
                return "dropped"
        else:
            LOG.info("blob %s is already %s (a repeated event)", blob_id, record["status"])
            outcome = "repeated"
        self._send_callback(record)
        return outcome

    def give_up(self, created: ObjectCreated) -> str:
        """Handle an event from the dead-letter queue: fail the blob if it is still
        pending, and send its callback. Raises Unavailable."""
        blob_id = self._blob_of(created, "a dead letter")
        if blob_id is None:
            return "dropped"
        record = self._records.get(blob_id)
        if record is None:
            LOG.warning("dropped a dead letter for blob %s: no such blob", blob_id)
            return "dropped"
        outcome = "repeated"
        if record["status"] == "pending":
            if self._records.finish(blob_id, "failed", now_text(), error=DEAD_LETTER_ERROR):
                outcome = "failed"
            record = self._records.get(blob_id)
            if record is None:
                return "dropped"
        self._send_callback(record)
        return outcome

    def _finish(self, blob_id: str, key: str) -> str:
        stored = self._storage.read(key, self._max_upload_bytes)
        if stored is None:
            LOG.warning("dropped an event for blob %s: its object is gone", blob_id)
            return "dropped"
        if stored.content is None:
            return self._fail(blob_id, stored.size,
                              f"the upload is {stored.size} bytes; at most "
                              f"{self._max_upload_bytes} bytes are accepted")
        try:
            labeller = self._labeller()
            observability.record(labeller=type(labeller).__name__)
            labels = labeller.label(stored.content, self._max_labels)
        except NotAnImage as error:
            return self._fail(blob_id, stored.size, str(error))
        finished = self._records.finish(blob_id, "done", now_text(), labels=labels,
                                        size=stored.size)
        return "done" if finished else "repeated"

    def _fail(self, blob_id: str, size: int, message: str) -> str:
        finished = self._records.finish(blob_id, "failed", now_text(), error=message,
                                        size=size)
        return "failed" if finished else "repeated"

    def _send_callback(self, record: dict[str, Any]) -> None:
        url = record.get("callback_url")
        state = record.get("callback_state")
        if not url or state not in ("pending", "sending"):
            return
        if state == "sending" and not self._claim_is_stale(record):
            raise CallbackInFlight(f"the callback of blob {record['id']} is being sent "
                                   "by another invocation", id=record["id"])
        # The secret first: failing after the claim would lose the callback.
        secret = self._load_secret()
        if state == "pending":
            claimed = self._records.claim_callback(record["id"], now_text())
        else:
            LOG.warning("the callback of blob %s was claimed at %s and never finished; "
                        "taking it over", record["id"], record.get("updated_at"))
            claimed = self._records.reclaim_callback(record["id"], record["updated_at"],
                                                     now_text())
        if not claimed:
            LOG.info("the callback of blob %s is already taken", record["id"])
            return
        settings = self._callback
        with observability.timed("callback_ms", trace="callback"):
            delivery = self._deliver(url, callbacks.callback_body(record), secret,
                                     attempts=settings.attempts, backoff=settings.backoff,
                                     timeout=settings.timeout,
                                     allow_loopback=settings.allow_loopback)
        observability.record(callback=delivery.state, callback_attempts=delivery.attempts)
        delivered_at = (now_text(lambda: datetime.fromtimestamp(delivery.delivered_at, UTC))
                        if delivery.delivered_at is not None else None)
        attempts = int(record.get("callback_attempts") or 0) + delivery.attempts
        self._records.record_callback(record["id"], delivery.state, attempts,
                                      delivery.last_error, delivered_at, now_text())
        LOG.info("callback of blob %s: %s after %d attempt(s)%s", record["id"],
                 delivery.state, delivery.attempts,
                 f" ({delivery.last_error})" if delivery.last_error else "")

    def _claim_is_stale(self, record: dict[str, Any]) -> bool:
        claimed = datetime.strptime(record["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ"
                                    ).replace(tzinfo=UTC)
        return datetime.now(UTC) - claimed > self._callback.stale_after


def handle_messages(messages: Iterable[tuple[str, str]], processor: Processor,
                    report_batch_item_failures: bool = True) -> dict[str, Any]:
    """Process ``(messageId, body)`` pairs; the Lambda partial batch response.

    Raises BatchFailed instead of reporting failures when partial batch
    responses are off (then Lambda would ignore the report and delete them).
    """
    failures = []
    for message_id, body in messages:
        with observability.message(message_id):
            observability.record(outcome="dropped")  # unless an object is processed
            try:
                for created in parse_message(body):
                    outcome = processor.process(created)
                    observability.record(outcome=outcome)
                    LOG.info("%s: %s", created.key, outcome)
            except Unavailable as error:
                observability.record(outcome="retry")
                LOG.warning("message %s will be retried: %s", message_id, error.message)
                failures.append({"itemIdentifier": message_id})
    if failures and not report_batch_item_failures:
        raise BatchFailed(f"{len(failures)} message(s) must be retried")
    return {"batchItemFailures": failures}


def handle_dead_letters(messages: Iterable[tuple[str, str]], processor: Processor
                        ) -> dict[str, Any]:
    """Finish the blobs of ``(messageId, body)`` pairs from the dead-letter queue.

    Returns the partial batch response: messages that met a transient failure
    stay in the dead-letter queue and come back.
    """
    failures = []
    for message_id, body in messages:
        try:
            for created in parse_message(body):
                LOG.info("dead letter %s: %s", created.key, processor.give_up(created))
        except Unavailable as error:
            LOG.warning("dead letter %s will be retried: %s", message_id, error.message)
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
