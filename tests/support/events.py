"""API Gateway proxy events as API Gateway would send them to the function."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit


def api_event(app: Any, method: str, path: str, headers: dict[str, str] | None = None,
              body: bytes = b"", base64_body: bool = False) -> dict[str, Any]:
    """A REST API (v1) proxy event for ``app``'s route matching ``path``.

    The event carries the fields API Gateway sends (so other frameworks'
    adapters accept it too). With ``base64_body`` the body is base64-encoded
    and flagged, which is what API Gateway does for binary media types.
    """
    from chalice.local import RouteMatcher

    parts = urlsplit(path)
    match = RouteMatcher(list(app.routes)).match_route(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    headers = dict(headers or {})
    request_context = {
        "resourcePath": match.route, "httpMethod": method, "path": parts.path,
        "stage": "api", "requestId": str(uuid.uuid4()), "accountId": "123456789012",
        "apiId": "local", "protocol": "HTTP/1.1",
        "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
    }
    if base64_body:
        encoded_body = base64.b64encode(body).decode("ascii")
    else:
        encoded_body = body.decode("utf-8") if body else None
    return {
        "resource": match.route,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()}
        or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": match.captured or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": encoded_body,
        "isBase64Encoded": base64_body,
    }
