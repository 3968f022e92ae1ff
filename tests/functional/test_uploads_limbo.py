"""No blob or callback left in limbo: handlers killed mid-message, dead letters,
hostile receivers and host names that need normalising."""

import json

import pytest

from chalicelib import wiring
from chalicelib.uploads import callbacks
from chalicelib.uploads.labelling import ClassifierLabeller
from chalicelib.uploads.processing import DEAD_LETTER_ERROR
from stack.run import start_pollers, stop_pollers
from tests.support.hostile_server import hostile_server
from tests.support.hostnames import fullwidth
from tests.support.images import ColourClassifier, image_bytes
from tests.support.receiver import CallbackReceiver
from tests.support.uploads import aws, s3_event_body, upload, wait_until

BUCKET = "chalice-ref-dev-blobs"


class Killed(BaseException):
    """The function dying mid-message (a timeout, out of memory): nothing catches it."""


class DyingClassifier(ColourClassifier):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def classify(self, images, top_k):
        raise self.error


def use_classifier(monkeypatch, classifier):
    monkeypatch.setattr(wiring, "get_labeller",
                        lambda: ClassifierLabeller(lambda: classifier))


def invoke(client, function, blob_id):
    event = client.events.generate_sqs_event([s3_event_body(BUCKET, f"uploads/{blob_id}")],
                                             queue_name="chalice-ref-dev-blob-events")
    event["Records"][0]["messageId"] = "message-0"
    return client.lambda_.invoke(function, event).payload


def blob(client, blob_id):
    return client.http.get(f"/blobs/{blob_id}").json_body


def test_a_dead_letter_fails_its_pending_blob_and_sends_the_callback(client, monkeypatch):
    use_classifier(monkeypatch, DyingClassifier(Killed()))
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        with pytest.raises(Killed):
            invoke(client, "handle_blob_event", blob_id)
        assert blob(client, blob_id)["status"] == "pending"
        assert invoke(client, "handle_dead_blob_event", blob_id) == {"batchItemFailures": []}
        [received] = receiver.wait_for(1)
    stored = blob(client, blob_id)
    assert stored["status"] == "failed" and stored["error"] == DEAD_LETTER_ERROR
    assert stored["callback"]["status"] == "delivered"
    assert json.loads(received.body) == {"blobId": blob_id, "status": "failed",
                                         "error": DEAD_LETTER_ERROR}


def test_a_dead_letter_for_a_finished_blob_changes_nothing(client, monkeypatch):
    use_classifier(monkeypatch, ColourClassifier())
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        invoke(client, "handle_blob_event", blob_id)
        finished = blob(client, blob_id)
        assert invoke(client, "handle_dead_blob_event", blob_id) == {"batchItemFailures": []}
        assert len(receiver.wait_for(1)) == 1
    assert blob(client, blob_id) == finished and finished["status"] == "done"


def test_a_callback_whose_sender_died_is_taken_over_once_its_claim_is_stale(
        client, monkeypatch, stage):
    # One attempt of 0.2 s: a claim is stale after 2 x 0.2 + 1 = 1.4 s.
    stage(CALLBACK_ATTEMPTS="1", CALLBACK_TIMEOUT_SECONDS="0.2", CALLBACK_BACKOFF_SECONDS="0")
    use_classifier(monkeypatch, ColourClassifier())
    real_deliver = callbacks.deliver

    def die(*args, **kwargs):
        raise Killed()

    monkeypatch.setattr(callbacks, "deliver", die)
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        with pytest.raises(Killed):
            invoke(client, "handle_blob_event", blob_id)
        assert blob(client, blob_id)["callback"]["status"] == "sending"
        monkeypatch.setattr(callbacks, "deliver", real_deliver)
        wiring.get_blob_processor.cache_clear()
        # While the claim is fresh its sender may be alive: the event comes back later.
        assert invoke(client, "handle_blob_event", blob_id) == {
            "batchItemFailures": [{"itemIdentifier": "message-0"}]}
        wait_until(lambda: invoke(client, "handle_blob_event", blob_id) == {
            "batchItemFailures": []}, timeout=10, interval=0.3)
        [received] = receiver.wait_for(1)
    stored = blob(client, blob_id)
    assert stored["status"] == "done" and stored["callback"]["status"] == "delivered"
    assert json.loads(received.body)["status"] == "done"


@pytest.mark.parametrize("path", ["/drip-headers", "/stall-after-headers", "/endless-body"])
def test_a_receiver_that_never_finishes_its_answer_fails_the_callback(client, monkeypatch,
                                                                      stage, path):
    stage(CALLBACK_ATTEMPTS="2", CALLBACK_TIMEOUT_SECONDS="0.5", CALLBACK_BACKOFF_SECONDS="0")
    use_classifier(monkeypatch, ColourClassifier())
    with hostile_server() as base_url:
        blob_id = upload(client, image_bytes(), callback_url=f"{base_url}{path}")
        assert invoke(client, "handle_blob_event", blob_id) == {"batchItemFailures": []}
    callback = blob(client, blob_id)["callback"]
    assert callback["status"] == "failed" and callback["attempts"] == 2
    assert "did not answer completely" in callback["last_error"]
    assert callback["delivered_at"] is None


def test_a_fullwidth_callback_host_is_normalised_and_called(client, monkeypatch):
    use_classifier(monkeypatch, ColourClassifier())
    with CallbackReceiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        blob_id = upload(client, image_bytes(),
                         callback_url=f"http://{fullwidth('127.0.0.1')}:{port}/hook")
        invoke(client, "handle_blob_event", blob_id)
        [received] = receiver.wait_for(1)
    assert received.path == "/hook"
    assert blob(client, blob_id)["callback"]["status"] == "delivered"


@pytest.mark.parametrize("url", ["http://a\u200db.example/hook", "http://ex\u3002\u3002ample/"])
def test_a_callback_host_that_cannot_be_normalised_is_400(client, url):
    response = client.http.post("/blobs", body=json.dumps({"callback_url": url}),
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json_body["code"] == "InvalidInput"
    assert "not a valid domain name" in response.json_body["message"]


def test_the_local_pollers_carry_a_failing_event_through_the_dlq_to_a_failed_blob(
        client, monkeypatch, emulator, stage_environment, stage):
    from app import app

    # As `make run` does: the pollers call the handlers outside chalice.test's
    # per-request environment.
    stage(**stage_environment)
    sqs = aws(emulator.endpoint_url, "sqs")
    for queue in (stage_environment["BLOBS_QUEUE"], stage_environment["BLOBS_DLQ"]):
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    use_classifier(monkeypatch, DyingClassifier(RuntimeError("the labeller crashed")))
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        pollers = start_pollers(app, stage_environment)
        assert len(pollers) == 2  # the upload events queue and its dead-letter queue
        try:
            wait_until(lambda: blob(client, blob_id)["status"] != "pending", timeout=40,
                       interval=0.5)
            [received] = receiver.wait_for(1, timeout=10)
        finally:
            stop_pollers(pollers)
    stored = blob(client, blob_id)
    assert stored["status"] == "failed" and stored["error"] == DEAD_LETTER_ERROR
    assert stored["callback"]["status"] == "delivered"
    assert json.loads(received.body)["status"] == "failed"
