"""Operating the API: structured logs, CloudWatch metrics (EMF) and X-Ray subsegments.

app.py hooks :func:`observe` in as middleware; the capabilities add what
only they know to the current request's or message's record:

    observability.record(images=3, failed_images=1)
    with observability.timed("model_ms", trace="inference"):
        ...
    with observability.message(message_id):   # one record per queue message
        ...

Outside a request or message these do nothing, so library code may call
them unconditionally.  See docs/operating.md for the fields and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.observability.scope import milliseconds_since, record, timed

if TYPE_CHECKING:
    from chalice import Chalice

__all__ = ["count_dead_lettered", "message", "milliseconds_since", "observe", "record",
           "timed"]


def observe(app: Chalice) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """The middleware for ``app``: a record per request and per queue message."""
    from chalicelib.observability import logs, middleware

    logs.install(app.log)

    def observe_event(event: Any, get_response: Callable[[Any], Any]) -> Any:
        return middleware.observe(app, event, get_response)
    return observe_event


def message(message_id: str) -> Any:
    """A queue message's scope (a context manager); its record is written on exit."""
    from chalicelib.observability.middleware import message as message_scope

    return message_scope(message_id)


def count_dead_lettered(count: int, queue: str) -> None:
    """Record messages sent to (or found in) a dead-letter queue, as a metric."""
    from chalicelib.observability.middleware import count_dead_lettered as count_them

    count_them(count, queue)
