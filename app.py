"""The routing table: each view parses the request, calls chalicelib, returns."""

from typing import TYPE_CHECKING

from chalice import IAMAuthorizer, Response

from chalicelib import observability, wiring
from chalicelib.caller import describe_caller
from chalicelib.prediction import RAW_IMAGE_TYPES
from chalicelib.settings import (
    blobs_dead_letter_queue_name,
    blobs_queue_name,
    check_deployed_stage,
)
from chalicelib.web import Api, StageCors, json_body
from chalicelib.wiring import get_resource_stores, get_settings

if TYPE_CHECKING:
    from chalicelib.resources.contract import Stored

# Outside dev a missing or malformed variable stops the function here, named.
check_deployed_stage()

app = Api(app_name="chalice-reference-api")
# One JSON log line with EMF metrics per request and queue message (docs/operating.md).
app.register_middleware(observability.observe(app), "all")
# API Gateway checks the caller's SigV4 signature before Lambda runs (the
# local stack does the same); the views only see authenticated requests.
iam_authorizer = IAMAuthorizer()
# API Gateway base64-encodes these request bodies (and Chalice decodes them
# into raw_body); multipart uploads must be among them or images get mangled.
app.api.binary_types.extend(["multipart/form-data", *RAW_IMAGE_TYPES])
prediction_cors = StageCors(lambda: get_settings().cors_allow_origin)


@app.route("/health", methods=["GET"])
def health() -> dict:
    return {"status": "ok", "stage": get_settings().stage}


# Each capability's module is imported on first use (the statistics views
# too, with the parameter grammar), so that a cold start pays only for the
# route it serves.
@app.route("/stats", methods=["GET"])
def describe_query() -> dict:
    from chalicelib import stats

    numbers, options = stats.parse_query(_query_params(), get_settings().stats_max_numbers)
    return stats.describe_sample(numbers, options)


@app.route("/stats", methods=["POST"])
def describe_body() -> dict:
    from chalicelib import stats

    payload = json_body(app.current_request.raw_body)
    numbers, options = stats.parse_body(payload, get_settings().stats_max_numbers)
    return stats.describe_sample(numbers, options)


@app.route("/hello", methods=["GET"], authorizer=iam_authorizer)
def hello() -> dict:
    return {"message": "Hello, World"}


@app.route("/goodbye", methods=["GET"], authorizer=iam_authorizer)
def goodbye() -> dict:
    return {"message": "Goodbye, World"}


@app.route("/whoami", methods=["GET"], authorizer=iam_authorizer)
def whoami() -> dict:
    return {"caller": describe_caller(app.current_request.context)}


# The resources views import chalicelib.resources on first use, so that a
# cold start serving another route does not pay for it.


@app.route("/api/{resource}", methods=["GET"])
def list_items(resource: str) -> dict:
    from chalicelib.resources import crud

    return crud.list_items(get_resource_stores(), resource, _query_params())


@app.route("/api/{resource}", methods=["POST"])
def create_item(resource: str) -> Response:
    from chalicelib.resources import crud

    payload = json_body(app.current_request.raw_body)
    stored = crud.create_item(get_resource_stores(), resource, payload, _query_params())
    return _item_response(stored, status_code=201)


@app.route("/api/{resource}/{item_id}", methods=["GET"])
def read_item(resource: str, item_id: str) -> Response:
    from chalicelib.resources import crud

    stored = crud.read_item(get_resource_stores(), resource, item_id, _query_params())
    return _item_response(stored)


@app.route("/api/{resource}/{item_id}", methods=["PUT"])
def update_item(resource: str, item_id: str) -> Response:
    from chalicelib.resources import crud

    request = app.current_request
    stored = crud.update_item(get_resource_stores(), resource, item_id,
                              json_body(request.raw_body), request.headers.get("if-match"),
                              _query_params())
    return _item_response(stored)


@app.route("/api/{resource}/{item_id}", methods=["DELETE"])
def delete_item(resource: str, item_id: str) -> Response:
    from chalicelib.resources import crud

    crud.delete_item(get_resource_stores(), resource, item_id,
                     app.current_request.headers.get("if-match"), _query_params())
    return Response(body="", status_code=204)


def _query_params() -> dict[str, list[str]]:
    params = app.current_request.query_params
    return {name: params.getlist(name) for name in params} if params else {}


def _item_response(stored: "Stored", status_code: int = 200) -> Response:
    from chalicelib.resources.query import format_etag

    headers = {} if stored.version is None else {"ETag": format_etag(stored.version)}
    return Response(body=stored.item, status_code=status_code, headers=headers)


# Prediction routes take any Content-Type and name the accepted ones
# themselves, so a wrong one gets this API's error shape, not Chalice's.
@app.route("/predict", methods=["POST"], content_types=["*/*"], cors=prediction_cors)
def classify_images() -> list[dict]:
    from chalicelib.prediction import service as prediction

    request = app.current_request
    limits = prediction.Limits.from_settings(get_settings())
    top_k = prediction.parse_top_k(_query_params())
    sources = prediction.read_sources(request.raw_body, request.headers.get("content-type"),
                                      limits)
    return prediction.classify_images(sources, wiring.get_classifier(), top_k, limits)


@app.route("/object_detection", methods=["POST"], content_types=["*/*"],
           cors=prediction_cors)
def detect_objects() -> list[dict]:
    from chalicelib.prediction import service as prediction

    request = app.current_request
    limits = prediction.Limits.from_settings(get_settings())
    threshold = prediction.parse_threshold(_query_params())
    sources = prediction.read_sources(request.raw_body, request.headers.get("content-type"),
                                      limits)
    return prediction.detect_objects(sources, wiring.get_detector(), threshold, limits)


# The upload views import chalicelib.uploads on first use (it pulls in hashing,
# sockets and URL checks), so that other routes' cold starts do not pay for it.
@app.route("/blobs", methods=["POST"])
def create_blob() -> Response:
    from chalicelib.uploads import blobs

    raw = app.current_request.raw_body
    payload = json_body(raw) if raw else {}  # no body: no callback, any image type
    settings = get_settings()
    created = blobs.create_blob(
        payload, wiring.get_blob_records(), wiring.get_blob_storage(),
        expires_in=settings.blobs.upload_url_expires,
        max_bytes=settings.blobs.max_upload_bytes,
        allow_loopback=settings.allow_loopback_urls)
    return Response(body=created, status_code=201,
                    headers={"Location": f"/blobs/{created['id']}"})


@app.route("/blobs", methods=["GET"])
def list_blobs() -> dict:
    from chalicelib.uploads import blobs

    return blobs.list_blobs(_query_params(), wiring.get_blob_records())


@app.route("/blobs/{blob_id}", methods=["GET"])
def describe_blob(blob_id: str) -> dict:
    from chalicelib.uploads import blobs

    return blobs.describe_blob(blob_id, wiring.get_blob_records())


@app.route("/blobs/{blob_id}", methods=["DELETE"])
def delete_blob(blob_id: str) -> Response:
    from chalicelib.uploads import blobs

    blobs.delete_blob(blob_id, wiring.get_blob_records(), wiring.get_blob_storage())
    return Response(body="", status_code=204)


# S3 → SQS → this handler (see README, "Uploads"): Chalice can package an SQS
# event source as CloudFormation, which it cannot do for @app.on_s3_event.
@app.on_sqs_message(queue=blobs_queue_name(), batch_size=5)
def handle_blob_event(event) -> dict:
    from chalicelib.uploads import processing

    messages = ((record.to_dict()["messageId"], record.body) for record in event)
    return processing.handle_messages(
        messages, wiring.get_blob_processor(),
        report_batch_item_failures=get_settings().blobs.report_batch_item_failures)


# After maxReceiveCount failed deliveries SQS moves an event here: its blob is
# failed with the reason and its callback sent, so no blob stays pending.
@app.on_sqs_message(queue=blobs_dead_letter_queue_name(), batch_size=1)
def handle_dead_blob_event(event) -> dict:
    from chalicelib.uploads import processing

    messages = ((record.to_dict()["messageId"], record.body) for record in event)
    return processing.handle_dead_letters(messages, wiring.get_blob_processor())


# The API's contract and face: the OpenAPI document, its interactive docs and
# the demo page, all served by the app itself (no CDN), loaded on first use.
@app.route("/", methods=["GET"])
def demo_page() -> Response:
    from chalicelib.contract import pages

    return pages.demo_page()


@app.route("/docs", methods=["GET"])
def docs_page() -> Response:
    from chalicelib.contract import pages

    return pages.docs_page()


@app.route("/assets/{asset}", methods=["GET"])
def page_asset(asset: str) -> Response:
    from chalicelib.contract import pages

    return pages.asset(asset)


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> dict:
    from chalicelib.contract import pages

    return pages.openapi_document(app)
