"""Query parameters and page cursors, read the same way on every route.

Every route that takes a query string reads it through these functions, so
one spelling of a number, a boolean, a limit or a cursor holds everywhere:

* numbers are ASCII only: an optional sign, digits, at most one decimal point
  and, where a float is allowed, an exponent -- no blanks, no Unicode digits
  (``str.isdigit`` is true for '²' and Arabic-Indic digits), no ``nan``, ``inf`` or ``1_000``;
* a value longer than :data:`MAX_VALUE_LENGTH` is refused before any
  conversion (Python's int() refuses 4,300+ digits with a ValueError);
* booleans are ``true`` or ``false`` (also ``1`` or ``0``);
* a parameter given twice, or one the route does not take, is refused.

Each refusal is an :class:`InvalidInput` whose message names the parameter
and the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from chalicelib.errors import InvalidInput

Query = Mapping[str, Sequence[str]]

# Long enough for any float64 written out in full, short enough that no
# conversion does real work on hostile input.
MAX_VALUE_LENGTH = 64
# Every listing in the API pages the same way.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
PAGE_PARAMETERS = frozenset({"limit", "cursor"})
MAX_CURSOR_LENGTH = 2048

_INTEGER = re.compile(r"[+-]?[0-9]+\Z", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z", re.ASCII)
_TRUE, _FALSE = ("true", "1"), ("false", "0")
_FOREIGN_CURSOR = ("cursor is not one this API gave out; pass the next_cursor of the "
                   "previous page unchanged")


class PageRequest(NamedTuple):
    """What a list request asks for: a page size and where to continue (None: the start)."""

    limit: int
    cursor: str | None


def single(query: Query, name: str) -> str | None:
    """The one value of ``name``, or None when absent; raises InvalidInput if repeated."""
    values = list(query.get(name) or ())
    if len(values) > 1:
        raise InvalidInput(f"{name} is given {len(values)} times; give it once",
                           parameter=name)
    return values[0] if values else None


def reject_unknown(query: Query, known: Collection[str], prefixes: Sequence[str] = ()
                   ) -> None:
    """Raises InvalidInput naming the first parameter outside ``known`` (and not
    starting with one of ``prefixes``)."""
    unknown = sorted(name for name in query
                     if name not in known and not name.startswith(tuple(prefixes)))
    if unknown:
        accepted = sorted(known) + [f"{prefix}<name>" for prefix in prefixes]
        takes = (f"this route takes {', '.join(accepted)}" if accepted
                 else "this route takes no query parameters")
        raise InvalidInput(f"unknown query parameter {_shown(unknown[0])}; {takes}",
                           parameter=unknown[0])


def parse_integer(text: str, name: str, minimum: int | None = None,
                  maximum: int | None = None) -> int:
    """``text`` as an ASCII integer within the bounds; raises InvalidInput naming ``name``."""
    if len(text) > MAX_VALUE_LENGTH or not _INTEGER.match(text):
        raise InvalidInput(f"{name} must be a whole number{_range(minimum, maximum)}, "
                           f"got {_shown(text)}", parameter=name, value=_clipped(text))
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidInput(f"{name} must be a whole number{_range(minimum, maximum)}, "
                           f"got {value}", parameter=name, value=_clipped(text))
    return value


def parse_number(text: str, name: str, minimum: float | None = None,
                 maximum: float | None = None) -> float:
    """``text`` as a finite ASCII decimal within the bounds; raises InvalidInput."""
    if len(text) > MAX_VALUE_LENGTH or not _DECIMAL.match(text):
        what = "an empty string" if text == "" else _shown(text)
        raise InvalidInput(f"{name} must be a finite decimal number{_range(minimum, maximum)}"
                           f", got {what}", parameter=name, value=_clipped(text))
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"{name} = {_shown(text)} overflows a 64-bit float",
                           parameter=name, value=_clipped(text))
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidInput(f"{name} must be a finite decimal number"
                           f"{_range(minimum, maximum)}, got {_shown(text)}",
                           parameter=name, value=_clipped(text))
    return value


def parse_boolean(text: str, name: str) -> bool:
    """``true``/``1`` or ``false``/``0``; raises InvalidInput naming ``name``."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{name} must be true or false, got {_shown(text)}", parameter=name,
                       value=_clipped(text))


def integer(query: Query, name: str, default: int, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """The integer parameter ``name`` (``default`` when absent); raises InvalidInput."""
    text = single(query, name)
    return default if text is None else parse_integer(text, name, minimum, maximum)


def number(query: Query, name: str, default: float, minimum: float | None = None,
           maximum: float | None = None) -> float:
    """The float parameter ``name`` (``default`` when absent); raises InvalidInput."""
    text = single(query, name)
    return default if text is None else parse_number(text, name, minimum, maximum)


def boolean(query: Query, name: str, default: bool) -> bool:
    """The boolean parameter ``name`` (``default`` when absent); raises InvalidInput."""
    text = single(query, name)
    return default if text is None else parse_boolean(text, name)


def choice(query: Query, name: str, options: Sequence[str], default: str) -> str:
    """One of ``options`` (``default`` when absent); raises InvalidInput."""
    text = single(query, name)
    if text is None:
        return default
    if text not in options:
        raise InvalidInput(f"{name} must be one of {', '.join(options)}, got {_shown(text)}",
                           parameter=name, value=_clipped(text))
    return text


def page_request(query: Query) -> PageRequest:
    """``?limit=`` (1..MAX_PAGE_SIZE, default DEFAULT_PAGE_SIZE) and ``?cursor=``.

    The cursor is returned as given: the listing that issued it decodes it
    with :func:`decode_cursor`.  Raises InvalidInput.
    """
    cursor = single(query, "cursor")
    if cursor is not None and (cursor == "" or len(cursor) > MAX_CURSOR_LENGTH):
        raise InvalidInput(_FOREIGN_CURSOR, parameter="cursor")
    return PageRequest(integer(query, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE), cursor)


def page(items: list[Any], position: Mapping[str, Any] | None, name: str = "items"
         ) -> dict[str, Any]:
    """A list answer: ``{name: items, "next_cursor": token or null}``."""
    return {name: items, "next_cursor": None if position is None else encode_cursor(position)}


def encode_cursor(position: Mapping[str, Any]) -> str:
    """An opaque, URL-safe token for a page position."""
    text = json.dumps(dict(position), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(token: str, keys: Collection[str]) -> dict[str, str]:
    """The position a token stands for: an object of exactly ``keys``, all strings.

    Raises InvalidInput (parameter ``cursor``) for anything this API did not issue.
    """
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        position = None
    if (not isinstance(position, dict) or set(position) != set(keys)
            or not all(isinstance(value, str) for value in position.values())):
        raise InvalidInput(_FOREIGN_CURSOR, parameter="cursor")
    return position


def foreign_cursor() -> InvalidInput:
    """The error for a well-formed cursor that names no position of this listing."""
    return InvalidInput(_FOREIGN_CURSOR, parameter="cursor")


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {_plain(minimum)} to {_plain(maximum)}"
    if minimum is not None:
        return f" of at least {_plain(minimum)}"
    if maximum is not None:
        return f" of at most {_plain(maximum)}"
    return ""


def _plain(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _clipped(text: str) -> str:
    return text if len(text) <= MAX_VALUE_LENGTH else text[:MAX_VALUE_LENGTH] + "..."


def _shown(text: str) -> str:
    return repr(_clipped(text))
