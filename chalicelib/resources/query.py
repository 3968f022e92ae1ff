"""The list query string, list cursors and If-Match, parsed in one place.

    ?limit=N            page size, 1..100 (default 20)
    ?next=TOKEN         continue after the page that returned TOKEN
    ?fields=a,b         return only these top-level attributes
    ?filter.NAME=VALUE  keep items whose attribute NAME equals VALUE

Anything else is rejected, so a typo never silently returns everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, DecimalException

from chalicelib.errors import InvalidInput
from chalicelib.params import decode_cursor as decode_token
from chalicelib.params import encode_cursor as encode_token
from chalicelib.params import single
from chalicelib.resources.contract import DEFAULT_LIMIT, MAX_LIMIT, Filter, ListQuery
from chalicelib.resources.items import is_storable_number, validate_attribute_name, validate_id

FILTER_PREFIX = "filter."
LIST_PARAMETERS = ("limit", "next", "fields")
MAX_FIELDS = 100
MAX_FILTERS = 20
MAX_ENTITY_TAGS = 20
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*(?:,|\Z)')


def parse_list_query(params: Mapping[str, Sequence[str]]) -> ListQuery:
    """The ListQuery a list request's query string asks for; raises InvalidInput."""
    filters = []
    for name in params:
        if name.startswith(FILTER_PREFIX):
            attribute = validate_attribute_name(name[len(FILTER_PREFIX):], name)
            filters.append(Filter(attribute, filter_values(single(params, name))))
        elif name not in LIST_PARAMETERS:
            raise InvalidInput(f"unknown query parameter {name!r}; use limit, next, fields "
                               f"or filter.<attribute>", parameter=name)
    if len(filters) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters are allowed", parameter="filter")
    limit_text = single(params, "limit")
    next_text = single(params, "next")
    return ListQuery(
        limit=DEFAULT_LIMIT if limit_text is None else _parse_limit(limit_text),
        after=None if next_text is None else decode_cursor(next_text),
        fields=parse_fields(params),
        filters=tuple(filters),
    )


def parse_fields(params: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The ``fields`` projection (None: every attribute); raises InvalidInput."""
    text = single(params, "fields")
    if text is None:
        return None
    names = [validate_attribute_name(name.strip(), "fields") for name in text.split(",")]
    if len(names) > MAX_FIELDS:
        raise InvalidInput(f"fields names {len(names)} attributes; at most {MAX_FIELDS}",
                           parameter="fields")
    return tuple(dict.fromkeys(names))


def reject_parameters(params: Mapping[str, Sequence[str]], allowed: Sequence[str] = ()
                      ) -> None:
    """Raise InvalidInput for any query parameter not in ``allowed``."""
    for name in params:
        if name not in allowed:
            accepted = f"only {', '.join(allowed)} is accepted" if allowed else \
                "this route takes no query parameters"
            raise InvalidInput(f"unknown query parameter {name!r}; {accepted}",
                               parameter=name)


def filter_values(text: str) -> tuple[str | Decimal | bool, ...]:
    """Every value ``text`` can stand for: the string itself, and the number or
    boolean it spells, if any."""
    values: list[str | Decimal | bool] = [text]
    if _DECIMAL.match(text):
        try:
            number = Decimal(text)
        except DecimalException:  # an exponent too large even for Decimal
            number = None
        # A number DynamoDB cannot hold cannot equal a stored one.
        if number is not None and is_storable_number(number):
            values.append(number)
    elif text in ("true", "false"):
        values.append(text == "true")
    return tuple(values)


def encode_cursor(last_id: str) -> str:
    """An opaque token for the page after ``last_id``."""
    return encode_token({"id": last_id})


def decode_cursor(token: str) -> str:
    """The id a ``next`` token continues after; raises InvalidInput."""
    key = decode_token(token)
    try:
        if key is None or set(key) != {"id"}:
            raise InvalidInput("not ours")
        validate_id(key["id"])
    except (TypeError, InvalidInput):
        raise InvalidInput("next is not a token this API returned; pass the \"next\" value "
                           "of the previous page unchanged", parameter="next") from None
    return key["id"]


def parse_if_match(header: str | None) -> frozenset[str] | None:
    """The versions an If-Match header accepts (None: any); raises InvalidInput.

    Weak tags (W/"...") never match: If-Match uses strong comparison.
    """
    if header is None or header.strip() == "*":
        return None
    versions: set[str] = set()
    position, count = 0, 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            raise InvalidInput('If-Match must be * or a list of quoted ETags like "3f2a..."',
                               header="If-Match")
        if match.group(1) is None:
            versions.add(match.group(2))
        position, count = match.end(), count + 1
    if count == 0:
        raise InvalidInput("If-Match is empty", header="If-Match")
    if count > MAX_ENTITY_TAGS:
        raise InvalidInput(f"If-Match lists more than {MAX_ENTITY_TAGS} ETags",
                           header="If-Match")
    return frozenset(versions)


def format_etag(version: str) -> str:
    """The ETag header value of a version."""
    return f'"{version}"'


def _parse_limit(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {text!r}",
                           parameter="limit", value=text)
    return int(text)

