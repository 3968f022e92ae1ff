"""Domain errors raised by chalicelib.

They carry what went wrong and for which value; they know nothing about HTTP.
The mapping to status codes lives in one place: ``chalicelib.web``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the application reports to its callers."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The caller's input cannot be used as given."""


class PayloadTooLarge(DomainError):
    """The input exceeds a configured or platform limit."""


class UnsupportedMediaType(DomainError):
    """The request body's Content-Type is not one the route accepts."""


class ImageRejected(InvalidInput):
    """An image cannot be used: empty, not an image, truncated or too large."""


class NotFound(DomainError):
    """The addressed thing does not exist."""


class Conflict(DomainError):
    """The request conflicts with the current state (e.g. the id exists)."""


class PreconditionFailed(DomainError):
    """A conditional request's precondition (If-Match) does not hold."""


class Unavailable(DomainError):
    """A service the request depends on failed in a way that may pass; retry later."""


class ConfigurationError(Exception):
    """The stage's configuration is missing or invalid (an operator's error)."""
