"""Records of requests and queue messages through Chalice's own entry points:
errors, retries, failed batches, X-Ray subsegments (the e2e tests cover the
happy paths over HTTP)."""

import json
import logging
import socket

import pytest
from chalice.test import Client

from chalicelib import observability, wiring
from chalicelib.errors import Unavailable
from chalicelib.observability.logs import JsonFormatter
from chalicelib.web import Api
from tests.support.emf import emf_problems
from tests.support.images import image_bytes
from tests.support.uploads import s3_event_body

QUEUE = "chalice-ref-dev-blob-events"


class Captured(logging.Handler):
    """Every line the app logs, formatted as it is written in AWS."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self, **wanted):
        found = [json.loads(line) for line in self.lines]
        return [record for record in found
                if all(record.get(name) == value for name, value in wanted.items())]


@pytest.fixture
def logged():
    handler = Captured()
    names = ("chalicelib", "chalice-reference-api", "observability-probe")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)


@pytest.fixture
def failing_app(project_dir):
    """An app with the same middleware and a view that fails unexpectedly."""
    app = Api(app_name="observability-probe")
    app.register_middleware(observability.observe(app), "all")

    @app.route("/boom")
    def boom():
        raise RuntimeError("the disk is on fire")

    with Client(app, stage_name="dev", project_dir=str(project_dir)) as client:
        yield client


def test_an_unexpected_error_logs_its_trace_with_the_request_ids_not_to_the_client(
        failing_app, logged):
    response = failing_app.http.get("/boom")
    assert response.status_code == 500
    assert "fire" not in response.body.decode() and "Traceback" not in response.body.decode()
    [record] = logged.records(kind="request", route="/boom")
    assert (record["status"], record["error_code"]) == (500, "InternalError")
    assert (record["Errors5xx"], record["Errors4xx"]) == (1, 0)
    [failure] = logged.records(level="ERROR")
    assert "RuntimeError: the disk is on fire" in failure["exception"]
    assert failure["function_request_id"] == record["function_request_id"]
    assert failure["route"] == "/boom"


def test_every_line_written_is_one_json_object_and_metrics_are_valid_emf(client, logged):
    client.http.get("/health")
    client.http.get("/stats?numbers=1&numbers=x")
    assert len(logged.lines) == 2
    for line in logged.lines:
        assert "\n" not in line
        assert emf_problems(line) == []


def deliver(client, *bodies):
    event = client.events.generate_sqs_event(list(bodies), queue_name=QUEUE)
    for number, record in enumerate(event["Records"]):
        record["messageId"] = f"message-{number}"
    return client.lambda_.invoke("handle_blob_event", event).payload


class _Processor:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def process(self, created):
        raise self.error


def test_a_message_to_retry_and_a_dropped_one_each_get_a_record(client, logged, monkeypatch):
    monkeypatch.setattr(wiring, "get_blob_processor",
                        lambda: _Processor(Unavailable("DynamoDB is throttling")))
    response = deliver(client, s3_event_body("chalice-ref-dev-blobs", "uploads/x"),
                       json.dumps({"Event": "s3:TestEvent", "Bucket": "b"}))
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    [retried] = logged.records(kind="message", message_id="message-0")
    [dropped] = logged.records(kind="message", message_id="message-1")
    assert (retried["outcome"], retried["MessagesRetried"]) == ("retry", 1)
    assert (dropped["outcome"], dropped["MessagesRetried"]) == ("dropped", 0)
    assert retried["function_request_id"] == dropped["function_request_id"]
    for record in (retried, dropped):
        assert emf_problems(json.dumps(record)) == []


def test_a_failed_batch_logs_the_message_and_the_trace(client, logged, monkeypatch):
    monkeypatch.setattr(wiring, "get_blob_processor",
                        lambda: _Processor(KeyError("an unforeseen bug")))
    with pytest.raises(KeyError):
        deliver(client, s3_event_body("chalice-ref-dev-blobs", "uploads/x"))
    [record] = logged.records(kind="message", message_id="message-0")
    assert (record["outcome"], record["error"]) == ("error", "KeyError")
    [failure] = logged.records(level="ERROR")
    assert "KeyError: 'an unforeseen bug'" in failure["exception"]
    assert failure["function_request_id"] == record["function_request_id"]


@pytest.fixture
def daemon(monkeypatch):
    """A UDP socket standing in for the X-Ray daemon, with tracing switched on."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    monkeypatch.setenv("TRACING", "true")
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{receiver.getsockname()[1]}")
    wiring.reset()
    yield receiver
    receiver.close()
    wiring.reset()


def received(daemon, count):
    documents = []
    for _ in range(count):
        header, _, body = daemon.recv(65536).partition(b"\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))
    return documents


def test_in_lambda_inference_is_a_subsegment_of_the_functions_segment(client, daemon, logged,
                                                                      monkeypatch):
    root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={parent};Sampled=1")
    response = client.http.post("/predict", body=image_bytes(),
                                headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    [subsegment] = received(daemon, 1)
    assert subsegment["name"] == "inference" and subsegment["type"] == "subsegment"
    assert (subsegment["trace_id"], subsegment["parent_id"]) == (root, parent)
    assert subsegment["start_time"] < subsegment["end_time"]
    [record] = logged.records(kind="request", route="/predict")
    assert record["xray_trace_id"] == root


def test_locally_a_traced_request_gets_a_segment_of_its_own(client, daemon):
    response = client.http.post("/predict", body=image_bytes(),
                                headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    subsegment, segment = received(daemon, 2)
    assert subsegment["name"] == "inference"
    assert subsegment["parent_id"] == segment["id"]
    assert subsegment["trace_id"] == segment["trace_id"]
    assert segment["name"] == "chalice-reference-api"
    assert segment["http"] == {"response": {"status": 200}}


def test_dead_lettered_messages_are_counted_for_a_dlq_handler(client, logged):
    observability.count_dead_lettered(3, "chalice-ref-dev-blob-events-dlq")
    [record] = logged.records(kind="dead_letter")
    assert (record["queue"], record["count"], record["MessagesDeadLettered"]) == (
        "chalice-ref-dev-blob-events-dlq", 3, 3)
    assert emf_problems(json.dumps(record)) == []
