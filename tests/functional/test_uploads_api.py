import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.images import image_bytes
from tests.support.uploads import aws

BUCKET = "chalice-ref-dev-blobs"


def post_blob(client, body=None, headers=None):
    raw = json.dumps(body) if body is not None else None
    return client.http.post("/blobs", body=raw,
                            headers=headers or {"Content-Type": "application/json"})


def test_create_records_a_pending_blob_and_presigns_its_upload(client, emulator):
    response = post_blob(client, {"content_type": "image/png"})
    assert response.status_code == 201
    created = response.json_body
    assert response.headers["Location"] == f"/blobs/{created['id']}"
    assert (created["method"], created["headers"]) == ("PUT", {"Content-Type": "image/png"})
    assert created["expires_in"] == 300
    query = parse_qs(urlsplit(created["upload_url"]).query)
    assert query["X-Amz-Expires"] == ["300"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]

    stored = client.http.get(f"/blobs/{created['id']}").json_body
    assert stored["status"] == "pending" and stored["created_at"] == created["created_at"]

    upload = requests.put(created["upload_url"], data=image_bytes(),
                          headers=created["headers"], timeout=10)
    assert upload.status_code == 200
    head = aws(emulator.endpoint_url, "s3").head_object(Bucket=BUCKET,
                                                       Key=f"uploads/{created['id']}")
    assert head["ContentType"] == "image/png"


def test_create_without_a_body_signs_no_headers(client):
    response = client.http.post("/blobs")
    assert response.status_code == 201
    assert response.json_body["headers"] == {}
    assert "callback" not in response.json_body


def test_the_stage_sets_the_upload_url_lifetime(client, monkeypatch):
    monkeypatch.setenv("UPLOAD_URL_EXPIRES", "60")
    created = post_blob(client, {}).json_body
    assert created["expires_in"] == 60
    assert parse_qs(urlsplit(created["upload_url"]).query)["X-Amz-Expires"] == ["60"]


def test_a_json_null_body_is_not_taken_for_no_body(client):
    response = client.http.post("/blobs", body="null",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "must be a JSON object" in response.json_body["message"]


def test_a_callback_host_that_does_not_resolve_yet_is_accepted(client):
    # Names come and go (DNS is not static): the send checks again, and retries.
    created = post_blob(client, {"callback_url": "https://not-yet.invalid/hook"})
    assert created.status_code == 201
    assert created.json_body["callback"]["status"] == "pending"


def test_a_callback_url_is_recorded_with_its_pending_delivery(client):
    created = post_blob(client, {"callback_url": "http://127.0.0.1:9/hook"}).json_body
    assert created["callback"] == {"url": "http://127.0.0.1:9/hook", "status": "pending",
                                   "attempts": 0, "last_error": None, "delivered_at": None}


@pytest.mark.parametrize("body, field, fragment", [
    ({"colour": "red"}, "colour", "unknown field 'colour'"),
    ({"content_type": "text/plain"}, "content_type", "must be one of"),
    ({"content_type": 7}, "content_type", "must be one of"),
    ({"callback_url": "ftp://example.com/x"}, "callback_url", "only http and https"),
    ({"callback_url": "http://169.254.169.254/latest/meta-data"}, "callback_url",
     "link-local"),
    ({"callback_url": "http://10.1.2.3/hook"}, "callback_url", "private address"),
    ({"callback_url": ["http://example.com"]}, "callback_url", "must be an http(s) URL"),
    ([1, 2], None, "must be a JSON object"),
])
def test_bad_create_bodies_are_400_naming_the_problem(client, body, field, fragment):
    response = post_blob(client, body)
    assert response.status_code == 400
    assert response.json_body["code"] == "InvalidInput"
    assert fragment in response.json_body["message"]
    assert response.json_body.get("field") == field


def test_a_body_that_is_not_json_is_400(client):
    response = client.http.post("/blobs", body="{nope",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json_body["message"]


@pytest.mark.parametrize("blob_id", ["0f8fad5b-d9cb-469f-a165-70867728950e", "not-a-uuid",
                                     "0F8FAD5B-D9CB-469F-A165-70867728950E"])
def test_unknown_or_malformed_ids_are_404(client, blob_id):
    for method in (client.http.get, client.http.delete):
        response = method(f"/blobs/{blob_id}")
        assert response.status_code == 404
        assert response.json_body["code"] == "NotFound"


def test_listing_pages_newest_first_with_an_opaque_cursor(client):
    ids = [post_blob(client, {}).json_body["id"] for _ in range(3)]
    first = client.http.get("/blobs?limit=2").json_body
    assert [blob["id"] for blob in first["blobs"]] == ids[::-1][:2]
    second = client.http.get(f"/blobs?limit=2&cursor={first['next_cursor']}").json_body
    assert second["blobs"][0]["id"] == ids[0]
    created = [blob["created_at"] for blob in first["blobs"] + second["blobs"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize("query, parameter", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"),
    ("cursor=abc", "cursor"), ("cursor=eyJpZCI6IjEifQ", "cursor"),
    ("limit=1&limit=2", "limit"), ("sort=asc", "sort"),
])
def test_bad_listing_parameters_are_400(client, query, parameter):
    response = client.http.get(f"/blobs?{query}")
    assert response.status_code == 400
    assert response.json_body["parameter"] == parameter


def test_delete_removes_the_object_and_the_record(client, emulator):
    created = post_blob(client, {"content_type": "image/png"}).json_body
    requests.put(created["upload_url"], data=image_bytes(), headers=created["headers"],
                 timeout=10).raise_for_status()
    response = client.http.delete(f"/blobs/{created['id']}")
    assert response.status_code == 204
    assert client.http.get(f"/blobs/{created['id']}").status_code == 404
    listed = aws(emulator.endpoint_url, "s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"uploads/{created['id']}")
    assert listed["KeyCount"] == 0
    assert client.http.delete(f"/blobs/{created['id']}").status_code == 404


def test_the_form_upload_alternative_carries_the_size_policy(client, emulator):
    created = post_blob(client, {"content_type": "image/gif"}).json_body
    form = created["post"]
    assert form["fields"]["key"] == f"uploads/{created['id']}"
    assert form["fields"]["Content-Type"] == "image/gif"
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["content-length-range", 1, created["max_bytes"]] in policy["conditions"]
    response = requests.post(form["url"], data=form["fields"], timeout=10,
                             files={"file": ("photo.gif", image_bytes(image_format="GIF"))})
    assert response.status_code == 204, response.text
    head = aws(emulator.endpoint_url, "s3").head_object(Bucket=BUCKET,
                                                       Key=f"uploads/{created['id']}")
    assert head["ContentType"] == "image/gif"


@pytest.mark.parametrize("query, parameter", [
    ("limit=%C2%B2", "limit"), ("limit=%D9%A1", "limit"), ("limit=%205", "limit"),
    ("limit=" + "9" * 5000, "limit"), ("next=abc", "next"),
])
def test_listing_parameters_are_read_like_every_other_route(client, query, parameter):
    response = client.http.get(f"/blobs?{query}")
    assert response.status_code == 400
    assert response.json_body["parameter"] == parameter
