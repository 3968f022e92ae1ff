"""The routing table: each view parses the request, calls chalicelib, returns."""

from chalice import Response

from chalicelib import stats, wiring
from chalicelib.settings import blobs_queue_name
from chalicelib.uploads import blobs, processing
from chalicelib.web import Api, json_body
from chalicelib.wiring import get_settings

app = Api(app_name="chalice-reference-api")


@app.route("/health", methods=["GET"])
def health() -> dict:
    return {"status": "ok", "stage": get_settings().stage}


@app.route("/stats", methods=["GET"])
def describe_query() -> dict:
    params = app.current_request.query_params
    query = {name: params.getlist(name) for name in params} if params else {}
    numbers, options = stats.parse_query(query, get_settings().stats_max_numbers)
    return stats.describe_sample(numbers, options)


@app.route("/stats", methods=["POST"], content_types=[
    "application/json", "text/plain", "application/x-www-form-urlencoded"])
def describe_body() -> dict:
    payload = json_body(app.current_request.raw_body)
    numbers, options = stats.parse_body(payload, get_settings().stats_max_numbers)
    return stats.describe_sample(numbers, options)


@app.route("/blobs", methods=["POST"])
def create_blob() -> Response:
    raw = app.current_request.raw_body
    payload = json_body(raw) if raw else None
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
    params = app.current_request.query_params
    query = {name: params.getlist(name) for name in params} if params else {}
    return blobs.list_blobs(query, wiring.get_blob_records())


@app.route("/blobs/{blob_id}", methods=["GET"])
def describe_blob(blob_id: str) -> dict:
    return blobs.describe_blob(blob_id, wiring.get_blob_records())


@app.route("/blobs/{blob_id}", methods=["DELETE"])
def delete_blob(blob_id: str) -> Response:
    blobs.delete_blob(blob_id, wiring.get_blob_records(), wiring.get_blob_storage())
    return Response(body="", status_code=204)


# S3 → SQS → this handler (see README, "Uploads"): Chalice can package an SQS
# event source as CloudFormation, which it cannot do for @app.on_s3_event.
@app.on_sqs_message(queue=blobs_queue_name(), batch_size=5)
def handle_blob_event(event) -> dict:
    messages = ((record.to_dict()["messageId"], record.body) for record in event)
    return processing.handle_messages(
        messages, wiring.get_blob_processor(),
        report_batch_item_failures=get_settings().blobs.report_batch_item_failures)
