"""The pieces of chalicelib.observability that need no app: EMF records, redaction,
readable lines, trace headers and the scope API outside any request."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import observability
from chalicelib.observability import emf, tracing
from chalicelib.observability.logs import JsonFormatter, TextFormatter, describe, redact_urls
from chalicelib.observability.scope import CURRENT, Scope
from tests.support.emf import emf_problems

NOW_MS = 1_780_000_000_000


def request_fields(**extra):
    return {"kind": "request", "stage": "prod", "route": "/predict", "method": "POST",
            "status": 200, "latency_ms": 12.5, **extra}


def embedded(fields, metrics):
    return emf.embed(fields, "ChaliceReferenceApi", emf.REQUEST_DIMENSIONS, metrics, NOW_MS)


def test_a_request_record_is_valid_emf_with_its_metrics_at_the_root():
    fields = request_fields(images=4, failed_images=1, model_ms=9.0)
    record = embedded(fields, emf.request_metrics(fields))
    assert emf_problems(json.dumps(record), now_ms=NOW_MS) == []
    assert record["ImagesPerRequest"] == 4 and record["FailedImages"] == 1
    assert record["ModelTimePerImage"] == 3.0  # 9 ms over the 3 decoded images
    assert record["Latency"] == 12.5 and record["Requests"] == 1


@pytest.mark.parametrize("status, errors", [(200, (0, 0)), (404, (1, 0)), (503, (0, 1))])
def test_status_classes_count_as_4xx_and_5xx(status, errors):
    metrics = emf.request_metrics(request_fields(status=status))
    assert (metrics["Errors4xx"][0], metrics["Errors5xx"][0]) == errors


def test_no_model_time_per_image_when_every_image_failed():
    metrics = emf.request_metrics(request_fields(images=2, failed_images=2))
    assert "ModelTimePerImage" not in metrics


def test_a_message_record_counts_callbacks_only_when_one_was_sent():
    assert "CallbacksDelivered" not in emf.message_metrics({"outcome": "done"})
    metrics = emf.message_metrics({"outcome": "done", "callback": "failed",
                                   "time_to_label_ms": 850.0})
    assert metrics["CallbacksFailed"] == (1, "Count")
    assert metrics["CallbacksDelivered"] == (0, "Count")
    assert metrics["TimeToLabel"] == (850.0, "Milliseconds")


def test_a_metric_may_not_overwrite_a_field():
    with pytest.raises(ValueError, match="Latency"):
        embedded(request_fields(Latency="slow"), {"Latency": (1.0, "Milliseconds")})


@pytest.mark.parametrize("broken, problem", [
    (lambda r: r["_aws"].pop("Timestamp"), "Timestamp"),
    (lambda r: r.update(stage=None), "dimension 'stage'"),
    (lambda r: r.update(Latency="12"), "'Latency'"),
    (lambda r: r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="ms"), "unit"),
    (lambda r: r["_aws"]["CloudWatchMetrics"][0].update(Namespace="AWS/Lambda"), "Namespace"),
])
def test_the_emf_checker_finds_what_the_specification_forbids(broken, problem):
    record = embedded(request_fields(), emf.request_metrics(request_fields()))
    broken(record)
    assert any(problem in found for found in emf_problems(json.dumps(record), NOW_MS))


@pytest.mark.parametrize("text, expected", [
    ("POST to https://user:pw@hooks.example.com/T0/B0/XyZ?token=abc failed",
     "POST to https://hooks.example.com/… failed"),
    ("timed out fetching http://10.0.0.1:8080/cb", "timed out fetching http://10.0.0.1:8080/…"),
    ("see https://example.com", "see https://example.com"),
])
def test_urls_in_log_messages_keep_only_scheme_and_host(text, expected):
    assert redact_urls(text) == expected


def log_record(message, exc_info=None):
    return logging.LogRecord("chalicelib.uploads", logging.WARNING, __file__, 1, message,
                             None, exc_info)


def test_a_plain_log_line_carries_the_request_ids_and_no_url_secrets():
    token = CURRENT.set(Scope({"stage": "prod", "function_request_id": "abc", "route": "/x",
                               "request_id": "req-1"}))
    try:
        line = json.loads(JsonFormatter().format(
            log_record("callback to https://h.example/?key=s3cr3t failed")))
    finally:
        CURRENT.reset(token)
    assert line["message"] == "callback to https://h.example/… failed"
    assert (line["function_request_id"], line["request_id"], line["route"]) == (
        "abc", "req-1", "/x")
    assert line["level"] == "WARNING" and line["logger"] == "chalicelib.uploads"


def test_the_readable_line_starts_with_route_status_and_milliseconds():
    line = describe(request_fields(images=2, failed_images=0, model="m.onnx", cold_start=True))
    assert line.startswith("POST /predict 200 12.5 ms")
    assert "images=2" in line and "model=m.onnx" in line and "cold_start=True" in line
    text = TextFormatter().format(log_record("something odd"))
    assert text.endswith("WARNING chalicelib.uploads: something odd")


def test_outside_a_request_the_scope_api_does_nothing():
    observability.record(images=3)
    with observability.timed("model_ms", trace="inference"):
        pass
    with observability.message("m-1"):
        pass
    assert CURRENT.get() is None


def test_timed_blocks_add_up_in_their_field():
    scope = Scope({})
    token = CURRENT.set(scope)
    try:
        for _ in range(2):
            with observability.timed("decode_ms"):
                pass
    finally:
        CURRENT.reset(token)
    assert scope.fields["decode_ms"] >= 0
    assert set(scope.fields) == {"decode_ms"}


def test_milliseconds_since_an_s3_event_time():
    moment = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert observability.milliseconds_since(moment) >= 2000
    assert observability.milliseconds_since(None) is None
    assert observability.milliseconds_since("yesterday") is None


@pytest.mark.parametrize("address, expected", [
    ("169.254.79.129:2000", ("169.254.79.129", 2000)),
    ("tcp:127.0.0.1:2000 udp:127.0.0.2:2001", ("127.0.0.2", 2001)),
    ("", None),
])
def test_the_daemon_address_as_lambda_and_the_sdk_write_it(address, expected):
    assert tracing.daemon_address({"AWS_XRAY_DAEMON_ADDRESS": address}) == expected


def test_a_trace_follows_lambdas_header_and_skips_unsampled_invocations():
    environ = {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
               "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;"
                                   "Parent=53995c3f42cd8ad8;Sampled=1"}
    trace = tracing.start_trace("api", environ)
    assert (trace.trace_id, trace.parent_id, trace.own_segment) == (
        "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", None)
    environ["_X_AMZN_TRACE_ID"] = environ["_X_AMZN_TRACE_ID"].replace("Sampled=1", "Sampled=0")
    assert tracing.start_trace("api", environ) is None
    assert tracing.start_trace("api", {}) is None
