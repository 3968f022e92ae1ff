"""Query parameters and opaque page cursors, read the same way on every route."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.errors import InvalidInput

Query = Mapping[str, Sequence[str]]


def single(query: Query, name: str) -> str | None:
    """The one value of ``name``, or None when absent; raises InvalidInput if repeated."""
    values = list(query.get(name) or ())
    if len(values) > 1:
        raise InvalidInput(f"{name} is given {len(values)} times; give it once",
                           parameter=name)
    return values[0] if values else None


def reject_unknown(query: Query, known: set[str] | frozenset[str]) -> None:
    """Raises InvalidInput naming any parameter outside ``known``."""
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise InvalidInput(f"unknown query parameter(s) {', '.join(map(repr, unknown))}; "
                           f"this route takes {', '.join(sorted(known))}",
                           parameters=unknown)


def encode_cursor(position: Mapping[str, Any]) -> str:
    """An opaque, URL-safe token for a page position."""
    text = json.dumps(dict(position), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> dict[str, Any] | None:
    """The position a token stands for, or None when it is not one we issued."""
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        return None
    return position if isinstance(position, dict) else None
