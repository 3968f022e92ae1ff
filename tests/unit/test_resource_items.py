import json
import re
from decimal import Decimal

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.resources.items import (
    from_decimal,
    is_storable_number,
    item_size,
    to_decimal,
    validate_changes,
    validate_id,
    validate_new_item,
)


@pytest.mark.parametrize("number, decimal", [
    (1.5, Decimal("1.5")), (0.1, Decimal("0.1")), (50.0, Decimal("50.0")),
    (-2.5e-7, Decimal("-2.5e-7")), (50, Decimal(50)), (10**37, Decimal(10**37)),
])
def test_json_numbers_become_the_decimal_they_spell(number, decimal):
    assert to_decimal(number) == decimal
    assert str(to_decimal(number)) == str(decimal)


@pytest.mark.parametrize("text, number", [
    ("1.5", 1.5), ("50.0", 50.0), ("50", 50), ("1E+2", 100.0), ("-7", -7),
    ("0.1", 0.1), ("12345678901234567890123", 12345678901234567890123),
])
def test_stored_decimals_become_json_numbers(text, number):
    value = from_decimal(Decimal(text))
    assert value == number and type(value) is type(number)


@pytest.mark.parametrize("number", [0.1, 1.5, 3.141592653589793, 1e-130, 9.9e125,
                                    -123456.789, 2**53 + 1])
def test_round_trip_is_exact(number):
    value = from_decimal(to_decimal(number))
    assert value == number and json.dumps(value) == json.dumps(number)


@pytest.mark.parametrize("number, storable", [
    (Decimal(0), True), (Decimal("1E-130"), True), (Decimal("1E-131"), False),
    (Decimal("9.9E+125"), True), (Decimal("1E+126"), False),
    (Decimal(10**38 - 1), True), (Decimal(10**38 + 1), False), (Decimal(10**40), True),
    (Decimal("NaN"), False), (Decimal("Infinity"), False),
])
def test_storable_numbers_follow_dynamodb_limits(number, storable):
    assert is_storable_number(number) is storable


@pytest.mark.parametrize("item_id", ["000-1", "a", "x" * 255, "user@example.com",
                                     "a:b~c.d_e!$&'()*+,;="])
def test_valid_ids(item_id):
    assert validate_id(item_id) == item_id


@pytest.mark.parametrize("item_id, message", [
    (1, "must be a string, got a number"),
    (None, "must be a string, got null"),
    (["a"], "must be a string, got a list"),
    ("", "must not be empty"),
    ("x" * 256, "256 characters long; at most 255"),
    ("a\tb", "control character U+0009 at position 1"),
    ("a\x7f", "control character U+007F"),
    ("a\u0085", "control character U+0085"),
    ("a b", "contains ' '"),
    ("a/b", "contains '/'"),
    ("caf\u00e9", "contains 'é'"),
    ("50%", "contains '%'"),
])
def test_invalid_ids_say_why(item_id, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        validate_id(item_id)


def test_new_items_keep_every_attribute():
    item = {"id": "a", "nested": {"list": [1, {"b": None}]}, "status": "active"}
    assert validate_new_item(item) == {"id": "a", "nested": {"list": [1, {"b": None}]},
                                       "status": "active"}


@pytest.mark.parametrize("item, message", [
    ({"id": "a", "": 1}, "empty attribute"),
    ({"id": "a", "x" * 256: 1}, "at most 255 bytes"),
    ({"id": "a", "m": {"": 1}}, "object key that is empty"),
    ({"id": "a", "deep": [[[[1e-200]]]]}, r"deep\[0\]\[0\]\[0\]\[0\] = 1e-200 cannot be stored"),
    ({"id": "a", "big": 10**40 + 1}, "at most 38 significant digits"),
])
def test_unstorable_items_are_rejected(item, message):
    with pytest.raises(InvalidInput, match=message):
        validate_new_item(item)


def test_nesting_is_limited_to_32_levels():
    ok, too_deep = [], []
    for _ in range(31):
        ok = [ok]
    for _ in range(32):
        too_deep = [too_deep]
    validate_new_item({"id": "a", "x": ok})
    with pytest.raises(InvalidInput, match="more than 32 levels"):
        validate_new_item({"id": "a", "x": too_deep})


def test_changes_drop_a_matching_id():
    assert validate_changes({"id": "a", "n": 1}, "a") == {"n": 1}


def test_item_size_follows_dynamodb_rules():
    # name bytes + value: "id"(2) + "abc"(3); "n"(1) + 1 digit -> 2; "ok"(2) + bool 1
    assert item_size({"id": "abc", "n": 5, "ok": True}) == 5 + 3 + 3
    # list: 3 bytes + 1 per element + elements
    assert item_size({"l": ["ab", None]}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"s": "é"}) == 1 + 2


def test_an_update_sets_at_most_a_hundred_attributes():
    with pytest.raises(InvalidInput, match="sets 101 attributes; at most 100"):
        validate_changes({f"a{index}": index for index in range(101)}, "x")
