"""API Gateway proxy events as API Gateway would send them to the function."""

from __future__ import annotations

import base64
from typing import Any


def api_event(app: Any, method: str, path: str, headers: dict[str, str] | None = None,
              body: bytes = b"", base64_body: bool = False) -> dict[str, Any]:
    """A REST API proxy event for ``app``'s route matching ``path``.

    With ``base64_body`` the body is base64-encoded and flagged, which is what
    API Gateway does for binary media types (multipart uploads, images).
    """
    from chalice.local import LambdaEventConverter, RouteMatcher

    converter = LambdaEventConverter(RouteMatcher(list(app.routes)), [])
    event = converter.create_lambda_event(method=method, path=path,
                                          headers=dict(headers or {}), body=None)
    if base64_body:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["body"] = body.decode("utf-8") if body else None
        event["isBase64Encoded"] = False
    return event
