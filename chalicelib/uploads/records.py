"""Blob records in DynamoDB: one item per blob, keyed by its id.

Every state change is a conditional write, so a duplicated S3 event (SQS
delivers at least once) cannot finish a blob twice or send its callback twice:
``finish`` moves ``pending`` to ``done``/``failed`` once, ``claim_callback``
moves the callback from ``pending`` to ``sending`` once, and
``reclaim_callback`` lets one event take over a ``sending`` claim whose
sender died (the claim's ``updated_at`` must be unchanged).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib import iam
from chalicelib.errors import Conflict
from chalicelib.transient import error_code, transient_as_unavailable

IAM_GRANTS = (
    iam.Grant(("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
               "dynamodb:DeleteItem", "dynamodb:Query"),
              iam.dynamodb_table("BLOBS_TABLE", indexes=True)),
)
# The listing index (and its ARN, ``<table>/index/by-created``) the Query uses.
LISTING_INDEX = "by-created"
# Every blob shares this partition of the listing index, sorted by created_at.
# One partition holds ~1000 writes/s: plenty for uploads that each take a person.
LISTING_PARTITION = "blob"
_CONDITION_FAILED = "ConditionalCheckFailedException"


class BlobRecords:
    """The blobs table, given as a boto3 DynamoDB ``Table`` resource."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, record: dict[str, Any]) -> None:
        """Store a new record; raises Conflict if the id exists, Unavailable."""
        item = {**record, "listing": LISTING_PARTITION}
        try:
            with transient_as_unavailable("storing the blob record"):
                self._table.put_item(Item=item,
                                     ConditionExpression="attribute_not_exists(id)")
        except self._client_error() as error:
            if error_code(error) == _CONDITION_FAILED:
                raise Conflict(f"blob {record['id']} exists", id=record["id"]) from None
            raise

    def get(self, blob_id: str) -> dict[str, Any] | None:
        """The record, or None if there is none; raises Unavailable."""
        with transient_as_unavailable("reading the blob record"):
            item = self._table.get_item(Key={"id": blob_id}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def list_recent(self, limit: int, start_after: dict[str, str] | None
                    ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        """Up to ``limit`` records, newest first, and the key to continue after."""
        from boto3.dynamodb.conditions import Key

        query: dict[str, Any] = {
            "IndexName": LISTING_INDEX,
            "KeyConditionExpression": Key("listing").eq(LISTING_PARTITION),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_after:
            query["ExclusiveStartKey"] = start_after
        with transient_as_unavailable("listing blob records"):
            page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [_plain(item) for item in page.get("Items", [])], (
            {name: str(value) for name, value in last.items()} if last else None)

    def delete(self, blob_id: str) -> bool:
        """Remove the record; False if there was none. Raises Unavailable."""
        try:
            with transient_as_unavailable("deleting the blob record"):
                self._table.delete_item(Key={"id": blob_id},
                                        ConditionExpression="attribute_exists(id)")
        except self._client_error() as error:
            if error_code(error) == _CONDITION_FAILED:
                return False
            raise
        return True

    def finish(self, blob_id: str, status: str, now: str, *,
               labels: list[dict[str, Any]] | None = None, error: str | None = None,
               size: int | None = None) -> bool:
        """Move a pending blob to ``status`` once; False if it is not pending.

        Raises Unavailable.
        """
        values: dict[str, Any] = {":status": status, ":now": now, ":pending": "pending"}
        assignments = ["#status = :status", "updated_at = :now", "finished_at = :now"]
        if labels is not None:
            values[":labels"] = [{"label": item["label"], "score": _decimal(item["score"])}
                                 for item in labels]
            assignments.append("labels = :labels")
        if error is not None:
            values[":error"] = error
            assignments.append("#error = :error")
        if size is not None:
            values[":size"] = size
            assignments.append("size_bytes = :size")
        return self._update(blob_id, "SET " + ", ".join(assignments),
                            "attribute_exists(id) AND #status = :pending",
                            values, {"#status": "status", "#error": "error"}
                            if error is not None else {"#status": "status"})

    def claim_callback(self, blob_id: str, now: str) -> bool:
        """Take the right to send a finished blob's callback; True only once."""
        return self._update(
            blob_id, "SET callback_state = :sending, updated_at = :now",
            "attribute_exists(id) AND callback_state = :pending AND #status <> :waiting",
            {":sending": "sending", ":pending": "pending", ":waiting": "pending",
             ":now": now}, {"#status": "status"})

    def reclaim_callback(self, blob_id: str, claimed_at: str, now: str) -> bool:
        """Take over a callback left ``sending`` since ``claimed_at``; True only once."""
        return self._update(
            blob_id, "SET updated_at = :now",
            "attribute_exists(id) AND callback_state = :sending AND updated_at = :claimed",
            {":sending": "sending", ":claimed": claimed_at, ":now": now}, None)

    def record_callback(self, blob_id: str, state: str, attempts: int,
                        last_error: str | None, delivered_at: str | None, now: str) -> bool:
        """Store the callback's outcome; False if the blob was deleted meanwhile."""
        return self._update(
            blob_id,
            "SET callback_state = :state, callback_attempts = :attempts, "
            "callback_last_error = :error, callback_delivered_at = :delivered, "
            "updated_at = :now",
            "attribute_exists(id)",
            {":state": state, ":attempts": attempts, ":error": last_error,
             ":delivered": delivered_at, ":now": now}, None)

    def _update(self, blob_id: str, expression: str, condition: str,
                values: dict[str, Any], names: dict[str, str] | None) -> bool:
        request: dict[str, Any] = {
            "Key": {"id": blob_id}, "UpdateExpression": expression,
            "ConditionExpression": condition, "ExpressionAttributeValues": values,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            with transient_as_unavailable("updating the blob record"):
                self._table.update_item(**request)
        except self._client_error() as error:
            if error_code(error) == _CONDITION_FAILED:
                return False
            raise
        return True

    @staticmethod
    def _client_error() -> type[Exception]:
        from botocore.exceptions import ClientError

        return ClientError


def _decimal(score: float) -> Decimal:
    # DynamoDB numbers are decimals; six places keep the score's meaning.
    return Decimal(f"{float(score):.6f}")


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item with Decimals turned back into ints and floats."""
    return {name: _plain_value(value) for name, value in item.items()}


def _plain_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain_value(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain_value(item) for name, item in value.items()}
    return value
