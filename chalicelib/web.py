"""The HTTP edge: the error contract and JSON request bodies.

Every error this API answers has the body ``{"code", "message", ...details}``,
built by :func:`error_body` and nowhere else.  :class:`Api` applies the
mapping to every view however it is registered (``app.route`` or a
Blueprint): a domain error gets its status from ``errors.HTTP_STATUS``, a
transient AWS failure is a 503 with Retry-After (``chalicelib.transient``),
and anything unexpected is a 500 ``InternalError`` naming the request id,
with the traceback in the log only.  Errors Chalice itself answers (405, 415,
its own 404/400) are rewritten to the same shape by an HTTP middleware.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Chalice, ChaliceViewError, CORSConfig, Response

from chalicelib import errors
from chalicelib.transient import as_unavailable

_log = logging.getLogger(__name__)
INTERNAL_ERROR_MESSAGE = ("the request failed on the server's side; quote its request_id "
                          "when reporting it")
# Chalice's own error codes, in this API's vocabulary.
_CHALICE_CODES = {"MethodNotAllowedError": "MethodNotAllowed",
                  "NotFoundError": "NotFound", "BadRequestError": "InvalidInput",
                  "BadRequest": "InvalidInput", "InternalServerError": "InternalError"}


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The one error body of this API: ``{code, message, ...details}``."""
    return {"code": code, "message": message, **details}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None,
                   **details: Any) -> Response:
    """An error Response with :func:`error_body`'s body."""
    return Response(body=error_body(code, message, **details), status_code=status,
                    headers=headers or {})


def to_response(error: errors.DomainError) -> Response:
    """A domain error's response: its status from ``errors.HTTP_STATUS``, code and
    message from the error, Retry-After on a 503."""
    status = errors.http_status(error)
    if status == 500:
        raise error  # a DomainError without a row in HTTP_STATUS is a programming error
    headers = {"Retry-After": str(errors.RETRY_AFTER_SECONDS)} if status == 503 else {}
    return error_response(status, error.code, error.message, headers,
                          **error.details)


def response_for(error: Exception, request_id: str | None) -> Response:
    """The response to any exception a view raised (see the module's docstring).

    Exposed for middleware that reports errors: the status and ``code`` of the
    returned response are what the caller sees.
    """
    if isinstance(error, errors.DomainError):
        return to_response(error)
    unavailable = as_unavailable(error)
    if unavailable is not None:
        _log.warning("transient failure (request %s): %r", request_id, error)
        return to_response(unavailable)
    _log.error("unexpected error (request %s)", request_id, exc_info=error)
    return error_response(500, "InternalError", INTERNAL_ERROR_MESSAGE,
                          request_id=request_id)


def _request_id(app: Chalice) -> str | None:
    context = getattr(app, "lambda_context", None)
    request_id = getattr(context, "aws_request_id", None)
    if request_id is None and app.current_request is not None:
        request_id = (app.current_request.context or {}).get("requestId")
    return request_id


def _answering_errors(app: Chalice, view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ChaliceViewError:
            raise  # Chalice answers these itself; the middleware reshapes them
        except Exception as error:  # the edge answers every error, in one shape
            return response_for(error, _request_id(app))
    return wrapper


def _in_our_error_shape(event: Any, get_response: Callable[[Any], Response],
                        routes: Mapping[str, Mapping[str, Any]]) -> Response:
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {
            "Code", "Message"}:
        code = _CHALICE_CODES.get(body["Code"], body["Code"])
        if response.status_code >= 500:
            context = getattr(event, "lambda_context", None)
            response.body = error_body("InternalError", INTERNAL_ERROR_MESSAGE,
                                       request_id=getattr(context, "aws_request_id", None))
        elif response.status_code == 415:
            response.body = _unsupported_type(body["Message"], event, routes)
        else:
            response.body = error_body(code, body["Message"])
    return response


def _unsupported_type(message: str, event: Any, routes: Mapping[str, Mapping[str, Any]]
                      ) -> dict[str, Any]:
    """Chalice's 415, naming the types the route takes."""
    path = (getattr(event, "context", None) or {}).get("resourcePath")
    entry = routes.get(path, {}).get(getattr(event, "method", ""))
    accepted = list(entry.content_types) if entry is not None else []
    if not accepted:
        return error_body("UnsupportedMediaType", message)
    return error_body("UnsupportedMediaType", f"{message}; send {' or '.join(accepted)}",
                      accepted=accepted)


class Api(Chalice):
    """A Chalice app whose every route answers errors with this API's error contract."""

    def __init__(self, app_name: str, **kwargs: Any) -> None:
        super().__init__(app_name, **kwargs)
        self.register_middleware(
            lambda event, get_response: _in_our_error_shape(event, get_response, self.routes),
            "http")

    # Both app.route and Blueprint routes are registered through this method,
    # so wrapping here covers every view however it was declared.
    def _register_route(self, name: str, user_handler: Callable[..., Any], kwargs: Any,
                        **unused: Any) -> None:
        super()._register_route(name, _answering_errors(self, user_handler), kwargs,
                                **unused)


def json_body(raw: bytes | str | None) -> Any:
    """Parse a JSON request body strictly (no NaN/Infinity, no integers over
    MAX_INTEGER_DIGITS digits).

    Raises InvalidInput when the body is missing or is not such JSON; an
    oversized integer is named by its path in the body (``numbers[3]``, ``a.b``).
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
    except ValueError:
        # An integer over Python's conversion limit: read again, slowly (a
        # Python call per integer), to name where it is.
        _raise_oversized(raw)
        raise


def _raise_oversized(raw: bytes | str) -> None:
    """Raise InvalidInput naming the first integer of ``raw`` longer than
    MAX_INTEGER_DIGITS by its path in the body (``numbers[3]``, ``a.b``)."""
    oversized: list[str] = []

    def parse_int(text: str) -> Any:
        if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
            oversized.append(text)
            return _Oversized()
        return int(text)

    payload = json.loads(raw, parse_constant=_reject_constant, parse_int=parse_int)
    if oversized:
        path = _path_of_oversized(payload) or "the body"
        raise errors.InvalidInput(
            f"{path} is an integer of {len(oversized[0].lstrip('-'))} digits; at most "
            f"{MAX_INTEGER_DIGITS} are accepted", field=path)


# Python refuses to convert longer decimal strings (sys.get_int_max_str_digits);
# no use of this API needs a number anywhere near that long.
MAX_INTEGER_DIGITS = 4300


class _Oversized:
    """Stands in for an integer too long to convert, until its path is known."""


def _path_of_oversized(payload: Any) -> str | None:
    pending: list[tuple[str, Any]] = [("", payload)]  # iterative: bodies nest deeply
    while pending:
        path, value = pending.pop()
        if isinstance(value, _Oversized):
            return path
        if isinstance(value, dict):
            pending.extend((f"{path}.{key}" if path else key, child)
                           for key, child in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", child)
                           for index, child in reversed(list(enumerate(value))))
    return None


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
