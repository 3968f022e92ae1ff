"""The blob routes' logic: create, describe, list and delete blobs."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib import netguard, params
from chalicelib.errors import InvalidInput, NotFound
from chalicelib.uploads.processing import blob_id_from_key, now_text, object_key
from chalicelib.uploads.records import LISTING_PARTITION, BlobRecords
from chalicelib.uploads.storage import BlobStorage

CREATE_FIELDS = frozenset({"callback_url", "content_type"})
# What Pillow reads and the labellers accept; S3 stores it as the object's type.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp",
                         "image/bmp", "image/tiff"})
MAX_URL_LENGTH = 2048
# How long resolving a callback URL's host may hold the create request.
CHECK_SECONDS = 3.0
_CURSOR_KEYS = frozenset({"id", "listing", "created_at"})
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def create_blob(payload: Any, records: BlobRecords, storage: BlobStorage, *,
                expires_in: int, max_bytes: int, allow_loopback: bool) -> dict[str, Any]:
    """Record a pending blob, then presign its upload.

    Raises InvalidInput (bad body, refused callback URL), Unavailable.
    """
    callback_url, content_type = _parse_create(payload, allow_loopback)
    blob_id = str(uuid.uuid4())
    created_at = now_text()
    record: dict[str, Any] = {"id": blob_id, "status": "pending", "created_at": created_at,
                              "updated_at": created_at}
    if callback_url:
        record.update(callback_url=callback_url, callback_state="pending",
                      callback_attempts=0)
    if content_type:
        record["content_type"] = content_type
    # The record comes first: an upload can then never find its blob missing.
    records.create(record)
    upload = storage.presign_upload(object_key(blob_id), content_type, expires_in)
    form = storage.presign_post(object_key(blob_id), content_type, max_bytes, expires_in)
    return {
        **describe_record(record),
        "upload_url": upload.url,
        "method": upload.method,
        "headers": upload.headers,
        # The alternative for forms: S3 itself refuses uploads over max_bytes.
        "post": {"url": form.url, "fields": form.fields},
        "expires_in": expires_in,
        "expires_at": int(time.time()) + expires_in,
        "max_bytes": max_bytes,
    }


def describe_blob(blob_id: str, records: BlobRecords) -> dict[str, Any]:
    """The blob as the API shows it; raises NotFound, Unavailable."""
    checked = _checked_id(blob_id)
    record = records.get(checked) if checked else None
    if record is None:
        raise NotFound(f"there is no blob {blob_id!r}", id=blob_id)
    return describe_record(record)


def list_blobs(query: Mapping[str, Sequence[str]], records: BlobRecords
               ) -> dict[str, Any]:
    """A page of blobs, newest first, with the cursor of the next page (or null).

    Raises InvalidInput for an unknown parameter, a bad limit or cursor.
    """
    params.reject_unknown(query, params.PAGE_PARAMETERS)
    page = params.page_request(query)
    items, last = records.list_recent(
        page.limit, None if page.cursor is None else _decode_cursor(page.cursor))
    return params.page([describe_record(item) for item in items], last, name="blobs")


def delete_blob(blob_id: str, records: BlobRecords, storage: BlobStorage) -> None:
    """Delete the blob's object, then its record; raises NotFound, Unavailable."""
    checked = _checked_id(blob_id)
    if checked is None or records.get(checked) is None:
        raise NotFound(f"there is no blob {blob_id!r}", id=blob_id)
    # Object first: if the record went first and the object delete failed,
    # nothing would point at the object any more.
    storage.delete(object_key(checked))
    if not records.delete(checked):
        raise NotFound(f"there is no blob {blob_id!r}", id=blob_id)


def describe_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The public view of a stored record."""
    view: dict[str, Any] = {
        "id": record["id"],
        "status": record["status"],
        "created_at": record["created_at"],
        "updated_at": record.get("updated_at", record["created_at"]),
    }
    for name in ("content_type", "finished_at", "error"):
        if record.get(name) is not None:
            view[name] = record[name]
    if record.get("size_bytes") is not None:
        view["size"] = record["size_bytes"]
    if record["status"] == "done":
        view["labels"] = [{"label": item["label"], "score": float(item["score"])}
                          for item in record.get("labels", [])]
    if record.get("callback_url"):
        view["callback"] = {
            "url": record["callback_url"],
            "status": record.get("callback_state", "pending"),
            "attempts": int(record.get("callback_attempts") or 0),
            "last_error": record.get("callback_last_error"),
            "delivered_at": record.get("callback_delivered_at"),
        }
    return view


def _parse_create(payload: Any, allow_loopback: bool) -> tuple[str | None, str | None]:
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object like "
                           "{\"callback_url\": \"https://...\", \"content_type\": "
                           "\"image/jpeg\"}")
    unknown = sorted(set(payload) - CREATE_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; expected "
                           f"{sorted(CREATE_FIELDS)}", field=unknown[0])
    callback_url = payload.get("callback_url")
    if callback_url is not None:
        if not isinstance(callback_url, str) or len(callback_url) > MAX_URL_LENGTH:
            raise InvalidInput(f"\"callback_url\" must be an http(s) URL of at most "
                               f"{MAX_URL_LENGTH} characters", field="callback_url")
        try:
            netguard.check_url(callback_url, allow_loopback=allow_loopback,
                               deadline=time.monotonic() + CHECK_SECONDS)
        except (netguard.HostUnresolved, netguard.FetchFailed):
            # A name that does not resolve yet is not refused: the callback is
            # checked again when it is sent, and retried, then failed, there.
            pass
        except netguard.UrlRefused as error:
            raise InvalidInput(f"callback_url refused: {error.message}",
                               field="callback_url", **error.details) from None
    content_type = payload.get("content_type")
    if content_type is not None and (not isinstance(content_type, str)
                                     or content_type.lower() not in IMAGE_TYPES):
        raise InvalidInput(f"\"content_type\" must be one of {sorted(IMAGE_TYPES)}",
                           field="content_type",
                           value=content_type if isinstance(content_type, str) else None)
    return callback_url, content_type.lower() if content_type else None


def _checked_id(blob_id: str) -> str | None:
    return blob_id if blob_id_from_key(object_key(blob_id)) else None


def _decode_cursor(cursor: str) -> dict[str, str]:
    position = params.decode_cursor(cursor, _CURSOR_KEYS)
    if (position["listing"] != LISTING_PARTITION or _checked_id(position["id"]) is None
            or not _TIMESTAMP.fullmatch(position["created_at"])):
        raise params.foreign_cursor()
    return position
