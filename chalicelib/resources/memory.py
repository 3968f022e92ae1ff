"""A resource held in this process's memory: for local work and tests.

Each Lambda container has its own copy, so data is neither shared nor kept;
use DynamoDB for anything real.  Chalice's local server runs requests on
threads, so every operation holds one lock.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.resources.contract import (
    Filter,
    Item,
    ListQuery,
    Page,
    Stored,
    new_version,
)
from chalicelib.resources.errors import ItemExists, UnknownItem, VersionMismatch
from chalicelib.resources.items import (
    ID_ATTRIBUTE,
    check_item_size,
    to_decimal,
)


class MemoryStore:
    """A ResourceStore in a dict, ordered by id."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Stored] = {}
        self._ids: list[str] = []  # sorted, for stable pages
        for item in items:
            self.create_item(item)

    def list_items(self, query: ListQuery) -> Page:
        """One page of items in id order."""
        with self._lock:
            start = 0 if query.after is None else bisect.bisect_right(self._ids, query.after)
            matching = (item_id for item_id in self._ids[start:]
                        if _passes(self._items[item_id].item, query.filters))
            page_ids = list(itertools.islice(matching, query.limit))
            more = next(matching, None) is not None
            items = [_project(self._items[item_id].item, query.fields) for item_id in page_ids]
        return Page(items, page_ids[-1] if more else None)

    def get_item(self, item_id: str, fields: tuple[str, ...] | None = None) -> Stored:
        """The item; raises UnknownItem."""
        with self._lock:
            stored = self._require(item_id)
            return Stored(_project(stored.item, fields), stored.version)

    def create_item(self, item: Item) -> Stored:
        """Store a new item; raises ItemExists, ItemTooLarge."""
        item = copy.deepcopy(item)
        check_item_size(item)
        with self._lock:
            item_id = item[ID_ATTRIBUTE]
            if item_id in self._items:
                raise ItemExists(f"an item with id {item_id!r} already exists", id=item_id)
            stored = Stored(item, new_version())
            self._items[item_id] = stored
            bisect.insort(self._ids, item_id)
            return Stored(copy.deepcopy(item), stored.version)

    def update_item(self, item_id: str, changes: Item,
                    expected: frozenset[str] | None = None) -> Stored:
        """Set the given attributes; raises UnknownItem, VersionMismatch, ItemTooLarge."""
        with self._lock:
            current = self._require(item_id)
            _check_version(item_id, current, expected)
            item = {**current.item, **copy.deepcopy(changes)}
            check_item_size(item)
            stored = Stored(item, new_version())
            self._items[item_id] = stored
            return Stored(copy.deepcopy(item), stored.version)

    def delete_item(self, item_id: str, expected: frozenset[str] | None = None) -> None:
        """Remove the item; raises UnknownItem, VersionMismatch."""
        with self._lock:
            _check_version(item_id, self._require(item_id), expected)
            del self._items[item_id]
            self._ids.pop(bisect.bisect_left(self._ids, item_id))

    def _require(self, item_id: str) -> Stored:
        stored = self._items.get(item_id)
        if stored is None:
            raise UnknownItem(f"no item with id {item_id!r}", id=item_id)
        return stored


def _check_version(item_id: str, stored: Stored, expected: frozenset[str] | None) -> None:
    if expected is not None and stored.version not in expected:
        raise VersionMismatch(f"item {item_id!r} has changed since the version in If-Match",
                              id=item_id)


def _project(item: Item, fields: tuple[str, ...] | None) -> Item:
    if fields is None:
        return copy.deepcopy(item)
    return {name: copy.deepcopy(item[name]) for name in fields if name in item}


def _passes(item: Item, filters: tuple[Filter, ...]) -> bool:
    return all(condition.name in item
               and any(_equal(item[condition.name], value) for value in condition.accepted)
               for condition in filters)


def _equal(stored: Any, wanted: str | Decimal | bool) -> bool:
    # DynamoDB's equality: same type, numbers compared by value (50 == 50.0).
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return type(stored) is type(wanted) and stored == wanted
    if isinstance(stored, (int, float)) and isinstance(wanted, Decimal):
        return to_decimal(stored) == wanted
    return isinstance(stored, str) and isinstance(wanted, str) and stored == wanted
