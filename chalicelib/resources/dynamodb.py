"""A resource held in a DynamoDB table whose hash key is the string ``id``.

Writes are conditional: create never overwrites, update and delete never
create, and with If-Match they only apply to the expected version.  Every
attribute name goes through ExpressionAttributeNames, so reserved words
(``name``, ``value``, ``status``...) work.  JSON numbers become Decimals on the
way in and plain ints/floats on the way out (boto3 refuses floats).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib import iam
from chalicelib.resources.contract import Filter, Item, ListQuery, Page, Stored, new_version
from chalicelib.resources.errors import ItemExists, ItemTooLarge, UnknownItem, VersionMismatch
from chalicelib.resources.items import (
    ID_ATTRIBUTE,
    MAX_DIGITS,
    MAX_ITEM_BYTES,
    VERSION_ATTRIBUTE,
    check_item_size,
    from_decimal,
    to_decimal,
)
from chalicelib.transient import transient_as_unavailable

# What this adapter calls; the deployment's IAM policy grants exactly these on
# the configured tables.
IAM_GRANTS = (
    iam.Grant(("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
               "dynamodb:DeleteItem", "dynamodb:Scan"), iam.dynamodb_resource_tables()),
)

# With filters, a scan may find few matches per call: read bigger batches, but
# only so many per request, to bound the request's time.  The cursor still
# points just after the last item returned.
_FILTERED_BATCH = 100
_MAX_SCANS_PER_PAGE = 10
_TOO_LARGE = "exceeded the maximum allowed size"


class DynamoStore:
    """A ResourceStore on one table; takes a built boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def list_items(self, query: ListQuery) -> Page:
        """One page of items in the table's scan order."""
        names = _Names()
        request: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        if query.fields is not None:
            request["ProjectionExpression"] = ", ".join(
                names.of(name) for name in dict.fromkeys((*query.fields, ID_ATTRIBUTE)))
        values: dict[str, Any] = {}
        if query.filters:
            request["FilterExpression"] = self._filter_expression(query.filters, names,
                                                                  values)
            request["ExpressionAttributeValues"] = values
        if names.mapping:
            request["ExpressionAttributeNames"] = names.mapping
        start = None if query.after is None else self._key(query.after)
        found: list[Item] = []
        for _ in range(_MAX_SCANS_PER_PAGE):
            wanted = query.limit - len(found)
            if start is not None:
                request["ExclusiveStartKey"] = start
            with transient_as_unavailable("listing items"):
                response = self._client.scan(
                    **request,
                    Limit=max(wanted, _FILTERED_BATCH) if query.filters else wanted)
            items = [self._from_dynamo(raw) for raw in response["Items"]]
            start = response.get("LastEvaluatedKey")
            if len(items) > wanted:
                found.extend(items[:wanted])
                return self._page(found, query.fields, found[-1][ID_ATTRIBUTE])
            found.extend(items)
            if start is None or len(found) == query.limit:
                break
        return self._page(found, query.fields,
                          None if start is None else start[ID_ATTRIBUTE]["S"])

    def get_item(self, item_id: str, fields: tuple[str, ...] | None = None) -> Stored:
        """The item (strongly consistent read); raises UnknownItem."""
        request: dict[str, Any] = {"TableName": self._table, "Key": self._key(item_id),
                                   "ConsistentRead": True}
        if fields is not None:
            names = _Names()
            request["ProjectionExpression"] = ", ".join(
                names.of(name) for name in (*fields, VERSION_ATTRIBUTE))
            request["ExpressionAttributeNames"] = names.mapping
        with transient_as_unavailable("reading an item"):
            raw = self._client.get_item(**request).get("Item")
        if raw is None:
            raise UnknownItem(f"no item with id {item_id!r}", id=item_id)
        return self._stored(raw)

    def create_item(self, item: Item) -> Stored:
        """Put the item unless its id exists; raises ItemExists, ItemTooLarge."""
        check_item_size(item)
        version = new_version()
        raw = self._to_dynamo({**item, VERSION_ATTRIBUTE: version})
        try:
            with transient_as_unavailable("storing an item"):
                self._client.put_item(TableName=self._table, Item=raw,
                                      ConditionExpression="attribute_not_exists(#id)",
                                      ExpressionAttributeNames={"#id": ID_ATTRIBUTE})
        except self._client.exceptions.ConditionalCheckFailedException:
            raise ItemExists(f"an item with id {item[ID_ATTRIBUTE]!r} already exists",
                             id=item[ID_ATTRIBUTE]) from None
        except ClientError as error:
            _raise_if_too_large(error)
            raise
        return Stored(dict(item), version)

    def update_item(self, item_id: str, changes: Item,
                    expected: frozenset[str] | None = None) -> Stored:
        """Set the attributes of an existing item; raises UnknownItem, VersionMismatch,
        ItemTooLarge."""
        current = self.get_item(item_id)  # UnknownItem if missing
        if expected is not None and not expected:
            raise _mismatch(item_id)
        # The one size rule, on the item as it would be; DynamoDB's own limit
        # still guards against a writer that grew it since this read.
        check_item_size({**current.item, **changes})
        names = _Names()
        values: dict[str, Any] = {}
        assignments = []
        for index, (name, value) in enumerate(changes.items()):
            values[f":a{index}"] = self._to_dynamo_value(value)
            assignments.append(f"{names.of(name)} = :a{index}")
        values[":version"] = {"S": new_version()}
        assignments.append(f"{names.of(VERSION_ATTRIBUTE)} = :version")
        condition = self._condition(names, values, expected)
        try:
            with transient_as_unavailable("updating an item"):
                response = self._client.update_item(
                    TableName=self._table, Key=self._key(item_id),
                    UpdateExpression="SET " + ", ".join(assignments),
                    ConditionExpression=condition, ExpressionAttributeNames=names.mapping,
                    ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise _missing_or_mismatch(item_id, error) from None
        except ClientError as error:
            _raise_if_too_large(error)
            raise
        return self._stored(response["Attributes"])

    def delete_item(self, item_id: str, expected: frozenset[str] | None = None) -> None:
        """Delete an existing item; raises UnknownItem, VersionMismatch."""
        if expected is not None and not expected:
            self.get_item(item_id, fields=())
            raise _mismatch(item_id)
        names = _Names()
        values: dict[str, Any] = {}
        condition = self._condition(names, values, expected)
        request: dict[str, Any] = {"TableName": self._table, "Key": self._key(item_id),
                                   "ConditionExpression": condition,
                                   "ExpressionAttributeNames": names.mapping,
                                   "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            with transient_as_unavailable("deleting an item"):
                self._client.delete_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException as error:
            raise _missing_or_mismatch(item_id, error) from None

    def _condition(self, names: _Names, values: dict[str, Any],
                   expected: frozenset[str] | None) -> str:
        condition = f"attribute_exists({names.of(ID_ATTRIBUTE)})"
        if expected is None:
            return condition
        placeholders = []
        for index, version in enumerate(sorted(expected)):
            values[f":expected{index}"] = {"S": version}
            placeholders.append(f":expected{index}")
        return (f"{condition} AND {names.of(VERSION_ATTRIBUTE)} "
                f"IN ({', '.join(placeholders)})")

    def _filter_expression(self, filters: tuple[Filter, ...], names: _Names,
                           values: dict[str, Any]) -> str:
        clauses = []
        for position, condition in enumerate(filters):
            name = names.of(condition.name)
            alternatives = []
            for index, accepted in enumerate(condition.accepted):
                placeholder = f":f{position}_{index}"
                values[placeholder] = self._serializer.serialize(accepted)
                if isinstance(accepted, str):
                    alternatives.append(f"{name} = {placeholder}")
                else:
                    # DynamoDB never equates a number with a boolean, but the
                    # emulator does (True == 1 in Python): say the type too.
                    kind = "BOOL" if isinstance(accepted, bool) else "N"
                    values[f":type{kind}"] = {"S": kind}
                    alternatives.append(f"(attribute_type({name}, :type{kind}) AND "
                                        f"{name} = {placeholder})")
            clauses.append("(" + " OR ".join(alternatives) + ")")
        return " AND ".join(clauses)

    def _page(self, items: list[Item], fields: tuple[str, ...] | None,
              last_id: str | None) -> Page:
        hidden = {VERSION_ATTRIBUTE}
        if fields is not None and ID_ATTRIBUTE not in fields:
            hidden.add(ID_ATTRIBUTE)  # projected only to find the cursor
        return Page([{name: value for name, value in item.items() if name not in hidden}
                     for item in items], last_id)

    def _key(self, item_id: str) -> dict[str, Any]:
        return {ID_ATTRIBUTE: {"S": item_id}}

    def _stored(self, raw: dict[str, Any]) -> Stored:
        item = self._from_dynamo(raw)
        return Stored(item, item.pop(VERSION_ATTRIBUTE, None))

    def _from_dynamo(self, raw: dict[str, Any]) -> Item:
        return {name: _to_json(self._deserializer.deserialize(value))
                for name, value in raw.items()}

    def _to_dynamo(self, item: Item) -> dict[str, Any]:
        return {name: self._to_dynamo_value(value) for name, value in item.items()}

    def _to_dynamo_value(self, value: Any) -> dict[str, Any]:
        return self._serializer.serialize(_to_storable(value))


class _Names:
    """ExpressionAttributeNames: one placeholder per attribute name, so any
    name -- reserved word, dots, spaces -- is taken literally."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}
        self._placeholders: dict[str, str] = {}

    def of(self, name: str) -> str:
        if name not in self._placeholders:
            placeholder = f"#n{len(self._placeholders)}"
            self._placeholders[name] = placeholder
            self.mapping[placeholder] = name
        return self._placeholders[name]


def _to_storable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return _within_precision(to_decimal(value))
    if isinstance(value, list):
        return [_to_storable(element) for element in value]
    return {name: _to_storable(element) for name, element in value.items()}


def _within_precision(number: Decimal) -> Decimal:
    """``number`` with trailing zeros moved into its exponent when its digits
    exceed DynamoDB's 38 (10**38 is storable, but boto3 refuses 39 digits)."""
    sign, digits, exponent = number.as_tuple()
    if len(digits) <= MAX_DIGITS or not isinstance(exponent, int):
        return number
    kept = len(digits)
    while kept > 1 and digits[kept - 1] == 0:
        kept -= 1
    return Decimal((sign, digits[:kept], exponent + len(digits) - kept))


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return from_decimal(value)
    if isinstance(value, list):
        return [_to_json(element) for element in value]
    if isinstance(value, dict):
        return {name: _to_json(element) for name, element in value.items()}
    if isinstance(value, (set, frozenset)):
        # String and number sets can only come from other writers: JSON has lists.
        return sorted((_to_json(element) for element in value), key=str)
    if isinstance(value, Binary):  # likewise: JSON has no bytes
        return base64.b64encode(value.value).decode("ascii")
    return value


def _missing_or_mismatch(item_id: str, error: Any) -> Exception:
    # ALL_OLD returns the item when it exists: then only the version differed.
    if error.response.get("Item"):
        return _mismatch(item_id)
    return UnknownItem(f"no item with id {item_id!r}", id=item_id)


def _mismatch(item_id: str) -> VersionMismatch:
    return VersionMismatch(f"item {item_id!r} has changed since the version in If-Match",
                           id=item_id)


def _raise_if_too_large(error: ClientError) -> None:
    details = error.response.get("Error", {})
    if details.get("Code") == "ValidationException" and _TOO_LARGE in details.get(
            "Message", ""):
        raise ItemTooLarge(f"the item would exceed the item limit of {MAX_ITEM_BYTES} bytes",
                           limit=MAX_ITEM_BYTES) from None
