"""The records the running stack writes, over real HTTP: one JSON line with EMF
metrics per request (one test per route family) and per queue message, as
CloudWatch Logs would receive them (LOG_FORMAT=json), and no secret in any line."""

import json
import re
import secrets

import pytest
import requests
from requests_aws4auth import AWS4Auth

from tests.e2e.conftest import start_local_stack
from tests.support.emf import emf_problems
from tests.support.images import image_bytes
from tests.support.receiver import CallbackReceiver
from tests.support.uploads import callback_secret, wait_until

# The stack signs with a secret key of its own here, so the log scan can look for it.
SECRET_KEY = "opsSecret-" + secrets.token_urlsafe(24)
CALLBACK_TOKEN = "hook-token-" + secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = start_local_stack(tmp_path_factory.mktemp("operating") / "stack.log",
                                {"LOG_FORMAT": "json", "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    yield running
    assert running.stop() == 0


def records(stack, **wanted):
    """The stack's JSON records so far whose fields include ``wanted``."""
    found = []
    for line in stack.log().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if all(record.get(name) == value for name, value in wanted.items()):
            found.append((line, record))
    return found


def request_record(stack, route, method):
    """The latest record of ``method route`` (written before its response was sent)."""
    line, record = wait_until(lambda: records(stack, kind="request", route=route,
                                              method=method))[-1]
    assert emf_problems(line) == []
    return record


def metric_names(record):
    return {metric["Name"] for directive in record["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]}


def assert_request_basics(record, method, status):
    assert record["level"] == "INFO"
    assert record["stage"] == "dev"
    assert (record["method"], record["status"]) == (method, status)
    assert record["latency_ms"] > 0
    assert record["request_id"] and record["function_request_id"]
    assert isinstance(record["cold_start"], bool)
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"],
                                                                    ["stage", "route"]]
    assert {"Requests", "Errors4xx", "Errors5xx", "Latency"} <= metric_names(record)
    assert record["Requests"] == 1
    assert record["Errors4xx"] == int(400 <= status < 500)
    assert record["Errors5xx"] == int(status >= 500)


def test_health_and_stats_requests_are_recorded(stack):
    response = requests.get(f"{stack.base_url}/stats", params={"numbers": ["1", "2"]},
                            timeout=10)
    assert response.status_code == 200
    record = request_record(stack, "/stats", "GET")
    assert_request_basics(record, "GET", 200)
    assert record["Latency"] == record["latency_ms"]


def test_a_rejected_request_records_its_error_code(stack):
    response = requests.post(f"{stack.base_url}/api/users", data="{", timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    record = request_record(stack, "/api/{resource}", "POST")
    assert_request_basics(record, "POST", 400)
    assert record["error_code"] == response.json()["code"] == "InvalidInput"


def signed_whoami(stack):
    auth = AWS4Auth("testing", SECRET_KEY, "us-east-1", "execute-api")
    response = requests.get(f"{stack.base_url}/whoami", auth=auth, timeout=10)
    assert response.status_code == 200
    return response


def test_an_iam_request_records_the_caller(stack):
    response = signed_whoami(stack)
    record = request_record(stack, "/whoami", "GET")
    assert_request_basics(record, "GET", 200)
    assert record["caller"] == response.json()["caller"]["userArn"]


def test_a_prediction_records_images_model_and_timings(stack):
    files = [("image", ("a.png", image_bytes(), "image/png")),
             ("image", ("b.png", image_bytes((20, 200, 20)), "image/png")),
             ("image", ("notes.txt", b"not an image", "text/plain"))]
    response = requests.post(f"{stack.base_url}/predict", files=files, timeout=30)
    assert response.status_code == 200
    record = request_record(stack, "/predict", "POST")
    assert_request_basics(record, "POST", 200)
    assert (record["images"], record["failed_images"]) == (3, 1)
    assert record["image_errors"] == response.json()[2]["error"]["code"] == "ImageRejected"
    assert record["model"] == "classifier.onnx"
    assert "model_version" in record  # the ONNX file's, null when it sets none
    assert min(record["decode_ms"], record["preprocess_ms"], record["model_ms"]) > 0
    assert {"ImagesPerRequest", "FailedImages", "ModelTimePerImage"} <= metric_names(record)
    assert record["ModelTimePerImage"] == pytest.approx(record["model_ms"] / 2, abs=0.01)


def test_an_object_detection_records_its_model(stack):
    response = requests.post(f"{stack.base_url}/object_detection", data=image_bytes(),
                             headers={"Content-Type": "image/png"}, timeout=30)
    assert response.status_code == 200
    record = request_record(stack, "/object_detection", "POST")
    assert_request_basics(record, "POST", 200)
    assert record["model"] == "detector.onnx" and record["images"] == 1


def upload_with_callback(stack):
    """Upload an image whose callback URL carries a token; its message's record."""
    with CallbackReceiver() as receiver:
        hook = f"{receiver.url}?token={CALLBACK_TOKEN}"
        created = requests.post(f"{stack.base_url}/blobs", timeout=10, json={
            "content_type": "image/png", "callback_url": hook}).json()
        requests.put(created["upload_url"], data=image_bytes(), headers=created["headers"],
                     timeout=10).raise_for_status()
        receiver.wait_for(1)
        [(line, record)] = wait_until(lambda: records(stack, kind="message",
                                                      blob_id=created["id"]))
    return line, record


def test_an_upload_message_records_blob_labelling_and_callback(stack):
    line, record = upload_with_callback(stack)
    assert emf_problems(line) == []
    assert record["outcome"] == "done" and record["stage"] == "dev"
    assert record["message_id"] and record["function_request_id"]
    assert record["labeller"] == "ClassifierLabeller"
    assert record["model"] == "classifier.onnx"
    assert record["time_to_label_ms"] > 0
    assert (record["callback"], record["callback_attempts"]) == ("delivered", 1)
    assert record["callback_ms"] > 0
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    assert {"Messages", "TimeToLabel", "CallbacksDelivered"} <= metric_names(record)
    assert (record["CallbacksDelivered"], record["CallbacksFailed"]) == (1, 0)
    assert record["TimeToLabel"] == record["time_to_label_ms"]


def test_no_line_holds_the_secret_key_callback_secret_or_callback_token(stack):
    signed_whoami(stack)
    upload_with_callback(stack)
    log = stack.log()
    callback = callback_secret(stack.aws_endpoint, "/chalice-ref-dev/callback-secret").decode()
    for secret in (SECRET_KEY, callback, CALLBACK_TOKEN):
        assert secret not in log
    assert "Local credentials:" in log and "AWS_ACCESS_KEY_ID=testing" in log


def test_make_run_prints_one_readable_line_per_request(tmp_path):
    text_stack = start_local_stack(tmp_path / "stack.log", {"LOG_FORMAT": "text"})
    try:
        requests.get(f"{text_stack.base_url}/stats", params={"numbers": "x"}, timeout=10)
    finally:
        assert text_stack.stop() == 0
    line = re.compile(r"^\d\d:\d\d:\d\d GET /stats 400 \d+\.\d ms error_code=InvalidInput",
                      re.MULTILINE)
    assert line.search(text_stack.log())
    assert '"_aws"' not in text_stack.log()
