"""The storage contract every resource backend satisfies (see tests/contract)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from chalicelib.params import DEFAULT_PAGE_SIZE

Item = dict[str, Any]


class Stored(NamedTuple):
    """An item as stored, with the version that changes on every write."""

    item: Item
    version: str | None


class Filter(NamedTuple):
    """Keep items whose attribute ``name`` equals one of ``accepted``.

    ``accepted`` holds a string and possibly a Decimal or a bool: a query
    string cannot say which type the caller meant, so each plausible reading
    is tried.
    """

    name: str
    accepted: tuple[str | Decimal | bool, ...]


class ListQuery(NamedTuple):
    limit: int = DEFAULT_PAGE_SIZE
    after: str | None = None
    fields: tuple[str, ...] | None = None
    filters: tuple[Filter, ...] = ()


class Page(NamedTuple):
    """Up to ``limit`` items; ``last_id`` is where the next page starts after
    (None at the end).  A page may be short, even empty, before the end."""

    items: list[Item]
    last_id: str | None


def new_version() -> str:
    """A fresh, unguessable version token (an ETag's value)."""
    return os.urandom(16).hex()


class ResourceStore(Protocol):
    """Where one resource's items live.

    ``expected`` is the If-Match precondition: None means unconditional, a set
    means the current version must be one of its members (an empty set never
    matches).  Every method raises UnknownItem for a missing id before it
    considers ``expected``.
    """

    def list_items(self, query: ListQuery) -> Page:
        """One page of items in a stable order."""
        ...

    def get_item(self, item_id: str, fields: tuple[str, ...] | None = None) -> Stored:
        """The item; raises UnknownItem."""
        ...

    def create_item(self, item: Item) -> Stored:
        """Store a new item; raises ItemExists (never overwrites), ItemTooLarge."""
        ...

    def update_item(self, item_id: str, changes: Item,
                    expected: frozenset[str] | None = None) -> Stored:
        """Set the given top-level attributes; raises UnknownItem (never creates),
        VersionMismatch, ItemTooLarge."""
        ...

    def delete_item(self, item_id: str, expected: frozenset[str] | None = None) -> None:
        """Remove the item; raises UnknownItem, VersionMismatch."""
        ...
