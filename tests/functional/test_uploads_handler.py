import json
import time

import pytest
import requests

from chalicelib import wiring
from chalicelib.errors import Unavailable
from chalicelib.uploads import callbacks
from chalicelib.uploads.labelling import ClassifierLabeller, inspect_image
from chalicelib.uploads.processing import BatchFailed
from tests.support.images import ColourClassifier, image_bytes
from tests.support.receiver import CallbackReceiver
from tests.support.uploads import aws, callback_secret, s3_event_body, upload

BUCKET = "chalice-ref-dev-blobs"
SECRET_PARAMETER = "/chalice-ref-dev/callback-secret"


@pytest.fixture
def labeller(monkeypatch):
    """The classifier path, with a colour classifier whose labels the tests can predict."""
    classifier = ColourClassifier()
    monkeypatch.setattr(wiring, "get_labeller",
                        lambda: ClassifierLabeller(lambda: classifier))
    return classifier


def deliver(client, *bodies):
    event = client.events.generate_sqs_event(list(bodies),
                                             queue_name="chalice-ref-dev-blob-events")
    for number, record in enumerate(event["Records"]):
        record["messageId"] = f"message-{number}"
    return client.lambda_.invoke("handle_blob_event", event).payload


def event_for(blob_id, bucket=BUCKET):
    return s3_event_body(bucket, f"uploads/{blob_id}")


def blob(client, blob_id):
    return client.http.get(f"/blobs/{blob_id}").json_body


def test_an_uploaded_image_is_labelled_and_its_signed_callback_sent(client, emulator,
                                                                     labeller):
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes((200, 20, 20)), callback_url=receiver.url)
        assert deliver(client, event_for(blob_id)) == {"batchItemFailures": []}
        [received] = receiver.wait_for(1)
    stored = blob(client, blob_id)
    assert stored["status"] == "done"
    assert stored["labels"][0]["label"] == "red" and stored["labels"][0]["score"] > 0.8
    assert len(stored["labels"]) == 3
    assert stored["callback"]["status"] == "delivered"
    assert stored["callback"]["attempts"] == 1 and stored["callback"]["delivered_at"]
    assert json.loads(received.body) == {"blobId": blob_id, "status": "done",
                                         "labels": stored["labels"]}
    secret = callback_secret(emulator.endpoint_url, SECRET_PARAMETER)
    assert callbacks.verify(secret, received.headers[callbacks.TIMESTAMP_HEADER],
                            received.headers[callbacks.SIGNATURE_HEADER], received.body,
                            now=time.time())


def test_the_same_event_twice_gives_one_result_and_one_callback(client, labeller):
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes((20, 20, 200)), callback_url=receiver.url)
        deliver(client, event_for(blob_id))
        first = blob(client, blob_id)
        assert deliver(client, event_for(blob_id), event_for(blob_id)) == {
            "batchItemFailures": []}
        time.sleep(0.2)
        assert len(receiver.received) == 1
    assert blob(client, blob_id) == first
    assert len(labeller.sizes) == 1


def test_a_non_image_fails_with_a_readable_message_sent_to_the_callback(client, labeller):
    with CallbackReceiver() as receiver:
        blob_id = upload(client, b"%PDF-1.7 this is not a picture", content_type=None,
                         callback_url=receiver.url)
        deliver(client, event_for(blob_id))
        [received] = receiver.wait_for(1)
    stored = blob(client, blob_id)
    assert stored["status"] == "failed" and "labels" not in stored
    assert "not an image" in stored["error"]
    assert json.loads(received.body) == {"blobId": blob_id, "status": "failed",
                                         "error": stored["error"]}


def test_an_upload_over_the_stage_maximum_fails(client, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    wiring.reset()
    labeller = ColourClassifier()
    monkeypatch.setattr(wiring, "get_labeller", lambda: ClassifierLabeller(lambda: labeller))
    blob_id = upload(client, image_bytes(size=(400, 400), image_format="BMP"))
    deliver(client, event_for(blob_id))
    stored = blob(client, blob_id)
    assert stored["status"] == "failed"
    assert stored["error"] == (f"the upload is {stored['size']} bytes; at most 1000 bytes "
                               "are accepted")
    assert stored["size"] > 1000 and labeller.sizes == []


def test_an_event_for_a_deleted_blob_is_dropped_and_its_object_removed(client, emulator,
                                                                        labeller):
    created = client.http.post("/blobs").json_body
    assert client.http.delete(f"/blobs/{created['id']}").status_code == 204
    # The presigned URL outlives the blob: an upload can still arrive.
    requests.put(created["upload_url"], data=image_bytes(), timeout=10).raise_for_status()
    assert deliver(client, event_for(created["id"])) == {"batchItemFailures": []}
    listed = aws(emulator.endpoint_url, "s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"uploads/{created['id']}")
    assert listed["KeyCount"] == 0 and labeller.sizes == []


def test_events_that_name_no_upload_of_ours_are_dropped(client, labeller):
    blob_id = client.http.post("/blobs").json_body["id"]  # pending, never uploaded
    bodies = [
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}),
        s3_event_body(BUCKET, "elsewhere/picture.png"),
        s3_event_body("someone-elses-bucket", f"uploads/{blob_id}"),
        event_for(blob_id),  # the object is not there (vanished)
        "not even json",
    ]
    assert deliver(client, *bodies) == {"batchItemFailures": []}
    assert blob(client, blob_id)["status"] == "pending" and labeller.sizes == []


class ThrottledOnGifs:
    """A labeller whose service throttles GIFs and labels everything else."""

    def __init__(self):
        self._labeller = ClassifierLabeller(ColourClassifier)

    def label(self, image, max_labels):
        if inspect_image(image).format == "GIF":
            raise Unavailable("Rekognition DetectLabels failed for now (ThrottlingException)")
        return self._labeller.label(image, max_labels)


def test_a_transient_failure_is_reported_for_its_message_only(client, monkeypatch):
    monkeypatch.setattr(wiring, "get_labeller", ThrottledOnGifs)
    first = upload(client, image_bytes())
    second = upload(client, image_bytes(image_format="GIF"), content_type="image/gif")
    assert deliver(client, event_for(first), event_for(second)) == {
        "batchItemFailures": [{"itemIdentifier": "message-1"}]}
    assert blob(client, first)["status"] == "done"
    assert blob(client, second)["status"] == "pending"


def test_without_partial_batch_responses_a_transient_failure_fails_the_batch(client,
                                                                              monkeypatch):
    monkeypatch.setenv("REPORT_BATCH_ITEM_FAILURES", "false")
    wiring.reset()
    monkeypatch.setattr(wiring, "get_labeller", ThrottledOnGifs)
    blob_id = upload(client, image_bytes(image_format="GIF"), content_type="image/gif")
    with pytest.raises(BatchFailed):
        deliver(client, event_for(blob_id))


def test_callbacks_are_retried_with_backoff_and_the_outcome_recorded(client, labeller):
    with CallbackReceiver(statuses=(503, 200)) as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        deliver(client, event_for(blob_id))
        assert len(receiver.wait_for(2)) == 2
    callback = blob(client, blob_id)["callback"]
    assert (callback["status"], callback["attempts"], callback["last_error"]) == (
        "delivered", 2, None)


def test_a_callback_that_keeps_failing_is_given_up_and_recorded(client, labeller):
    with CallbackReceiver(statuses=(500,)) as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        assert deliver(client, event_for(blob_id)) == {"batchItemFailures": []}
        assert len(receiver.received) == 3
    stored = blob(client, blob_id)
    assert stored["status"] == "done"
    assert stored["callback"] == {**stored["callback"], "status": "failed", "attempts": 3,
                                  "last_error": "the receiver answered HTTP 500",
                                  "delivered_at": None}
    # A later duplicate event does not send it again: the callback was claimed once.
    deliver(client, event_for(blob_id))
    assert blob(client, blob_id)["callback"]["attempts"] == 3


def test_a_secret_outage_retries_the_message_and_the_callback_still_goes_once(
        client, labeller, monkeypatch):
    real_secret = wiring.get_callback_secret
    outages = [Unavailable("reading the callback secret failed for now (ThrottlingException)")]

    def flaky_secret():
        if outages:
            raise outages.pop()
        return real_secret()

    monkeypatch.setattr(wiring, "get_callback_secret", flaky_secret)
    with CallbackReceiver() as receiver:
        blob_id = upload(client, image_bytes(), callback_url=receiver.url)
        assert deliver(client, event_for(blob_id)) == {
            "batchItemFailures": [{"itemIdentifier": "message-0"}]}
        assert blob(client, blob_id)["callback"]["status"] == "pending"
        assert deliver(client, event_for(blob_id)) == {"batchItemFailures": []}
        assert len(receiver.wait_for(1)) == 1
    assert blob(client, blob_id)["callback"]["status"] == "delivered"
