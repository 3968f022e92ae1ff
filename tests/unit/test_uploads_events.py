import json

import pytest

from chalicelib.errors import Unavailable
from chalicelib.uploads import processing
from chalicelib.uploads.processing import ObjectCreated

BLOB_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def s3_event(key, event_name="ObjectCreated:Put", bucket="bucket"):
    return json.dumps({"Records": [{"eventName": event_name, "s3": {
        "bucket": {"name": bucket}, "object": {"key": key, "size": 3}}}]})


def test_s3_test_event_announces_nothing():
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert processing.parse_message(body) == []


def test_url_encoded_keys_are_decoded():
    assert processing.parse_message(s3_event("uploads%2Fa+b%2Bc")) == [
        ObjectCreated("bucket", "uploads/a b+c")]


@pytest.mark.parametrize("body", [
    "not json", "[1, 2]", json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
    s3_event("uploads/x", event_name="ObjectRemoved:Delete"), json.dumps({})])
def test_messages_without_created_objects_announce_nothing(body):
    assert processing.parse_message(body) == []


@pytest.mark.parametrize("key, blob_id", [
    (f"uploads/{BLOB_ID}", BLOB_ID),
    (f"uploads/{BLOB_ID.upper()}", None),
    (f"uploads/{BLOB_ID}/../x", None),
    (f"other/{BLOB_ID}", None),
    ("uploads/0f8fad5b-d9cb-169f-a165-70867728950e", None),  # a uuid1, not ours
    (f"uploads/{BLOB_ID}\n", None),
])
def test_only_keys_made_from_a_uuid4_under_the_prefix_name_a_blob(key, blob_id):
    assert processing.blob_id_from_key(key) == blob_id


class ScriptedProcessor:
    def __init__(self, unavailable_keys):
        self.unavailable_keys = unavailable_keys
        self.seen = []

    def process(self, created):
        self.seen.append(created.key)
        if created.key in self.unavailable_keys:
            raise Unavailable("Rekognition DetectLabels failed for now")
        return "done"


def test_transient_failures_are_reported_per_message():
    processor = ScriptedProcessor({"uploads/b"})
    messages = [("m1", s3_event("uploads/a")), ("m2", s3_event("uploads/b")),
                ("m3", s3_event("uploads/c"))]
    response = processing.handle_messages(messages, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert processor.seen == ["uploads/a", "uploads/b", "uploads/c"]


def test_without_partial_batch_responses_a_failure_fails_the_batch():
    processor = ScriptedProcessor({"uploads/b"})
    with pytest.raises(processing.BatchFailed, match="1 message"):
        processing.handle_messages([("m1", s3_event("uploads/b"))], processor,
                                   report_batch_item_failures=False)
