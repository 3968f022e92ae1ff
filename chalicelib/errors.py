"""Domain errors raised by chalicelib.

They carry what went wrong and for which value; the code that raises them
knows nothing about HTTP.  The one table from error to status is
:data:`HTTP_STATUS` below (each capability adds its row there); the edge,
``chalicelib.web``, applies it to every route.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the application reports to its callers."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def code(self) -> str:
        """The ``code`` callers see: the class's name, unless the class sets CODE."""
        return getattr(type(self), "CODE", type(self).__name__)


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


# Domain error -> HTTP status, most specific first: the first row whose class
# the error is an instance of wins.  One row per error a capability adds.
HTTP_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (Unavailable, 503),
)
# Seconds a client should wait before retrying a 503 (sent as Retry-After).
RETRY_AFTER_SECONDS = 1


def http_status(error: BaseException) -> int:
    """The status the API answers ``error`` with: its row in HTTP_STATUS, else 500."""
    for error_type, status in HTTP_STATUS:
        if isinstance(error, error_type):
            return status
    return 500
