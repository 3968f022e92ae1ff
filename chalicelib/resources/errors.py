"""The resources capability's domain errors; web.py maps their bases to HTTP."""

from __future__ import annotations

from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, PreconditionFailed


class UnknownResource(NotFound):
    """No resource of that name is configured for this stage."""


class UnknownItem(NotFound):
    """The resource holds no item with that id."""


class ItemExists(Conflict):
    """An item with that id already exists; create never overwrites."""


class VersionMismatch(PreconditionFailed):
    """The item's current version is not one the caller named in If-Match."""


class ItemTooLarge(PayloadTooLarge):
    """The item would exceed DynamoDB's 400 KB item limit."""
