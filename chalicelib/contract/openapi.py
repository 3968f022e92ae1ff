"""The OpenAPI 3.1 document of a Chalice app, built from its route table.

Paths, methods, path parameters, request content types and IAM authorization
come from ``app.routes``, so the document cannot drift from what the app
serves; ``operations.OPERATIONS`` adds what the table cannot say.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from chalice import Chalice, IAMAuthorizer

from chalicelib.contract.operations import OPERATIONS
from chalicelib.contract.schemas import COMPONENT_SCHEMAS, SECURITY_SCHEMES, json_response, ref

OPENAPI_VERSION = "3.1.0"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ANY_TYPE = "*/*"
_PATH_PARAMETER = re.compile(r"{([^}]+)}")

UNSUPPORTED_MEDIA_TYPE = json_response(
    "The Content-Type is not one this route accepts (answered by Chalice, in the "
    "API's error shape)", ref("Error"))
FORBIDDEN = json_response(
    "Missing, invalid or expired SigV4 signature (answered by API Gateway, and by "
    "the local stack in the same way)", ref("GatewayError"))


def build_document(app: Chalice, title: str = "chalice-reference-api",
                   version: str = "1.0.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    for path, methods in sorted(app.routes.items()):
        paths[path] = {method.lower(): _operation(path, method, entry)
                       for method, entry in sorted(methods.items())}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "A serverless API on AWS Chalice. Errors answered by the "
                           "app itself have the body `{code, message, ...details}`.",
        },
        # Relative to this document, so Swagger UI calls the same stage
        # (https://.../api/) that served it, locally and behind API Gateway.
        "servers": [{"url": ".", "description": "the deployment serving this document"}],
        "paths": paths,
        "components": {"schemas": copy.deepcopy(COMPONENT_SCHEMAS),
                       "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }


def find_problems(app: Chalice,
                  operations: Mapping[tuple[str, str], Mapping[str, Any]] = OPERATIONS
                  ) -> list[str]:
    """What keeps the document from describing ``app`` fully, one sentence each."""
    problems = []
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            described = operations.get((path, method))
            if described is None:
                problems.append(f"{method} {path} has no entry in "
                                "chalicelib/contract/operations.py")
                continue
            documented = set(described.get("request", {}))
            accepted = set(entry.content_types) if method in BODY_METHODS else set()
            # A view that takes */* names the types it reads itself.
            if documented and ANY_TYPE in accepted:
                continue
            if documented != accepted:
                problems.append(
                    f"{method} {path} accepts {sorted(accepted)} but its entry documents "
                    f"request bodies for {sorted(documented)}")
            named = set(described.get("path_parameters", {}))
            in_path = set(_PATH_PARAMETER.findall(path))
            if named - in_path:
                problems.append(f"{method} {path} has no path parameter "
                                f"{sorted(named - in_path)}")
    return problems


def _operation(path: str, method: str, entry: Any) -> dict[str, Any]:
    described = copy.deepcopy(OPERATIONS.get((path, method)) or _undescribed(method))
    operation: dict[str, Any] = {
        "operationId": entry.view_name,
        "summary": described["summary"],
        "tags": described.get("tags", []),
    }
    if "description" in described:
        operation["description"] = described["description"]
    path_descriptions = described.get("path_parameters", {})
    parameters = [_path_parameter(name, *path_descriptions.get(name, ("", {})))
                  for name in _PATH_PARAMETER.findall(path)]
    parameters += described.get("parameters", [])
    if parameters:
        operation["parameters"] = parameters
    responses = dict(described["responses"])
    if method in BODY_METHODS and entry.content_types:
        requests = described.get("request", {})
        media_types = (list(requests) if requests and ANY_TYPE in entry.content_types
                       else entry.content_types)
        operation["requestBody"] = {
            "required": described.get("request_required", True),
            "content": {media_type: _media(requests.get(media_type, {}))
                        for media_type in media_types},
        }
        responses.setdefault("415", UNSUPPORTED_MEDIA_TYPE)
    if isinstance(entry.authorizer, IAMAuthorizer):
        operation["security"] = [{"sigv4": []}]
        responses.setdefault("403", FORBIDDEN)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _path_parameter(name: str, description: str, schema: dict[str, Any]
                    ) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


def _media(described: dict[str, Any]) -> dict[str, Any]:
    # An entry gives either a bare schema or a media type object (multipart
    # needs "encoding" beside its schema).
    if "schema" in described:
        return described
    return {"schema": described}


def _undescribed(method: str) -> dict[str, Any]:
    # Keeps /openapi.json whole for a route added without an entry; the
    # contract test names such routes so they do not stay this way.
    return {"summary": f"{method} (not yet described)",
            "responses": {"default": {"description": "Not yet described"}}}
