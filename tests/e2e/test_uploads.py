"""The upload pipeline over HTTP against the running local stack (`make run`):
presigned PUT to the emulator's S3 → S3 notification → SQS → the local poller
→ the app's handle_blob_event → DynamoDB → GET and the signed callback."""

import json
import subprocess
import time

import pytest
import requests

from chalicelib.uploads import callbacks
from tests.e2e.conftest import PROJECT_DIR, start_local_stack
from tests.support.images import image_bytes
from tests.support.receiver import CallbackReceiver
from tests.support.uploads import aws, callback_secret, s3_event_body, wait_until

BUCKET = "chalice-ref-dev-blobs"
MAX_UPLOAD_BYTES = 1_000_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Emulated Rekognition answers known labels, which lets these tests check
    # the pipeline's plumbing exactly; the default classifier is tested below
    # on the shared stack.
    running = start_local_stack(tmp_path_factory.mktemp("uploads") / "stack.log",
                                {"LABELLER": "rekognition",
                                 "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)})
    yield running
    assert running.stop() == 0
    assert "Traceback" not in running.log()


def create(stack, **body):
    response = requests.post(f"{stack.base_url}/blobs", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def finished(stack, blob_id, timeout=5.0):
    def state():
        blob = requests.get(f"{stack.base_url}/blobs/{blob_id}", timeout=5).json()
        return blob if blob["status"] != "pending" else None
    return wait_until(state, timeout=timeout, interval=0.1)


def callback_settled(stack, blob_id):
    blob = requests.get(f"{stack.base_url}/blobs/{blob_id}", timeout=5).json()
    return blob if blob["callback"]["status"] in ("delivered", "failed") else None


def test_an_upload_is_labelled_within_5_seconds_and_the_signed_callback_arrives(stack):
    with CallbackReceiver() as receiver:
        created = create(stack, content_type="image/jpeg", callback_url=receiver.url)
        started = time.monotonic()
        upload = requests.put(created["upload_url"], data=image_bytes(image_format="JPEG"),
                              headers=created["headers"], timeout=10)
        assert upload.status_code == 200
        blob = finished(stack, created["id"])
        elapsed = time.monotonic() - started
        [received] = receiver.wait_for(1)
    assert elapsed < 5
    assert blob["status"] == "done"
    assert blob["labels"][0] == {"label": "Mobile Phone", "score": pytest.approx(0.999364)}
    secret = callback_secret(stack.aws_endpoint, "/chalice-ref-dev/callback-secret")
    assert callbacks.verify(secret, received.headers[callbacks.TIMESTAMP_HEADER],
                            received.headers[callbacks.SIGNATURE_HEADER], received.body,
                            now=time.time())
    assert json.loads(received.body) == {"blobId": created["id"], "status": "done",
                                         "labels": blob["labels"]}


def test_curl_upload_with_the_returned_headers(stack, tmp_path):
    created = create(stack, content_type="image/png")
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes())
    headers = [part for name, value in created["headers"].items()
               for part in ("-H", f"{name}: {value}")]
    result = subprocess.run(["curl", "-sS", "--fail", "-T", str(photo), *headers,
                             created["upload_url"]], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    blob = finished(stack, created["id"])
    assert blob["status"] == "done" and blob["labels"] and blob["size"] == len(
        photo.read_bytes())


def test_a_form_upload_is_labelled_too(stack):
    created = create(stack, content_type="image/png")
    form = created["post"]
    response = requests.post(form["url"], data=form["fields"], timeout=10,
                             files={"file": ("photo.png", image_bytes())})
    assert response.status_code == 204
    blob = finished(stack, created["id"])
    assert blob["status"] == "done" and blob["labels"]


def test_a_repeated_s3_event_gives_one_result_and_one_callback(stack):
    with CallbackReceiver() as receiver:
        created = create(stack, content_type="image/png", callback_url=receiver.url)
        requests.put(created["upload_url"], data=image_bytes(), headers=created["headers"],
                     timeout=10).raise_for_status()
        finished(stack, created["id"])
        receiver.wait_for(1)
        first = wait_until(lambda: callback_settled(stack, created["id"]))
        key = f"uploads/{created['id']}"
        sqs = aws(stack.aws_endpoint, "sqs")
        queue = sqs.get_queue_url(QueueName="chalice-ref-dev-blob-events")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody=s3_event_body(BUCKET, key))
        wait_until(lambda: f"{key}: repeated" in stack.log(), timeout=5)
        time.sleep(0.3)
        assert len(receiver.received) == 1
    again = requests.get(f"{stack.base_url}/blobs/{created['id']}", timeout=5).json()
    assert again == first
    assert again["callback"]["attempts"] == 1


def test_a_non_image_upload_fails_with_a_readable_error(stack):
    created = create(stack)
    requests.put(created["upload_url"], data=b"name,score\nalice,3\n",
                 timeout=10).raise_for_status()
    blob = finished(stack, created["id"])
    assert blob["status"] == "failed"
    assert blob["error"].startswith("the upload is not an image")


def test_an_oversized_upload_fails_naming_the_limit(stack):
    created = create(stack, content_type="image/png")
    assert created["max_bytes"] == MAX_UPLOAD_BYTES
    requests.put(created["upload_url"], data=b"\x89PNG" + bytes(MAX_UPLOAD_BYTES),
                 headers=created["headers"], timeout=30).raise_for_status()
    blob = finished(stack, created["id"])
    assert blob["status"] == "failed"
    assert blob["error"] == (f"the upload is {MAX_UPLOAD_BYTES + 4} bytes; at most "
                             f"{MAX_UPLOAD_BYTES} bytes are accepted")


def test_an_upload_for_a_deleted_blob_is_dropped_not_retried(stack):
    created = create(stack)
    assert requests.delete(f"{stack.base_url}/blobs/{created['id']}",
                           timeout=10).status_code == 204
    requests.put(created["upload_url"], data=image_bytes(), timeout=10).raise_for_status()
    wait_until(lambda: f"dropped an event for blob {created['id']}" in stack.log(),
               timeout=5)
    s3 = aws(stack.aws_endpoint, "s3")
    assert wait_until(lambda: s3.list_objects_v2(
        Bucket=BUCKET, Prefix=f"uploads/{created['id']}")["KeyCount"] == 0, timeout=5)
    sqs = aws(stack.aws_endpoint, "sqs")
    dlq = sqs.get_queue_url(QueueName="chalice-ref-dev-blob-events-dlq")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert requests.get(f"{stack.base_url}/blobs/{created['id']}",
                        timeout=5).status_code == 404


def test_the_default_stack_labels_a_real_photo_with_the_project_classifier(local_stack):
    photo = (PROJECT_DIR / "models" / "photos" / "coffee.jpg").read_bytes()
    created = create(local_stack, content_type="image/jpeg")
    upload = requests.put(created["upload_url"], data=photo,
                          headers=created["headers"], timeout=10)
    assert upload.status_code == 200
    # The poller loads the classifier on its first event: allow for that.
    blob = finished(local_stack, created["id"], timeout=60)
    assert blob["status"] == "done", blob
    assert blob["labels"][0]["label"] == "espresso"
    scores = [label["score"] for label in blob["labels"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
