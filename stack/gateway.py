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
    """Chalice's HTTP handler, serving through :class:`IAMEnforcingGateway`."""

    def __init__(self, request: Any, client_address: tuple[str, int], server: Any,
                 app_object: Chalice, config: Config, caller: LocalCaller) -> None:
        # ChaliceRequestHandler.__init__ would build a plain LocalGateway and
        # then handle the request at once, so set ours and skip it.
        self.local_gateway = IAMEnforcingGateway(app_object, config, caller)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: the app writes its own record of every request (chalicelib.observability)."""


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
