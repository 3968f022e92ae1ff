"""What an item may contain, checked once for every backend.

The rules are DynamoDB's, applied up front so that the in-memory backend
accepts exactly what DynamoDB accepts and a bad item is a 400 naming the
problem rather than a ValidationException deep in an adapter.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from chalicelib.errors import InvalidInput

ID_ATTRIBUTE = "id"
# Holds the item's version in storage; callers never see or send it.
VERSION_ATTRIBUTE = "_version"
MAX_ID_LENGTH = 255
MAX_NAME_BYTES = 255
MAX_DEPTH = 32  # DynamoDB nests lists and maps at most 32 levels deep
# One limit for every backend, checked before any write by item_size's rules.
# DynamoDB documents 400 KB; the emulator refuses from 405,000 bytes by its own
# count.  400,000 is below both, so an item is accepted or refused alike everywhere.
MAX_ITEM_BYTES = 400_000
MAX_DIGITS = 38
# DynamoDB expressions are at most 4 KB; an update names each attribute once.
MAX_UPDATE_ATTRIBUTES = 100
MIN_EXPONENT, MAX_EXPONENT = -130, 125

# Ids travel in URL paths.  Only characters that need no percent-encoding are
# allowed: API Gateway decodes escapes in path parameters but Chalice's local
# server does not, so an escaped id would name different items in the two.
_ID_CHARACTERS = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+\Z")
_ALLOWED_ID_TEXT = "letters, digits and - . _ ~ : @ ! $ & ' ( ) * + , ; ="


def validate_id(value: Any, where: str = "id") -> str:
    """The id if it is a usable item id; raises InvalidInput naming the rule broken."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string, got {_json_kind(value)}", field=where)
    if not value:
        raise InvalidInput(f"{where} must not be empty", field=where)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{where} is {len(value)} characters long; at most "
                           f"{MAX_ID_LENGTH} are allowed", field=where)
    control = _first_control_character(value)
    if control is not None:
        raise InvalidInput(f"{where} contains the control character "
                           f"U+{ord(value[control]):04X} at position {control}", field=where)
    if not _ID_CHARACTERS.match(value):
        bad = next(char for char in value if not _ID_CHARACTERS.match(char))
        raise InvalidInput(f"{where} contains {bad!r}; ids may use only {_ALLOWED_ID_TEXT} "
                           f"(they appear unescaped in URLs)", field=where)
    return value


def validate_new_item(payload: Any) -> dict[str, Any]:
    """A JSON object with a valid ``id``, ready to store; raises InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"the body must be a JSON object with an \"id\", "
                           f"got {_json_kind(payload)}")
    if ID_ATTRIBUTE not in payload:
        raise InvalidInput("the body has no \"id\" field", field=ID_ATTRIBUTE)
    validate_id(payload[ID_ATTRIBUTE])
    _check_attributes(payload)
    return payload


def validate_changes(payload: Any, item_id: str) -> dict[str, Any]:
    """The attributes a partial update sets (without ``id``); raises InvalidInput."""
    if not isinstance(payload, dict):
        raise InvalidInput(f"the body must be a JSON object of attributes to set, "
                           f"got {_json_kind(payload)}")
    if ID_ATTRIBUTE in payload and payload[ID_ATTRIBUTE] != item_id:
        raise InvalidInput(f"the body's id {payload[ID_ATTRIBUTE]!r} differs from the "
                           f"path's {item_id!r}; an id cannot be changed",
                           field=ID_ATTRIBUTE)
    changes = {name: value for name, value in payload.items() if name != ID_ATTRIBUTE}
    if not changes:
        raise InvalidInput("the update is empty; send at least one attribute to set")
    if len(changes) > MAX_UPDATE_ATTRIBUTES:
        raise InvalidInput(f"the update sets {len(changes)} attributes; at most "
                           f"{MAX_UPDATE_ATTRIBUTES} at a time")
    _check_attributes(changes)
    return changes


def validate_attribute_name(name: str, where: str) -> str:
    """A top-level attribute name usable in queries; raises InvalidInput."""
    if not name:
        raise InvalidInput(f"{where} names an empty attribute", parameter=where)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInput(f"{where}: attribute names are at most {MAX_NAME_BYTES} bytes",
                           parameter=where)
    if name == VERSION_ATTRIBUTE:
        raise InvalidInput(f"{where}: the attribute {VERSION_ATTRIBUTE!r} is reserved",
                           parameter=where)
    return name


def to_decimal(number: int | float) -> Decimal:
    """The exact decimal a JSON number means (1.5 -> Decimal('1.5'), not its binary
    expansion)."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def from_decimal(number: Decimal) -> int | float:
    """The JSON number for a stored decimal: integers stay integers, 1.5 -> 1.5."""
    # JSON integers are stored in plain digits ("50"); floats as their repr,
    # which has a point or an exponent ("50.0", "9.9e+125").  An integer of
    # more than 38 digits is stored with an exponent ("1E+38") and so comes
    # back as the float of the same value.
    return int(number) if number.as_tuple().exponent == 0 else float(number)


def is_storable_number(number: Decimal) -> bool:
    """Whether DynamoDB can hold ``number`` exactly (38 digits, 1E-130..9.9E+125)."""
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    return (significant_digits(number) <= MAX_DIGITS
            and MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT)


def significant_digits(number: Decimal) -> int:
    """How many digits ``number`` has without leading and trailing zeros."""
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")
    return max(len(digits), 1)


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of the item in bytes, by its published sizing rules."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def check_item_size(item: dict[str, Any]) -> None:
    """Raises ItemTooLarge when ``item``, stored with its version, exceeds MAX_ITEM_BYTES."""
    from chalicelib.resources.errors import ItemTooLarge

    size = item_size(item) + _VERSION_BYTES
    if size > MAX_ITEM_BYTES:
        raise ItemTooLarge(f"the item would take {size} bytes; items are limited to "
                           f"{MAX_ITEM_BYTES} bytes", size=size, limit=MAX_ITEM_BYTES)


# Every backend stores the version attribute (32 hex digits) with the item.
_VERSION_BYTES = len(VERSION_ATTRIBUTE) + 32


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return (significant_digits(to_decimal(value)) + 1) // 2 + 1
    if isinstance(value, list):
        return 3 + sum(1 + _value_size(element) for element in value)
    return 3 + sum(1 + len(name.encode("utf-8")) + _value_size(element)
                   for name, element in value.items())


def _check_attributes(attributes: dict[str, Any]) -> None:
    for name, value in attributes.items():
        validate_attribute_name(name, f"attribute {name!r}" if name else "the body")
        _check_value(value, name, depth=0)


def _check_value(value: Any, path: str, depth: int) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if not is_storable_number(to_decimal(value)):
            raise InvalidInput(f"{path} = {value!r} cannot be stored: numbers have at most "
                               f"{MAX_DIGITS} significant digits and a magnitude between "
                               f"1E-130 and 9.9E+125", field=path)
        return
    if depth >= MAX_DEPTH:
        raise InvalidInput(f"{path} nests lists and objects more than {MAX_DEPTH} levels deep",
                           field=path)
    if isinstance(value, list):
        for index, element in enumerate(value):
            _check_value(element, f"{path}[{index}]", depth + 1)
        return
    for name, element in value.items():
        if not name:
            raise InvalidInput(f"{path} has an object key that is empty", field=path)
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise InvalidInput(f"{path} has an object key over {MAX_NAME_BYTES} bytes",
                               field=path)
        _check_value(element, f"{path}.{name}", depth + 1)


def _first_control_character(text: str) -> int | None:
    for position, char in enumerate(text):
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0:
            return position
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
