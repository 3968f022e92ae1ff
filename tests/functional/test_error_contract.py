"""One error contract for every route, however registered, and for AWS faults."""

import json
import logging

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from chalice import Blueprint
from chalice.test import Client

from chalicelib import errors, wiring
from chalicelib.web import Api
from stack.emulator import free_port

JSON = {"Content-Type": "application/json"}


def _throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query")


@pytest.fixture
def blueprint_client():
    app = Api(app_name="error-contract")
    extra = Blueprint(__name__)

    @extra.route("/missing")
    def missing():
        raise errors.NotFound("there is no such thing", thing="x")

    @extra.route("/throttled")
    def throttled():
        raise _throttled()

    @extra.route("/unreachable")
    def unreachable():
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    @extra.route("/slow")
    def slow():
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9")

    @extra.route("/denied")
    def denied():
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetItem")

    @extra.route("/bug")
    def bug():
        return {}["missing key"]

    app.register_blueprint(extra, url_prefix="/bp")
    with Client(app) as client:
        yield client


def test_a_blueprint_route_maps_domain_errors_like_any_other(blueprint_client):
    response = blueprint_client.http.get("/bp/missing")

    assert response.status_code == 404
    assert response.json_body == {"code": "NotFound", "message": "there is no such thing",
                                  "thing": "x"}


@pytest.mark.parametrize("path", ["/bp/throttled", "/bp/unreachable", "/bp/slow"])
def test_transient_aws_faults_are_503_with_retry_after(blueprint_client, path):
    response = blueprint_client.http.get(path)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)
    assert response.json_body["code"] == "Unavailable"
    assert "try again" in response.json_body["message"]


@pytest.mark.parametrize("path", ["/bp/denied", "/bp/bug"])
def test_unexpected_errors_are_500_naming_the_request_with_the_trace_in_the_log(
        blueprint_client, caplog, capsys, path):
    with caplog.at_level(logging.ERROR, logger="chalicelib.web"):
        response = blueprint_client.http.get(path)

    assert response.status_code == 500
    body = response.json_body
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == "InternalError" and body["request_id"]
    assert "Traceback" not in response.body.decode() and "KeyError" not in body["message"]
    # The log is the standard logging tree, or the app's JSON lines on stdout
    # once observability has installed its handler (as in Lambda).
    log = caplog.text + capsys.readouterr().out
    assert body["request_id"] in log and "Traceback" in log


def test_chalices_own_405_speaks_our_error_shape(client):
    response = client.http.put("/stats", headers=JSON, body="{}")

    assert response.status_code == 405
    assert response.json_body["code"] == "MethodNotAllowed"
    assert set(response.json_body) == {"code", "message"}


def test_chalices_own_415_speaks_our_error_shape(client):
    response = client.http.post("/stats", headers={"Content-Type": "image/png"}, body=b"x")

    assert response.status_code == 415
    assert response.json_body["code"] == "UnsupportedMediaType"
    assert "image/png" in response.json_body["message"]


@pytest.fixture
def unreachable_aws(monkeypatch):
    monkeypatch.setenv("AWS_PORT", str(free_port()))
    wiring.reset()
    yield
    wiring.reset()


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/users"), ("GET", "/api/users/someone"), ("GET", "/blobs"),
    ("GET", "/blobs/3f0e1c9a-5b1d-4a52-9d55-3b8f1c7f9a10"),
])
def test_an_unreachable_aws_is_the_same_503_on_every_capability(client, unreachable_aws,
                                                                method, path):
    response = client.http.request(method, path)

    assert response.status_code == 503
    assert response.json_body["code"] == "Unavailable"
    assert response.headers["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)


def test_post_to_dynamodb_resource_when_unreachable_is_503(client, unreachable_aws):
    response = client.http.post("/api/users", headers=JSON,
                                body=json.dumps({"id": "someone"}))

    assert response.status_code == 503


HUGE = "7" * 5000


@pytest.mark.parametrize("path, body, where", [
    ("/stats", f'{{"numbers": [1, {HUGE}]}}', "numbers[1]"),
    ("/stats", f'{{"numbers": [1, 2], "ddof": {HUGE}}}', "ddof"),
    ("/api/users", f'{{"id": "huge", "v": {{"w": [{HUGE}]}}}}', "v.w[0]"),
    ("/api/mocks", f'{{"id": "huge", "v": {{"w": [{HUGE}]}}}}', "v.w[0]"),
    ("/blobs", f'{{"callback_url": -{HUGE}}}', "callback_url"),
])
def test_integers_past_pythons_conversion_limit_are_400_naming_their_path(
        client, path, body, where):
    response = client.http.post(path, headers=JSON, body=body)

    assert response.status_code == 400
    assert response.json_body["code"] == "InvalidInput"
    assert response.json_body["message"].startswith(f"{where} is an integer of 5000 digits")
    assert response.json_body["field"] == where


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_numbers_dynamodb_can_hold_are_stored_by_both_backends(client, resource):
    item_id = f"big-number-{resource}"
    body = f'{{"id": "{item_id}", "v": 1{"0" * 38}, "w": -12345678901234567890123456789012345678}}'

    created = client.http.post(f"/api/{resource}", headers=JSON, body=body)
    read = client.http.get(f"/api/{resource}/{item_id}")

    assert created.status_code == 201
    # DynamoDB keeps 38 digits: 10**38 is stored as 1E+38 and may come back as a float.
    assert float(read.json_body["v"]) == 1e38
    assert read.json_body["w"] == -12345678901234567890123456789012345678


@pytest.mark.parametrize("resource", ["mocks", "users"])
@pytest.mark.parametrize("number", [f"1{'1' * 38}", "1e126", "1e-131"])
def test_numbers_dynamodb_cannot_hold_are_the_same_400_from_both_backends(
        client, resource, number):
    response = client.http.post(f"/api/{resource}", headers=JSON,
                                body=f'{{"id": "no-{resource}", "deep": [{number}]}}')

    assert response.status_code == 400
    assert response.json_body["field"] == "deep[0]"
    assert "cannot be stored" in response.json_body["message"]


def _item_of_size(item_id: str, size: int) -> dict:
    from chalicelib.resources.items import VERSION_ATTRIBUTE, item_size

    item = {"id": item_id, "blob": ""}
    padding = size - item_size(item) - len(VERSION_ATTRIBUTE) - 32
    return {**item, "blob": "x" * padding}


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_both_backends_share_one_item_size_limit(client, resource):
    from chalicelib.resources.items import MAX_ITEM_BYTES

    at_limit = _item_of_size(f"limit-{resource}", MAX_ITEM_BYTES)
    over = _item_of_size(f"over-{resource}", MAX_ITEM_BYTES + 1)

    accepted = client.http.post(f"/api/{resource}", headers=JSON, body=json.dumps(at_limit))
    refused = client.http.post(f"/api/{resource}", headers=JSON, body=json.dumps(over))

    assert accepted.status_code == 201
    assert refused.status_code == 413
    assert refused.json_body["size"] == MAX_ITEM_BYTES + 1
    grown = client.http.put(f"/api/{resource}/limit-{resource}", headers=JSON,
                            body=json.dumps({"more": "y"}))
    assert grown.status_code == 413
