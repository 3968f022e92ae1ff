"""Chalice's local gateway with API Gateway's AWS_IAM authorization enforced.

Chalice's ``LocalGatewayAuthorizer`` admits every request to a route declared
with ``IAMAuthorizer`` (it only warns).  The classes here replace that one
decision with :func:`stack.sigv4.verify_request` and leave everything else
(routing, CORS preflights, Cognito and custom authorizers) to Chalice.  They
serve `make run` (:func:`create_iam_enforcing_server`) and the functional
tests (:class:`IAMEnforcingClient`); the deployed app has no such code: in AWS,
API Gateway does this before Lambda runs.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from chalice.app import Chalice, IAMAuthorizer
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LambdaContext,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    create_local_server,
)
from chalice.test import Client, TestHTTPClient

from chalicelib.web import error_body
from stack.sigv4 import LocalCaller, ReceivedRequest, Rejected, verify_request


class IAMEnforcingAuthorizer(LocalGatewayAuthorizer):
    """Chalice's local authorizer, except that IAM routes require a valid SigV4 signature."""

    def __init__(self, app_object: Chalice, caller: LocalCaller) -> None:
        super().__init__(app_object)
        self._app = app_object
        self._caller = caller

    def authorize(self, raw_path: str, lambda_event: dict[str, Any],
                  lambda_context: LambdaContext) -> tuple[dict[str, Any], LambdaContext]:
        """Admit or reject like API Gateway; raises chalice.local.ForbiddenError (403)."""
        context = lambda_event["requestContext"]
        # API Gateway gives every request an id of its own (logs carry it).
        context.setdefault("requestId", str(uuid.uuid4()))
        view = self._app.routes.get(context["resourcePath"], {}).get(context["httpMethod"])
        if view is None or not isinstance(view.authorizer, IAMAuthorizer):
            return super().authorize(raw_path, lambda_event, lambda_context)
        try:
            identity = verify_request(_received(raw_path, lambda_event), self._caller)
        except Rejected as rejection:
            raise ForbiddenError({"x-amzn-RequestId": lambda_context.aws_request_id,
                                  "x-amzn-ErrorType": rejection.error_type},
                                 rejection.body()) from None
        context["identity"].update(identity)
        context["identity"]["userAgent"] = lambda_event["headers"].get("user-agent")
        return lambda_event, lambda_context


class IAMEnforcingGateway(LocalGateway):
    """Chalice's LocalGateway with :class:`IAMEnforcingAuthorizer`."""

    def __init__(self, app_object: Chalice, config: Config, caller: LocalCaller) -> None:
        super().__init__(app_object, config)
        # LocalGateway builds its authorizer in __init__ and exposes no
        # parameter for it; this attribute is the one place it is consulted.
        self._authorizer = IAMEnforcingAuthorizer(app_object, caller)


class IAMEnforcingRequestHandler(ChaliceRequestHandler):
    """Chalice's HTTP handler, serving through :class:`IAMEnforcingGateway`.

    It also answers what Chalice's handler leaves to http.server's HTML pages
    or to a dropped connection, in the API's JSON error shape: any method the
    API does not route (TRACE, unknown verbs) is a 405, a malformed
    Content-Length a 400, and http.server's own errors (a bad request line,
    oversized headers) keep their status with a JSON body.
    """

    def __init__(self, request: Any, client_address: tuple[str, int], server: Any,
                 app_object: Chalice, config: Config, caller: LocalCaller) -> None:
        # ChaliceRequestHandler.__init__ would build a plain LocalGateway and
        # then handle the request at once, so set ours and skip it.
        self.local_gateway = IAMEnforcingGateway(app_object, config, caller)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: the app writes its own record of every request (chalicelib.observability)."""

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD> and answers an HTML 501 when there
        # is none; every method without a handler is refused here instead.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _generic_handle(self) -> None:
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or any(not _CONTENT_LENGTH.fullmatch(value) for value in lengths):
            self._send_json_error(400, "InvalidInput",
                                  "the Content-Length header must be one decimal number of "
                                  "bytes", header="Content-Length")
            return
        super()._generic_handle()

    # ChaliceRequestHandler binds its methods to its own _generic_handle.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = \
        _generic_handle

    def _refuse_method(self) -> None:
        self._send_json_error(405, "MethodNotAllowed",
                              f"{self.command} is not a method this API answers",
                              extra_headers={"Allow": ", ".join(ROUTED_METHODS)})

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's errors, as JSON: ``{code, message}`` with the same status."""
        reason = message or self.responses.get(code, ("Error",))[0]
        self._send_json_error(code, _CODES_BY_STATUS.get(code, "InvalidRequest"), reason)

    def _send_json_error(self, status: int, code: str, message: str,
                         extra_headers: dict[str, str] | None = None, **details: Any) -> None:
        # The request's body (if any) was not read: the connection cannot be reused.
        self.close_connection = True
        body = json.dumps(error_body(code, message, **details), separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


ROUTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}", re.ASCII)
_CODES_BY_STATUS = {400: "InvalidInput", 408: "RequestTimeout", 413: "PayloadTooLarge",
                    414: "UriTooLong", 431: "HeadersTooLarge", 501: "NotImplemented",
                    505: "HttpVersionNotSupported"}


def create_iam_enforcing_server(app: Chalice, config: Config, host: str, port: int,
                                caller: LocalCaller) -> LocalDevServer:
    """`chalice local`'s server, bound to host:port, enforcing AWS_IAM for ``caller``."""
    server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(
        IAMEnforcingRequestHandler, app_object=app, config=config, caller=caller)
    return server


class IAMEnforcingClient(Client):
    """``chalice.test.Client`` whose ``http`` enforces AWS_IAM for ``caller``."""

    def __init__(self, app: Chalice, caller: LocalCaller, stage_name: str = "dev",
                 project_dir: str = ".") -> None:
        super().__init__(app, stage_name=stage_name, project_dir=project_dir)
        self._caller = caller

    @property
    def http(self) -> TestHTTPClient:
        if self._http_client is None:
            self._http_client = _IAMEnforcingHTTPClient(self._app, self._chalice_config,
                                                        self._caller)
        return self._http_client


class _IAMEnforcingHTTPClient(TestHTTPClient):
    def __init__(self, app: Chalice, config: Config, caller: LocalCaller) -> None:
        super().__init__(app, config)
        self._local_gateway = IAMEnforcingGateway(app, config, caller)


def _received(raw_path: str, lambda_event: dict[str, Any]) -> ReceivedRequest:
    body = lambda_event.get("body") or b""
    if lambda_event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    elif isinstance(body, str):
        body = body.encode("utf-8")
    return ReceivedRequest(method=lambda_event["requestContext"]["httpMethod"],
                           path=raw_path, headers=lambda_event["headers"], body=body)
