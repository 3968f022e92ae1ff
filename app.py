"""The routing table: each view parses the request, calls chalicelib, returns."""

from chalice import Response

from chalicelib import stats
from chalicelib.contract import pages
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


@app.route("/", methods=["GET"])
def demo_page() -> Response:
    return pages.demo_page()


@app.route("/docs", methods=["GET"])
def docs_page() -> Response:
    return pages.docs_page()


@app.route("/assets/{asset}", methods=["GET"])
def page_asset(asset: str) -> Response:
    return pages.asset(asset)


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> dict:
    return pages.openapi_document(app)
