from decimal import Decimal

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.resources.contract import Filter, ListQuery
from chalicelib.resources.query import (
    decode_cursor,
    encode_cursor,
    filter_values,
    format_etag,
    parse_if_match,
    parse_list_query,
)


def test_no_parameters_mean_the_first_twenty_items():
    assert parse_list_query({}) == ListQuery(limit=20, after=None, fields=None, filters=())


def test_every_parameter_together():
    query = parse_list_query({"limit": ["5"], "cursor": [encode_cursor("000-7")],
                              "fields": ["id, full_name,id"],
                              "filter.status": ["active"], "filter.value": ["1.5"]})
    assert query.limit == 5
    assert query.after == "000-7"
    assert query.fields == ("id", "full_name")
    assert query.filters == (Filter("status", ("active",)),
                             Filter("value", ("1.5", Decimal("1.5"))))


@pytest.mark.parametrize("limit", ["1", "100", "007"])
def test_limits_in_range(limit):
    assert parse_list_query({"limit": [limit]}).limit == int(limit)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1.0", "", " 5", "²", "1e1", "1000"])
def test_limits_out_of_range_or_not_whole(limit):
    with pytest.raises(InvalidInput, match="limit must be a whole number from 1 to 100"):
        parse_list_query({"limit": [limit]})


@pytest.mark.parametrize("name", ["offset", "filters", "Limit", "filter", "sort"])
def test_unknown_parameters_are_named(name):
    with pytest.raises(InvalidInput, match=f"unknown query parameter '{name}'"):
        parse_list_query({name: ["x"]})


def test_the_version_attribute_cannot_be_queried():
    with pytest.raises(InvalidInput, match="reserved"):
        parse_list_query({"filter._version": ["x"]})
    with pytest.raises(InvalidInput, match="reserved"):
        parse_list_query({"fields": ["id,_version"]})


@pytest.mark.parametrize("text, expected", [
    ("active", ("active",)),
    ("50", ("50", Decimal("50"))),
    ("-0.25", ("-0.25", Decimal("-0.25"))),
    ("1e3", ("1e3", Decimal("1e3"))),
    ("true", ("true", True)),
    ("false", ("false", False)),
    ("True", ("True",)),
    ("nan", ("nan",)),
    ("Infinity", ("Infinity",)),
    ("1_000", ("1_000",)),
    ("1e999999999999", ("1e999999999999",)),
    ("1e200", ("1e200",)),
    ("", ("",)),
])
def test_filter_values_are_the_string_and_what_it_spells(text, expected):
    assert filter_values(text) == expected


@pytest.mark.parametrize("item_id", ["000-1", "a:b@c.d", "x" * 255])
def test_cursors_round_trip_and_are_url_safe(item_id):
    token = encode_cursor(item_id)
    assert decode_cursor(token) == item_id
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789-_")


@pytest.mark.parametrize("token", ["garbage!", "", "e30", encode_cursor("a")[:-3],
                                   "eyJpZCI6IDF9", "WzFd", "eyJpZCI6ImEiLCJ4IjoxfQ"])
def test_foreign_cursors_are_rejected(token):
    # e30 = {}, eyJpZCI6IDF9 = {"id": 1}, WzFd = [1], the last = {"id":"a","x":1}
    with pytest.raises(InvalidInput, match="cursor is not one this API gave out"):
        decode_cursor(token)


@pytest.mark.parametrize("header, expected", [
    (None, None),
    ("*", None),
    ('"abc"', frozenset({"abc"})),
    (' "a" , "b",W/"c"', frozenset({"a", "b"})),
    ('W/"weak"', frozenset()),
])
def test_if_match(header, expected):
    assert parse_if_match(header) == expected


@pytest.mark.parametrize("header", ["abc", '"a" "b"', '"a', "", "  ", '"a",,"b"',
                                    ", ".join(['"x"'] * 21)])
def test_malformed_if_match(header):
    with pytest.raises(InvalidInput, match="If-Match"):
        parse_if_match(header)


def test_etag_is_the_quoted_version_and_parses_back():
    assert parse_if_match(format_etag("3f2a")) == frozenset({"3f2a"})
