"""The list query string, list cursors and If-Match, parsed in one place.

    ?limit=N            page size (chalicelib.params: 1..100, default 20)
    ?cursor=TOKEN       continue after the page whose next_cursor was TOKEN
    ?fields=a,b         return only these top-level attributes
    ?filter.NAME=VALUE  keep items whose attribute NAME equals VALUE

Anything else is rejected, so a typo never silently returns everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, DecimalException

from chalicelib import params
from chalicelib.errors import InvalidInput
from chalicelib.resources.contract import Filter, ListQuery
from chalicelib.resources.items import is_storable_number, validate_attribute_name, validate_id

FILTER_PREFIX = "filter."
LIST_PARAMETERS = params.PAGE_PARAMETERS | {"fields"}
MAX_FIELDS = 100
MAX_FILTERS = 20
MAX_ENTITY_TAGS = 20
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_ENTITY_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*(?:,|\Z)')


def parse_list_query(query: Mapping[str, Sequence[str]]) -> ListQuery:
    """The ListQuery a list request's query string asks for; raises InvalidInput."""
    params.reject_unknown(query, LIST_PARAMETERS, prefixes=(FILTER_PREFIX,))
    filters = [Filter(validate_attribute_name(name[len(FILTER_PREFIX):], name),
                      filter_values(params.single(query, name) or ""))
               for name in query if name.startswith(FILTER_PREFIX)]
    if len(filters) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters are allowed", parameter="filter")
    page = params.page_request(query)
    return ListQuery(
        limit=page.limit,
        after=None if page.cursor is None else decode_cursor(page.cursor),
        fields=parse_fields(query),
        filters=tuple(filters),
    )


def parse_fields(query: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The ``fields`` projection (None: every attribute); raises InvalidInput."""
    text = params.single(query, "fields")
    if text is None:
        return None
    names = [validate_attribute_name(name.strip(), "fields") for name in text.split(",")]
    if len(names) > MAX_FIELDS:
        raise InvalidInput(f"fields names {len(names)} attributes; at most {MAX_FIELDS}",
                           parameter="fields")
    return tuple(dict.fromkeys(names))


def reject_parameters(query: Mapping[str, Sequence[str]], allowed: Sequence[str] = ()
                      ) -> None:
    """Raise InvalidInput for any query parameter not in ``allowed``."""
    params.reject_unknown(query, allowed)


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
    return params.encode_cursor({"id": last_id})


def decode_cursor(token: str) -> str:
    """The id a ``cursor`` token continues after; raises InvalidInput."""
    position = params.decode_cursor(token, {"id"})
    try:
        return validate_id(position["id"])
    except InvalidInput:
        raise params.foreign_cursor() from None


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
