"""Reusable OpenAPI pieces: component schemas and small builders for operations.

``operations.py`` describes each route with these helpers so that an entry
reads like the route's documentation rather than like nested dictionaries.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

ERROR = {
    "type": "object",
    "description": "The error body of every 4xx this API answers itself: the domain "
                   "error's name, a readable message, and details naming the "
                   "offending value or position.",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "string", "examples": ["InvalidInput"]},
        "message": {"type": "string"},
    },
    "additionalProperties": True,
}

GATEWAY_ERROR = {
    "type": "object",
    "description": "API Gateway's answer to a request it refused before the "
                   "function ran (missing or invalid SigV4 signature).",
    "required": ["message"],
    "properties": {"message": {"type": "string",
                               "examples": ["Missing Authentication Token"]}},
}

COMPONENT_SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "GatewayError": GATEWAY_ERROR,
}

SECURITY_SCHEMES: dict[str, Schema] = {
    "sigv4": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (service `execute-api`), as API "
                       "Gateway's AWS_IAM authorization checks it. Locally the "
                       "stack's own credentials sign (default testing/testing).",
        "x-amazon-apigateway-authtype": "awsSigv4",
    },
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or JSON null (OpenAPI 3.1 style)."""
    return {"anyOf": [schema, {"type": "null"}]}


def query(name: str, schema: Schema, description: str, required: bool = False,
          **extra: Any) -> Schema:
    """A query-string parameter."""
    return {"name": name, "in": "query", "required": required,
            "description": description, "schema": schema, **extra}


def header(name: str, schema: Schema, description: str, required: bool = False
           ) -> Schema:
    """A request header parameter."""
    return {"name": name, "in": "header", "required": required,
            "description": description, "schema": schema}


def json_response(description: str, schema: Schema,
                  headers: dict[str, Schema] | None = None) -> Schema:
    """A response with a JSON body."""
    response: Schema = {"description": description,
                        "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def content_response(description: str, *media_types: str) -> Schema:
    """A response whose body is a document of one of ``media_types`` (HTML, CSS...)."""
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string"}}
                        for media_type in media_types}}


def empty_response(description: str, headers: dict[str, Schema] | None = None
                   ) -> Schema:
    """A response without a body (204)."""
    response: Schema = {"description": description}
    if headers:
        response["headers"] = headers
    return response


def error(description: str) -> Schema:
    """An error response with the API's ``{code, message, ...}`` body."""
    return json_response(description, ref("Error"))


def response_header(description: str, schema: Schema | None = None) -> Schema:
    """A documented response header."""
    return {"description": description, "schema": schema or {"type": "string"}}
