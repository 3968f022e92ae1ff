"""Log lines: one JSON object per line (as CloudWatch stores them) or readable text.

Every line goes to standard output, which Lambda sends to CloudWatch Logs.
Two kinds of records pass through the same handler:

* the request and message records this package builds (a dict as message),
  written with their fields as they are;
* any other log call in chalicelib or Chalice's app logger, written with
  level, logger, message, the current request's ids and, for an exception,
  its traceback.

Whatever the kind, URLs inside a message lose everything but scheme and
host: a callback URL may carry a token in its path or query.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
import traceback
from typing import Any

from chalicelib.observability.scope import current_fields

RECORDS = logging.getLogger("chalicelib.observability")
# The fields a plain log line borrows from the request or message it belongs to.
CORRELATION_FIELDS = ("stage", "request_id", "function_request_id", "message_id", "route",
                      "method")
# One encoder for every line: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


@functools.cache
def _url_pattern() -> re.Pattern[str]:
    # Compiled on first use: a cold start that logs no message never needs it.
    return re.compile(r"(?P<scheme>https?)://(?P<rest>[^\s'\"<>]+)", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with each http(s) URL cut to ``scheme://host/…``."""
    def cut(match: re.Match[str]) -> str:
        rest = match.group("rest")
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = authority.rsplit("@", 1)[-1]
        tail = "/…" if len(rest) > len(authority) or "@" in authority else ""
        return f"{match.group('scheme')}://{host}{tail}"
    return _url_pattern().sub(cut, text)


def iso_timestamp(created: float) -> str:
    """UTC ISO 8601 with milliseconds, as CloudWatch Logs Insights parses it."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):
            line = {"timestamp": iso_timestamp(record.created), "level": record.levelname,
                    **record.msg}
        else:
            line = {"timestamp": iso_timestamp(record.created), "level": record.levelname,
                    "logger": record.name, "message": redact_urls(record.getMessage())}
            context = current_fields()
            line.update({name: context[name] for name in CORRELATION_FIELDS
                         if context.get(name) is not None})
            if record.exc_info:
                line["exception"] = redact_urls(
                    "".join(traceback.format_exception(*record.exc_info)))
        return _ENCODER.encode(line)


class TextFormatter(logging.Formatter):
    """One readable line per record: the route, status and milliseconds first."""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        if isinstance(record.msg, dict):
            return f"{clock} {describe(record.msg)}"
        text = f"{clock} {record.levelname} {record.name}: {redact_urls(record.getMessage())}"
        if record.exc_info:
            text += "\n" + redact_urls("".join(traceback.format_exception(*record.exc_info)))
        return text


# The fields a readable line shows after its headline, in this order.
_DETAILS = ("error_code", "caller", "images", "failed_images", "image_errors", "model", "decode_ms",
            "preprocess_ms", "model_ms", "fetch_ms", "blob_id", "labeller",
            "time_to_label_ms", "callback", "callback_attempts", "error", "queue", "count",
            "cold_start")


def describe(fields: dict[str, Any]) -> str:
    """A request or message record as one readable line."""
    if fields.get("kind") == "request":
        headline = (f"{fields.get('method')} {fields.get('route')} {fields.get('status')} "
                    f"{fields.get('latency_ms', 0):.1f} ms")
    elif fields.get("kind") == "message":
        headline = (f"message {fields.get('message_id')} {fields.get('outcome')} "
                    f"{fields.get('latency_ms', 0):.1f} ms")
    else:
        headline = str(fields.get("kind"))
    details = [f"{name}={_readable(fields[name])}" for name in _DETAILS
               if fields.get(name) not in (None, False)]
    return " ".join([headline, *details])


def _readable(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


class StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at the time (tests swap it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())

    def use_format(self, log_format: str) -> None:
        wanted = TextFormatter if log_format == "text" else JsonFormatter
        if not isinstance(self.formatter, wanted):
            self.setFormatter(wanted())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


HANDLER = StdoutHandler()


def install(app_logger: logging.Logger) -> None:
    """Send chalicelib's and the app's log records through :data:`HANDLER`."""
    package = logging.getLogger("chalicelib")
    if HANDLER not in package.handlers:
        package.addHandler(HANDLER)
    package.setLevel(logging.INFO)
    package.propagate = False
    # Chalice logs a view's unexpected exception (with its traceback) here.
    for handler in list(app_logger.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            app_logger.removeHandler(handler)
    if HANDLER not in app_logger.handlers:
        app_logger.addHandler(HANDLER)
    app_logger.propagate = False


def write(fields: dict[str, Any]) -> None:
    """Write one request, message or metric record."""
    # Logger.info would also look up the caller's frame, which no line shows.
    if RECORDS.isEnabledFor(logging.INFO):
        RECORDS.handle(logging.LogRecord(RECORDS.name, logging.INFO, "", 0, fields, None,
                                         None))
