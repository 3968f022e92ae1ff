"""X-Ray subsegments, sent to the X-Ray daemon over UDP with the standard library.

With active tracing (``"xray": true`` for the stage), Lambda records the
function's segment itself, runs the daemon next to the function and passes
each invocation's trace header in ``_X_AMZN_TRACE_ID``.  What only the code
knows -- how long inference, a URL fetch or a callback took -- goes into
subsegments of that segment.  The X-Ray SDK would do the same at the price
of its import on every cold start; the protocol is one JSON document per
datagram after a fixed header.

Locally (``TRACING=true`` and ``AWS_XRAY_DAEMON_ADDRESS`` pointing at a
daemon you run) there is no Lambda segment, so each request gets a segment
of its own and the subsegments hang under it.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping
from typing import Any

# Imported on the cold path of every traced invocation: standard modules only,
# and none that a cold start would not load anyway (no socket until a send).
# The IAM grants for X-Ray live in chalicelib/observability/grants.py.
DAEMON_HEADER = b'{"format": "json", "version": 1}\n'
TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
DAEMON_ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
# Subsegments that call out of the function are "remote" in the trace map.
_REMOTE = frozenset({"url_fetch", "callback"})


def new_trace_id(now: float) -> str:
    """An X-Ray trace id: version, start time in hex, 96 random bits."""
    return f"1-{int(now):08x}-{os.urandom(12).hex()}"


def new_segment_id() -> str:
    return os.urandom(8).hex()


def parse_trace_header(header: str | None) -> dict[str, str]:
    """``Root=...;Parent=...;Sampled=1`` as a dict (empty for None)."""
    parts = (item.split("=", 1) for item in (header or "").split(";") if "=" in item)
    return {key.strip(): value.strip() for key, value in parts}


def daemon_address(environ: Mapping[str, str]) -> tuple[str, int] | None:
    """Where the daemon listens for segments (UDP), or None when not set.

    The variable may hold ``host:port`` or ``tcp:host:port udp:host:port``.
    """
    raw = environ.get(DAEMON_ADDRESS_VARIABLE)
    if not raw:
        return None
    chosen = next((item[4:] for item in raw.split() if item.startswith("udp:")),
                  raw.split()[0])
    host, _, port = chosen.rpartition(":")
    try:
        return host, int(port)
    except ValueError:
        return None


class Subsegment:
    __slots__ = ("id", "name", "start_time")

    def __init__(self, name: str, id: str, start_time: float) -> None:
        self.name = name
        self.id = id
        self.start_time = start_time


class Trace:
    """One invocation's place in X-Ray: where subsegments are sent and hung."""

    def __init__(self, trace_id: str, parent_id: str, address: tuple[str, int],
                 own_segment: dict[str, Any] | None = None) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.address = address
        # A locally started segment (no Lambda): sent when the request ends.
        self.own_segment = own_segment

    def begin(self, name: str) -> Subsegment:
        return Subsegment(name=name, id=new_segment_id(), start_time=time.time())

    def end(self, subsegment: Subsegment, failed: bool = False) -> None:
        document: dict[str, Any] = {
            "name": subsegment.name, "id": subsegment.id, "trace_id": self.trace_id,
            "parent_id": self.parent_id, "type": "subsegment",
            "start_time": subsegment.start_time, "end_time": time.time()}
        if subsegment.name in _REMOTE:
            document["namespace"] = "remote"
        if failed:
            document["fault"] = True
        self._send(document)

    def finish(self, status: int | None = None) -> None:
        """Send the locally started segment, if any, now that the request is over."""
        if self.own_segment is None:
            return
        segment = dict(self.own_segment, end_time=time.time())
        if status is not None:
            segment["http"] = {"response": {"status": status}}
            if status >= 500:
                segment["fault"] = True
            elif status >= 400:
                segment["error"] = True
        self._send(segment)

    def _send(self, document: dict[str, Any]) -> None:
        # Tracing must never fail a request: a lost datagram is a lost span.
        try:
            _udp_socket().sendto(DAEMON_HEADER + json.dumps(document).encode("utf-8"),
                                 self.address)
        except OSError:
            pass


@functools.cache
def _udp_socket() -> Any:
    # One per container: sendto on a UDP socket is safe from several threads.
    import socket

    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def start_trace(name: str, environ: Mapping[str, str] | None = None) -> Trace | None:
    """The invocation's trace when it is sampled and a daemon is known, else None.

    ``environ`` defaults to the process environment at the time of the call:
    Lambda sets the trace header there for each invocation.
    """
    environ = os.environ if environ is None else environ
    address = daemon_address(environ)
    if address is None:
        return None
    header = parse_trace_header(environ.get(TRACE_HEADER_VARIABLE))
    if header.get("Root") and header.get("Parent"):
        if header.get("Sampled") != "1":
            return None
        return Trace(header["Root"], header["Parent"], address)
    now = time.time()
    segment = {"name": name, "id": new_segment_id(), "trace_id": new_trace_id(now),
               "start_time": now}
    return Trace(segment["trace_id"], segment["id"], address, own_segment=segment)
