"""What one invocation, request or queue message records while it runs.

A scope is a dict of log fields plus its start time, held in a context
variable: capability code adds fields with :func:`record` and timings with
:func:`timed` without knowing whether anyone is listening (outside a scope
both do nothing), and each thread of the local server sees its own scope.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from types import TracebackType
from typing import Any


class Scope:
    """The fields one request or message will log, and when it started."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.started = time.perf_counter()
        self.trace: Any = None  # a tracing.Trace when X-Ray is on

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)


CURRENT: ContextVar[Scope | None] = ContextVar("observability_scope", default=None)


def current_fields() -> dict[str, Any]:
    """The current scope's fields (empty outside a request or message)."""
    scope = CURRENT.get()
    return scope.fields if scope is not None else {}


def record(**fields: Any) -> None:
    """Add fields to the current request's or message's log line."""
    scope = CURRENT.get()
    if scope is not None:
        scope.fields.update(fields)


class timed:  # lower case: used as a context manager, like contextlib's
    """Add the milliseconds the block takes to ``field`` (summed over repeats).

    With ``trace``, the block is also an X-Ray subsegment of that name when
    tracing is on.
    """

    def __init__(self, field: str, trace: str | None = None) -> None:
        self._field = field
        self._trace = trace
        self._scope: Scope | None = None
        self._subsegment: Any = None

    def __enter__(self) -> timed:
        self._scope = CURRENT.get()
        if self._scope is not None and self._trace and self._scope.trace is not None:
            self._subsegment = self._scope.trace.begin(self._trace)
        self._started = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        scope = self._scope
        if scope is None:
            return
        spent = (time.perf_counter() - self._started) * 1000
        scope.fields[self._field] = round(scope.fields.get(self._field, 0.0) + spent, 3)
        if self._subsegment is not None:
            scope.trace.end(self._subsegment, failed=kind is not None)


def milliseconds_since(timestamp: str | None) -> float | None:
    """Milliseconds from an ISO 8601 timestamp (as S3 events carry) until now."""
    from datetime import datetime

    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round((time.time() - moment.timestamp()) * 1000, 3)
