"""The routing table: each view parses the request, calls chalicelib, returns."""

from chalice import IAMAuthorizer

from chalicelib import stats, wiring
from chalicelib.caller import describe_caller
from chalicelib.prediction import service as prediction
from chalicelib.prediction.images import RAW_IMAGE_TYPES
from chalicelib.web import Api, StageCors, json_body
from chalicelib.wiring import get_settings

app = Api(app_name="chalice-reference-api")
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


@app.route("/hello", methods=["GET"], authorizer=iam_authorizer)
def hello() -> dict:
    return {"message": "Hello, World"}


@app.route("/goodbye", methods=["GET"], authorizer=iam_authorizer)
def goodbye() -> dict:
    return {"message": "Goodbye, World"}


@app.route("/whoami", methods=["GET"], authorizer=iam_authorizer)
def whoami() -> dict:
    return {"caller": describe_caller(app.current_request.context)}


# Prediction routes take any Content-Type and name the accepted ones
# themselves, so a wrong one gets this API's error shape, not Chalice's.
@app.route("/predict", methods=["POST"], content_types=["*/*"], cors=prediction_cors)
def classify_images() -> list[dict]:
    request = app.current_request
    limits = prediction.Limits.from_settings(get_settings())
    top_k = prediction.parse_top_k(_query(request))
    sources = prediction.read_sources(request.raw_body, request.headers.get("content-type"),
                                      limits)
    return prediction.classify_images(sources, wiring.get_classifier(), top_k, limits)


@app.route("/object_detection", methods=["POST"], content_types=["*/*"],
           cors=prediction_cors)
def detect_objects() -> list[dict]:
    request = app.current_request
    settings = get_settings()
    limits = prediction.Limits.from_settings(settings)
    threshold = prediction.parse_threshold(_query(request), settings.detection_threshold)
    sources = prediction.read_sources(request.raw_body, request.headers.get("content-type"),
                                      limits)
    return prediction.detect_objects(sources, wiring.get_detector(), threshold, limits)


def _query(request) -> dict[str, list[str]]:
    params = request.query_params
    return {name: params.getlist(name) for name in params} if params else {}
