"""Signed callbacks: tell the uploader's URL how its blob ended.

The body is compact JSON, ``{"blobId", "status", "labels" | "error"}``.  Two
headers let the receiver check it came from us and is fresh:

    X-Signature-Timestamp: <unix seconds when this attempt was signed>
    X-Signature-SHA256:    sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

The secret is the stage's (an SSM SecureString); binding the timestamp into
the MAC lets receivers refuse replays of an old, validly signed body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import iam, netguard

# The SecureString is encrypted with the account's aws/ssm key, which SSM may
# use on the caller's behalf; a customer-managed key would need kms:Decrypt.
IAM_GRANTS = (
    iam.Grant(("ssm:GetParameter",), iam.ssm_parameter("CALLBACK_SECRET_PARAMETER")),
)
SIGNATURE_HEADER = "X-Signature-SHA256"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
REPLAY_WINDOW_SECONDS = 300
# Worth another attempt: the receiver is overloaded or briefly broken.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    state: str  # "delivered" or "failed"
    attempts: int
    last_error: str | None
    delivered_at: float | None


def callback_body(record: dict[str, Any]) -> bytes:
    """The JSON body announcing a finished blob's outcome."""
    payload: dict[str, Any] = {"blobId": record["id"], "status": record["status"]}
    if record["status"] == "done":
        payload["labels"] = [{"label": item["label"], "score": float(item["score"])}
                             for item in record.get("labels", [])]
    else:
        payload["error"] = record.get("error", "")
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Signature-SHA256`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: bytes, timestamp: str, signature: str, body: bytes, now: float,
           window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """Whether the headers sign ``body`` under ``secret`` within ``window`` seconds."""
    # str.isdigit alone admits '²' and other digits int() refuses.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or abs(
            now - int(timestamp)) > window:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


def deliver(url: str, body: bytes, secret: bytes, *, attempts: int, backoff: float,
            timeout: float, allow_loopback: bool,
            send: Callable[..., int] = netguard.post,
            sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.time) -> Delivery:
    """POST ``body`` signed, retrying with exponential backoff; never raises.

    A 2xx answer delivers.  A host that does not resolve, connection failures,
    timeouts, 408/425/429 and 5xx answers are retried up to ``attempts`` times,
    waiting ``backoff``, 2 x ``backoff``, ...  A refused address or any other
    answer fails at once.
    """
    last_error = None
    for attempt in range(1, attempts + 1):
        timestamp = int(clock())
        headers = {"Content-Type": "application/json",
                   "User-Agent": "chalice-reference-api/uploads",
                   TIMESTAMP_HEADER: str(timestamp),
                   SIGNATURE_HEADER: sign(secret, timestamp, body)}
        try:
            status = send(url, body, headers, timeout=timeout,
                          allow_loopback=allow_loopback)
        except (netguard.HostUnresolved, netguard.FetchFailed) as error:
            last_error = error.message
        except netguard.UrlRefused as error:
            return Delivery("failed", attempt, f"refused: {error.message}", None)
        else:
            if 200 <= status < 300:
                return Delivery("delivered", attempt, None, clock())
            last_error = f"the receiver answered HTTP {status}"
            if status not in _RETRY_STATUSES:
                return Delivery("failed", attempt, last_error, None)
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    return Delivery("failed", attempts, last_error, None)


def read_secret(ssm: Any, name: str) -> bytes:
    """The callback signing secret from SSM Parameter Store; raises Unavailable."""
    from chalicelib.transient import transient_as_unavailable

    with transient_as_unavailable("reading the callback secret"):
        parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    return parameter["Value"].encode("utf-8")
