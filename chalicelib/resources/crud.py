"""The operations behind /api/{resource}: find the resource's store, validate,
delegate.  Everything here raises domain errors; nothing knows about HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.resources.contract import ResourceStore, Stored
from chalicelib.resources.errors import UnknownResource
from chalicelib.resources.items import validate_changes, validate_id, validate_new_item
from chalicelib.resources.query import (
    encode_cursor,
    parse_fields,
    parse_if_match,
    parse_list_query,
    reject_parameters,
)

Params = Mapping[str, Sequence[str]]


def find_store(stores: Mapping[str, ResourceStore], resource: str) -> ResourceStore:
    """The store holding ``resource``; raises UnknownResource."""
    store = stores.get(resource)
    if store is None:
        known = ", ".join(sorted(stores)) or "none"
        raise UnknownResource(f"there is no resource {resource!r} (this stage has: {known})",
                              resource=resource)
    return store


def list_items(stores: Mapping[str, ResourceStore], resource: str, params: Params
               ) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": token or null}``; raises UnknownResource,
    InvalidInput."""
    store = find_store(stores, resource)
    page = store.list_items(parse_list_query(params))
    return {"items": page.items,
            "next_cursor": None if page.last_id is None else encode_cursor(page.last_id)}


def read_item(stores: Mapping[str, ResourceStore], resource: str, item_id: str,
              params: Params) -> Stored:
    """One item; raises UnknownResource, UnknownItem, InvalidInput."""
    store = find_store(stores, resource)
    reject_parameters(params, allowed=("fields",))
    return store.get_item(validate_id(item_id), parse_fields(params))


def create_item(stores: Mapping[str, ResourceStore], resource: str, payload: Any,
                params: Params) -> Stored:
    """Store a new item; raises UnknownResource, InvalidInput, ItemExists, ItemTooLarge."""
    store = find_store(stores, resource)
    reject_parameters(params)
    return store.create_item(validate_new_item(payload))


def update_item(stores: Mapping[str, ResourceStore], resource: str, item_id: str,
                payload: Any, if_match: str | None, params: Params) -> Stored:
    """Set some attributes of an item; raises UnknownResource, InvalidInput, UnknownItem,
    VersionMismatch, ItemTooLarge."""
    store = find_store(stores, resource)
    reject_parameters(params)
    item_id = validate_id(item_id)
    return store.update_item(item_id, validate_changes(payload, item_id),
                             parse_if_match(if_match))


def delete_item(stores: Mapping[str, ResourceStore], resource: str, item_id: str,
                if_match: str | None, params: Params) -> None:
    """Remove an item; raises UnknownResource, InvalidInput, UnknownItem, VersionMismatch."""
    store = find_store(stores, resource)
    reject_parameters(params)
    store.delete_item(validate_id(item_id), parse_if_match(if_match))
