"""What each route accepts and answers: one entry per (path, method) of app.py.

The route table itself (paths, methods, path parameters, request content types,
IAM authorization) is read from the Chalice app when the document is built;
an entry here adds what the table cannot say: a summary, query parameters and
headers, the request body's schema per content type, and the responses.

To document a new route, add an entry keyed exactly like its ``@app.route``:

    ("/things/{id}", "GET"): {
        "summary": "One thing",
        "tags": ["things"],
        "parameters": [query("fields", {"type": "string"}, "attributes to return")],
        "responses": {"200": json_response("The thing", THING),
                      "404": error("No thing with that id")},
    },

Request bodies: ``"request": {content_type: schema}`` with one schema for each
of the route's ``content_types`` (multipart: ``{"schema": ..., "encoding": ...}``);
a route accepting ``*/*`` documents the types its view actually reads.
The builder adds the 415 of routes with a body and the 403 and SigV4 security
of IAM routes. ``tests/unit/test_openapi.py`` fails while a route has no
entry, or an entry's request content types differ from the route's.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.contract.schemas import (
    Schema,
    content_response,
    empty_response,
    error,
    header,
    json_response,
    nullable,
    query,
    ref,
    response_header,
)
from chalicelib.params import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from chalicelib.prediction import RAW_IMAGE_TYPES
from chalicelib.uploads.blobs import IMAGE_TYPES as UPLOAD_TYPES

# Every listing pages the same way (chalicelib.params).
PAGE_PARAMETERS = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE}, "page size"),
    query("cursor", {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH},
          "the next_cursor of the previous page, unchanged"),
]

# -- statistics -----------------------------------------------------------------

STATS_SUMMARY: Schema = {
    "type": "object",
    "description": "scipy.stats.describe of the sample; null where scipy gives NaN "
                   "or infinity (the variance of one number, say).",
    "required": ["nobs", "minmax", "mean", "variance", "skewness", "kurtosis"],
    "properties": {
        "nobs": {"type": "integer", "minimum": 1},
        "minmax": {"type": "array", "items": nullable({"type": "number"}),
                   "minItems": 2, "maxItems": 2},
        "mean": nullable({"type": "number"}),
        "variance": nullable({"type": "number"}),
        "skewness": nullable({"type": "number"}),
        "kurtosis": nullable({"type": "number"}),
    },
    "additionalProperties": False,
}

STATS_BODY: Schema = {
    "type": "object",
    "required": ["numbers"],
    "properties": {
        "numbers": {"type": "array", "items": {"type": "number"}, "minItems": 1,
                    "description": "the sample (finite numbers; up to STATS_MAX_NUMBERS)"},
        "ddof": {"type": "integer", "minimum": 0, "default": 1,
                 "description": "delta degrees of freedom for the variance"},
        "bias": {"type": "boolean", "default": True,
                 "description": "false corrects skewness and kurtosis for bias"},
    },
    "additionalProperties": False,
    "examples": [{"numbers": [1, 2.5, 3, 10], "ddof": 1, "bias": True}],
}

# -- prediction -----------------------------------------------------------------

PREDICTION_FORM: Schema = {
    "schema": {
        "type": "object",
        "description": "At least one part: `image` file parts and `url` text parts, "
                       "in any order; the answer has one entry per part, in the same "
                       "order.",
        "properties": {
            # A form's parts are bytes and text, with no JSON type: any bytes
            # are an image part (one that is not a readable image is reported
            # in its entry), any text a url part (one that is no usable
            # http(s) URL likewise), never an error of the whole request.
            "image": {"description": "one or more file parts, each an image",
                      "minItems": 1, "items": {"contentMediaType": "image/*"}},
            "url": {"description": "one or more text parts, each an http(s) URL",
                    "minItems": 1, "examples": [["https://example.com/dog.jpg"]]},
        },
        "minProperties": 1,
        "additionalProperties": False,
    },
    "encoding": {"image": {"contentType": "image/*, application/octet-stream"},
                 "url": {"contentType": "text/plain"}},
}


def _any_case(choices: list[str]) -> str:
    """A pattern matching exactly one of ``choices``, letters in any case (media
    types are case-insensitive; JSON Schema's patterns have no flag for it)."""
    def letters(text: str) -> str:
        return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha()
                       else re.escape(char) for char in text)
    return "^(" + "|".join(map(letters, choices)) + ")$"


def _raw_image(media_type: str) -> Schema:
    # Any bytes (OpenAPI 3.1's binary body): an unreadable image is reported
    # in its entry, as for a form's part.
    return {"contentMediaType": media_type,
            "description": "one image as the whole body"}


def _prediction_entries(prediction: Schema, what: str) -> Schema:
    return {
        "type": "array",
        "description": f"One entry per input part, in order: its {what}, or the error "
                       "that kept that one image from being read.",
        "items": {
            "type": "object",
            "required": ["index", "source"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "source": {"type": "string", "enum": ["image", "url", "body"]},
                "filename": nullable({"type": "string"}),
                "url": {"type": "string"},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "predictions": {"type": "array", "items": prediction},
                "error": ref("Error"),
            },
        },
    }


LABEL: Schema = {
    "type": "object",
    "required": ["label", "score"],
    "properties": {"label": {"type": "string"},
                   "score": {"type": "number", "minimum": 0, "maximum": 1}},
}

DETECTION: Schema = {
    "type": "object",
    "required": ["label", "score", "box"],
    "properties": {
        "label": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "box": {"type": "array", "items": {"type": "number"}, "minItems": 4,
                "maxItems": 4,
                "description": "[x_min, y_min, x_max, y_max] in the source image's pixels"},
    },
}


def _prediction_operation(summary: str, parameter: Schema, entries: Schema) -> dict:
    return {
        "summary": summary,
        "tags": ["prediction"],
        "parameters": [parameter],
        "request": {"multipart/form-data": PREDICTION_FORM,
                    **{media_type: _raw_image(media_type) for media_type in RAW_IMAGE_TYPES}},
        "responses": {
            "200": json_response("One entry per input image", entries),
            "400": error("Malformed multipart body, no image, too many images, or a "
                         "bad query parameter"),
            "413": error("The request is larger than the stage allows; upload "
                         "through /blobs instead"),
            "415": error("A Content-Type other than multipart/form-data or an image type"),
        },
    }


# -- uploads --------------------------------------------------------------------

BLOB: Schema = {
    "type": "object",
    "required": ["id", "status", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": ["pending", "done", "failed"]},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "finished_at": {"type": "string"},
        "content_type": {"type": "string"},
        "size": {"type": "integer"},
        "labels": {"type": "array", "items": LABEL},
        "error": {"description": "why the upload could not be labelled"},
        "callback": {
            "type": "object",
            "properties": {
                "url": {"type": "string"},
                "status": {"type": "string"},
                "attempts": {"type": "integer"},
                "last_error": nullable({"type": "string"}),
                "delivered_at": nullable({"type": "string"}),
            },
        },
    },
}

NEW_BLOB: Schema = {
    "allOf": [BLOB, {
        "type": "object",
        "required": ["upload_url", "method", "headers"],
        "properties": {
            "upload_url": {"type": "string", "format": "uri",
                           "description": "presigned S3 URL to send the file to"},
            "method": {"type": "string", "examples": ["PUT"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "headers the upload must carry exactly"},
            "expires_in": {"type": "integer"},
            "expires_at": {"type": "integer"},
            "max_bytes": {"type": "integer"},
            "post": {"type": "object",
                     "description": "the alternative for browsers and forms: POST a "
                                    "multipart form with these fields, then the file",
                     "properties": {"url": {"type": "string", "format": "uri"},
                                    "fields": {"type": "object", "additionalProperties":
                                               {"type": "string"}}}},
        },
    }],
}

BLOB_ID = {"blob_id": ("the blob's id (from POST /blobs)", {"type": "string"})}
UNAVAILABLE = {"503": json_response(
    "Storage is unavailable for a moment (throttled, unreachable or slow); retry", ref("Error"),
    {"Retry-After": response_header("seconds to wait before retrying",
                                    {"type": "string", "pattern": "^[0-9]+$"})})}

# -- resources ------------------------------------------------------------------

ITEM: Schema = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 255}},
    "additionalProperties": True,
    "examples": [{"id": "000-1", "name": "Service", "value": 50.0}],
}

ETAG = {"ETag": response_header("the item's version, for If-Match")}
IF_MATCH = header("If-Match", {"type": "string"},
                  "only act if the item's ETag is one of these (412 otherwise)")
RESOURCE = {"resource": ("a resource configured for this stage (e.g. mocks, users)",
                         {"type": "string"})}
RESOURCE_ITEM = {**RESOURCE, "item_id": ("the item's id", {"type": "string"})}


FIELDS = query("fields", {"type": "string"},
               "comma-separated top-level attributes to return, e.g. id,name")
RESOURCE_ERRORS = {"400": error("Bad body, id or query parameter"),
                   "404": error("Unknown resource or item")}

# -- pages ----------------------------------------------------------------------

ASSET = {"asset": ("a file of the demo page or of the documentation viewer",
                   {"type": "string"})}


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/", "GET"): {
        "summary": "The demo page: classify and detect dropped images, describe "
                   "numbers, upload through /blobs",
        "tags": ["pages"],
        "responses": {"200": content_response("An HTML page", "text/html")},
    },
    ("/docs", "GET"): {
        "summary": "Interactive documentation of this API (Swagger UI, served by the app)",
        "tags": ["pages"],
        "responses": {"200": content_response("An HTML page", "text/html")},
    },
    ("/assets/{asset}", "GET"): {
        "summary": "A script or style sheet of the demo page or the documentation",
        "tags": ["pages"],
        "path_parameters": ASSET,
        "responses": {
            "200": content_response("The file", "text/css", "text/javascript",
                                    "text/plain"),
            "404": error("No such asset"),
        },
    },
    ("/openapi.json", "GET"): {
        "summary": "This document: the OpenAPI 3.1 description of every route",
        "tags": ["pages"],
        "responses": {"200": json_response("An OpenAPI 3.1 document",
                                           {"type": "object", "required": ["openapi"]})},
    },
    ("/health", "GET"): {
        "summary": "Liveness and the stage's name",
        "tags": ["health"],
        "responses": {"200": json_response("The function is up", {
            "type": "object", "required": ["status", "stage"],
            "properties": {"status": {"const": "ok"}, "stage": {"type": "string"}},
        })},
    },
    ("/stats", "GET"): {
        "summary": "Describe a sample given in the query string",
        "tags": ["statistics"],
        "parameters": [
            query("numbers", {"type": "array", "items": {"type": "number"}, "minItems": 1},
                  "the sample, one repeated parameter per number", required=True,
                  style="form", explode=True, examples={"two": {"value": [5, 6]}}),
            query("ddof", {"type": "integer", "minimum": 0, "default": 1},
                  "delta degrees of freedom for the variance"),
            query("bias", {"type": "string", "enum": ["true", "false", "1", "0"],
                           "default": "true"},
                  "false corrects skewness and kurtosis for statistical bias"),
        ],
        "responses": {"200": json_response("The summary", STATS_SUMMARY),
                      "400": error("A missing, malformed or non-finite number, too "
                                   "many numbers, or an unknown parameter")},
    },
    ("/stats", "POST"): {
        "summary": "Describe a sample given as JSON (up to STATS_MAX_NUMBERS numbers)",
        "tags": ["statistics"],
        "request": {"application/json": STATS_BODY},
        "responses": {"200": json_response("The summary", STATS_SUMMARY),
                      "400": error("A body that is not such a JSON object, a bad "
                                   "number, or too many numbers")},
    },
    ("/predict", "POST"): _prediction_operation(
        "Classify several images (multipart `image` and `url` parts, or one raw image)",
        query("top_k", {"type": "integer", "minimum": 1, "maximum": 100, "default": 5},
              "how many labels to return per image"),
        _prediction_entries(LABEL, "top-k labels")),
    ("/object_detection", "POST"): _prediction_operation(
        "Detect objects in several images (multipart `image` and `url` parts, or one "
        "raw image)",
        query("threshold", {"type": "number", "minimum": 0, "maximum": 1},
              "minimum score of a detection (default: the stage's DETECTION_THRESHOLD)"),
        _prediction_entries(DETECTION, "boxes after non-maximum suppression")),
    ("/blobs", "POST"): {
        "summary": "Start an upload: a pending blob and a presigned upload URL",
        "tags": ["uploads"],
        "request": {"application/json": {
            "type": "object",
            "properties": {
                "callback_url": nullable({"type": "string", "format": "uri",
                                          "description": "receives the labels, signed "
                                                         "with HMAC-SHA256 (null: none)"}),
                "content_type": nullable({
                    "type": "string", "pattern": _any_case(sorted(UPLOAD_TYPES)),
                    "description": "one of " + ", ".join(sorted(UPLOAD_TYPES))
                                   + " (any case)",
                    "examples": ["image/jpeg"]}),
            },
            "additionalProperties": False,
        }},
        "request_required": False,
        "responses": {"201": json_response(
            "The blob and how to upload its file", NEW_BLOB,
            {"Location": response_header("the blob's URL")}),
            "400": error("Bad body or refused callback URL"), **UNAVAILABLE},
    },
    ("/blobs", "GET"): {
        "summary": "Recent blobs, newest first",
        "tags": ["uploads"],
        "parameters": PAGE_PARAMETERS,
        "responses": {"200": json_response("A page of blobs", {
            "type": "object", "required": ["blobs"],
            "properties": {"blobs": {"type": "array", "items": BLOB},
                           "next_cursor": nullable({"type": "string"})}}),
            "400": error("Bad limit, cursor or parameter"), **UNAVAILABLE},
    },
    ("/blobs/{blob_id}", "GET"): {
        "summary": "A blob's status, labels or error, and its callback's outcome",
        "tags": ["uploads"],
        "path_parameters": BLOB_ID,
        "responses": {"200": json_response("The blob", BLOB),
                      "404": error("No such blob"), **UNAVAILABLE},
    },
    ("/blobs/{blob_id}", "DELETE"): {
        "summary": "Delete a blob's file and record",
        "tags": ["uploads"],
        "path_parameters": BLOB_ID,
        "responses": {"204": empty_response("Deleted"), "404": error("No such blob"),
                      **UNAVAILABLE},
    },
    ("/api/{resource}", "GET"): {
        "summary": "List a resource's items",
        "tags": ["resources"],
        "path_parameters": RESOURCE,
        "parameters": [
            *PAGE_PARAMETERS,
            FIELDS,
            query("filter", {"type": "object", "additionalProperties": {"type": "string"}},
                  "equality filters: ?filter.NAME=VALUE", style="deepObject"),
        ],
        "responses": {"200": json_response("A page of items", {
            "type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": ITEM},
                           "next_cursor": nullable({"type": "string"})}}),
            **RESOURCE_ERRORS},
    },
    ("/api/{resource}", "POST"): {
        "summary": "Create an item (never overwrites)",
        "tags": ["resources"],
        "path_parameters": RESOURCE,
        "request": {"application/json": ITEM},
        "responses": {"201": json_response("The stored item", ITEM, ETAG),
                      **RESOURCE_ERRORS,
                      "409": error("An item with that id exists"),
                      "413": error("The item is too large to store")},
    },
    ("/api/{resource}/{item_id}", "GET"): {
        "summary": "Read an item",
        "tags": ["resources"],
        "path_parameters": RESOURCE_ITEM,
        "parameters": [FIELDS],
        "responses": {"200": json_response("The item", ITEM, ETAG), **RESOURCE_ERRORS},
    },
    ("/api/{resource}/{item_id}", "PUT"): {
        "summary": "Update some attributes of an item",
        "tags": ["resources"],
        "path_parameters": RESOURCE_ITEM,
        "parameters": [IF_MATCH],
        "request": {"application/json": {"type": "object", "minProperties": 1,
                                         "additionalProperties": True}},
        "responses": {"200": json_response("The updated item", ITEM, ETAG),
                      **RESOURCE_ERRORS,
                      "412": error("If-Match names no current version"),
                      "413": error("The item would be too large to store")},
    },
    ("/api/{resource}/{item_id}", "DELETE"): {
        "summary": "Delete an item",
        "tags": ["resources"],
        "path_parameters": RESOURCE_ITEM,
        "parameters": [IF_MATCH],
        "responses": {"204": empty_response("Deleted"), **RESOURCE_ERRORS,
                      "412": error("If-Match names no current version")},
    },
    ("/hello", "GET"): {
        "summary": "A greeting for SigV4-signed callers",
        "tags": ["secured"],
        "responses": {"200": json_response("Hello", {
            "type": "object", "required": ["message"],
            "properties": {"message": {"const": "Hello, World"}}})},
    },
    ("/goodbye", "GET"): {
        "summary": "A farewell for SigV4-signed callers",
        "tags": ["secured"],
        "responses": {"200": json_response("Goodbye", {
            "type": "object", "required": ["message"],
            "properties": {"message": {"const": "Goodbye, World"}}})},
    },
    ("/whoami", "GET"): {
        "summary": "The caller's IAM identity as API Gateway saw it",
        "tags": ["secured"],
        "responses": {"200": json_response("The caller", {
            "type": "object", "required": ["caller"],
            "properties": {"caller": {"type": "object"}}})},
    },
}
