"""The HTTP edge: request parsing helpers and the domain-error mapping.

This is the only module that turns domain errors into status codes.  Views
registered through :class:`Api` raise domain errors freely; every other
exception still reaches Chalice's own 500 handler untouched.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, CORSConfig, Response

from chalicelib import errors

STATUS_BY_ERROR: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.InvalidInput, 400),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PreconditionFailed, 412),
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.Unavailable, 503),
)


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None,
                   **details: Any) -> Response:
    """The one error body shape of this API: ``{code, message, ...details}``."""
    return Response(body={"code": code, "message": message, **details},
                    status_code=status, headers=headers or {})


def to_response(error: errors.DomainError) -> Response:
    """Map a domain error to its HTTP response."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return error_response(status, type(error).__name__,
                                  error.message, **error.details)
    raise error  # an unmapped DomainError subclass is a programming error


def _mapping_domain_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except errors.DomainError as error:
            return to_response(error)
    return wrapper


class Api(Chalice):
    """A Chalice app whose routes answer domain errors with JSON 4xx."""

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        register = super().route(path, **kwargs)

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            register(_mapping_domain_errors(view))
            return view
        return decorator


def json_body(raw: bytes | str | None) -> Any:
    """Parse a JSON request body strictly (no NaN/Infinity).

    Raises InvalidInput when the body is missing or is not JSON.
    """
    if raw is None or raw in (b"", ""):
        raise errors.InvalidInput("the request body is empty; send JSON")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise errors.InvalidInput("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as error:
        raise errors.InvalidInput(
            f"the request body is not valid JSON: {error.msg}",
            line=error.lineno, column=error.colno) from None
    except RecursionError:
        # json's decoder recurses once per nesting level: "[[[[..." exhausts the stack.
        raise errors.InvalidInput("the request body nests arrays or objects too deeply"
                                  ) from None


def _reject_constant(name: str) -> Any:
    raise errors.InvalidInput(
        f"{name} is not valid JSON; send finite numbers only", value=name)


class StageCors(CORSConfig):
    """CORS headers whose allowed origin is read from the stage's settings per request.

    Routes are declared at import time, before tests (or any caller) set the
    stage's environment, so the origin is looked up when a response is built.
    Without an origin the route sends no CORS headers at all.
    """

    def __init__(self, origin: Callable[[], str | None]) -> None:
        super().__init__(allow_origin="")
        self._origin = origin

    @property
    def allow_origin(self) -> str:
        return self._origin() or ""

    @allow_origin.setter
    def allow_origin(self, value: str) -> None:
        """Ignored: the origin comes from the stage's settings."""

    def get_access_control_headers(self) -> dict[str, str]:
        if not self.allow_origin:
            return {}
        return super().get_access_control_headers()
