"""The Chalice middleware: one record per HTTP request and per queue message.

app.py registers :func:`observe` for every event type.  A request's record
is written when its response is known (the domain-error mapping and
Chalice's own 500 handler have run by then, so the status and error code are
the ones the caller got); a message's record when the handler is done with it
(see :func:`message`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalice.app import Chalice, Request, SQSEvent

from chalicelib.caller import describe_caller
from chalicelib.observability import emf, logs
from chalicelib.observability.scope import CURRENT, Scope

LOG = logging.getLogger("chalicelib.observability")
_cold_start = True


def observe(app: Chalice, event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Run one invocation inside a scope and write its records."""
    if isinstance(event, SQSEvent):
        return _observe_queue_batch(app, event, get_response)
    if event is None or isinstance(event, Request):
        return _observe_request(app, event, get_response)
    return get_response(event)


def _settings() -> Any:
    from chalicelib.wiring import get_settings

    settings = get_settings()
    logs.HANDLER.use_format(settings.log_format)
    return settings


def _invocation_fields(context: Any, stage: str) -> dict[str, Any]:
    global _cold_start
    cold, _cold_start = _cold_start, False
    fields = {"stage": stage,
              "function_request_id": getattr(context, "aws_request_id", None),
              "cold_start": cold}
    # Lambda sets the trace header per invocation when X-Ray tracing is active.
    header = os.environ.get("_X_AMZN_TRACE_ID", "")
    if header.startswith("Root="):
        fields["xray_trace_id"] = header[5:].split(";", 1)[0]
    return fields


def _start_trace(scope: Scope, app: Chalice, settings: Any) -> None:
    if settings.tracing:
        from chalicelib.observability.tracing import start_trace

        scope.trace = start_trace(app.app_name)


def _observe_request(app: Chalice, request: Request | None,
                     get_response: Callable[[Any], Any]) -> Any:
    settings = _settings()
    context = request.context if request is not None else {}
    fields = {"kind": "request",
              **_invocation_fields(getattr(app, "lambda_context", None), settings.stage),
              "request_id": context.get("requestId"),
              "method": context.get("httpMethod"),
              "route": context.get("resourcePath")}
    caller = _caller(context)
    if caller:
        fields["caller"] = caller
    scope = Scope(fields)
    _start_trace(scope, app, settings)
    token = CURRENT.set(scope)
    status, body = 500, None
    try:
        response = get_response(request)
        status, body = response.status_code, response.body
        return response
    finally:
        CURRENT.reset(token)
        fields["status"] = status
        fields["latency_ms"] = scope.elapsed_ms()
        code = _error_code(body) if status >= 400 else None
        if code:
            fields["error_code"] = code
        logs.write(emf.embed(fields, settings.metrics_namespace, emf.REQUEST_DIMENSIONS,
                             emf.request_metrics(fields), _now_ms()))
        if scope.trace is not None:
            scope.trace.finish(status)


def _caller(context: dict[str, Any]) -> str | None:
    identity = describe_caller(context)
    return identity["userArn"] or identity["caller"]


def _error_code(body: Any) -> str | None:
    # The API's error body says "code"; Chalice's own errors say "Code".
    if isinstance(body, dict):
        code = body.get("code") or body.get("Code")
        return str(code) if code else None
    return None


def _observe_queue_batch(app: Chalice, event: SQSEvent,
                         get_response: Callable[[Any], Any]) -> Any:
    settings = _settings()
    scope = Scope(_invocation_fields(event.context, settings.stage))
    _start_trace(scope, app, settings)
    token = CURRENT.set(scope)
    try:
        return get_response(event)
    except Exception:
        # Lambda will deliver the whole batch again; the trace is for the operator.
        LOG.exception("the queue handler failed; SQS will deliver the batch again")
        raise
    finally:
        CURRENT.reset(token)
        if scope.trace is not None:
            scope.trace.finish()


@contextmanager
def message(message_id: str) -> Iterator[None]:
    """One queue message's scope: its fields, then its record on the way out.

    Outside a queue invocation (no scope from :func:`observe`) it records nothing.
    """
    batch = CURRENT.get()
    if batch is None:
        yield
        return
    fields = {"kind": "message", **batch.fields, "message_id": message_id}
    scope = Scope(fields)
    scope.trace = batch.trace
    token = CURRENT.set(scope)
    try:
        yield
    except Exception as error:
        fields["outcome"] = "error"
        fields["error"] = type(error).__name__
        raise
    finally:
        CURRENT.reset(token)
        fields["latency_ms"] = scope.elapsed_ms()
        _write_stage_record(fields, emf.message_metrics(fields))


def count_dead_lettered(count: int, queue: str) -> None:
    """Record ``count`` messages found in (or moved to) the dead-letter ``queue``."""
    scope = CURRENT.get()
    ids = {name: scope.fields[name] for name in ("function_request_id", "xray_trace_id")
           if scope is not None and name in scope.fields}
    fields = {"kind": "dead_letter", "stage": _settings().stage, **ids, "queue": queue,
              "count": count}
    _write_stage_record(fields, {"MessagesDeadLettered": (count, emf.COUNT)})


def _write_stage_record(fields: dict[str, Any], metrics: dict[str, tuple[float, str]]
                        ) -> None:
    logs.write(emf.embed(fields, _settings().metrics_namespace, emf.STAGE_DIMENSIONS,
                         metrics, _now_ms()))


def _now_ms() -> int:
    return int(time.time() * 1000)
