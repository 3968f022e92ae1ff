import json
import uuid

import pytest

JSON = {"Content-Type": "application/json"}
SEEDED = [
    {"id": "000-1", "name": "Service", "Description": "Some fancy description...",
     "value": 50.0},
    {"id": "000-2", "name": "Gas Station", "Description": "Some fancy gas station...",
     "value": 1.5},
]


def fresh_id():
    return f"user-{uuid.uuid4().hex[:12]}"


def post(client, path, payload, headers=None):
    return client.http.post(path, headers={**JSON, **(headers or {})},
                            body=json.dumps(payload))


def put(client, path, payload, headers=None):
    return client.http.put(path, headers={**JSON, **(headers or {})},
                           body=json.dumps(payload))


def test_mocks_start_with_the_two_sample_records(client):
    response = client.http.get("/api/mocks")
    assert response.status_code == 200
    assert response.json_body == {"items": SEEDED, "next_cursor": None}


def test_trailing_slashes_reach_the_same_routes(client):
    assert client.http.get("/api/mocks/").json_body["items"] == SEEDED
    response = client.http.get("/api/mocks/000-2/")
    assert response.status_code == 200
    assert response.json_body == SEEDED[1]


def test_one_record_with_its_etag(client):
    response = client.http.get("/api/mocks/000-2")
    assert response.json_body["value"] == 1.5
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) > 2


def test_unknown_resource_is_404_naming_it(client):
    for response in (client.http.get("/api/nope"), client.http.get("/api/nope/1"),
                     post(client, "/api/nope", {"id": "1"}),
                     put(client, "/api/nope/1", {"a": 1}),
                     client.http.delete("/api/nope/1")):
        assert response.status_code == 404
        assert response.json_body["code"] == "UnknownResource"
        assert "'nope'" in response.json_body["message"]
        assert response.json_body["resource"] == "nope"


def test_crud_round_trip_on_dynamodb(client):
    item_id = fresh_id()
    created = post(client, "/api/users", {"id": item_id, "full_name": "User3",
                                          "gender": "F", "score": 1.5})
    assert created.status_code == 201
    assert created.json_body == {"id": item_id, "full_name": "User3", "gender": "F",
                                 "score": 1.5}
    read = client.http.get(f"/api/users/{item_id}")
    assert read.json_body["score"] == 1.5 and isinstance(read.json_body["score"], float)
    assert read.headers["ETag"] == created.headers["ETag"]

    updated = put(client, f"/api/users/{item_id}", {"full_name": "zzz"})
    assert updated.status_code == 200
    assert updated.json_body == {"id": item_id, "full_name": "zzz", "gender": "F",
                                 "score": 1.5}
    assert updated.headers["ETag"] != created.headers["ETag"]

    deleted = client.http.delete(f"/api/users/{item_id}")
    assert deleted.status_code == 204 and deleted.body == b""
    assert client.http.get(f"/api/users/{item_id}").status_code == 404


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_create_conflicts_with_an_existing_id(client, resource):
    item_id = fresh_id()
    assert post(client, f"/api/{resource}", {"id": item_id, "v": 1}).status_code == 201
    again = post(client, f"/api/{resource}", {"id": item_id, "v": 2})
    assert again.status_code == 409
    assert again.json_body["code"] == "ItemExists" and again.json_body["id"] == item_id
    assert client.http.get(f"/api/{resource}/{item_id}").json_body["v"] == 1


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_missing_items_are_404_and_never_created(client, resource):
    item_id = fresh_id()
    for response in (client.http.get(f"/api/{resource}/{item_id}"),
                     put(client, f"/api/{resource}/{item_id}", {"a": 1}),
                     client.http.delete(f"/api/{resource}/{item_id}")):
        assert response.status_code == 404
        assert response.json_body["code"] == "UnknownItem"
    assert client.http.get(f"/api/{resource}/{item_id}").status_code == 404


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_if_match_guards_updates_and_deletes(client, resource):
    item_id = fresh_id()
    first = post(client, f"/api/{resource}", {"id": item_id, "n": 1}).headers["ETag"]
    second = put(client, f"/api/{resource}/{item_id}", {"n": 2},
                 {"If-Match": first}).headers["ETag"]

    stale = put(client, f"/api/{resource}/{item_id}", {"n": 3}, {"If-Match": first})
    assert stale.status_code == 412 and stale.json_body["code"] == "VersionMismatch"
    weak = put(client, f"/api/{resource}/{item_id}", {"n": 3}, {"If-Match": f"W/{second}"})
    assert weak.status_code == 412
    refused = client.http.delete(f"/api/{resource}/{item_id}", headers={"If-Match": first})
    assert refused.status_code == 412
    assert client.http.get(f"/api/{resource}/{item_id}").json_body["n"] == 2

    anything = put(client, f"/api/{resource}/{item_id}", {"n": 4}, {"If-Match": "*"})
    assert anything.status_code == 200
    current = anything.headers["ETag"]
    listed = client.http.delete(f"/api/{resource}/{item_id}",
                                headers={"If-Match": f'"nope", {current}'})
    assert listed.status_code == 204


def test_reserved_word_attributes_work_end_to_end(client):
    item_id = fresh_id()
    post(client, "/api/users", {"id": item_id, "name": "Gas Station", "value": 1.5,
                                "status": "active"})
    put(client, f"/api/users/{item_id}", {"status": "closed", "value": 2.5})
    found = client.http.get(f"/api/users?filter.status=closed&filter.value=2.5"
                            f"&filter.id={item_id}&fields=name,value,status")
    assert found.status_code == 200
    assert found.json_body["items"] == [{"name": "Gas Station", "value": 2.5,
                                         "status": "closed"}]


def test_fields_projection_as_in_the_seed(client):
    item_id = fresh_id()
    post(client, "/api/users", {"id": item_id, "full_name": "User X", "gender": "M"})
    response = client.http.get(f"/api/users?fields=id,full_name&filter.id={item_id}")
    assert response.json_body["items"] == [{"id": item_id, "full_name": "User X"}]
    one = client.http.get(f"/api/users/{item_id}?fields=gender")
    assert one.json_body == {"gender": "M"}


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_pages_follow_the_next_cursor(client, resource):
    group = uuid.uuid4().hex
    ids = {f"{group[:8]}-{index}" for index in range(7)}
    for item_id in ids:
        post(client, f"/api/{resource}", {"id": item_id, "group": group})
    seen, token, pages = [], None, 0
    while True:
        query = f"/api/{resource}?limit=3&filter.group={group}"
        response = client.http.get(query + (f"&cursor={token}" if token else ""))
        assert response.status_code == 200
        assert len(response.json_body["items"]) <= 3
        seen += [item["id"] for item in response.json_body["items"]]
        token, pages = response.json_body["next_cursor"], pages + 1
        if token is None:
            break
    assert sorted(seen) == sorted(ids)
    assert pages >= 3


@pytest.mark.parametrize("resource", ["mocks", "users"])
def test_items_over_400_kb_are_413(client, resource):
    response = post(client, f"/api/{resource}", {"id": fresh_id(), "blob": "x" * 420_000})
    assert response.status_code == 413
    assert response.json_body["code"] == "ItemTooLarge"
    assert "400000 bytes" in response.json_body["message"]


@pytest.mark.parametrize("method, path, body, fragment", [
    ("POST", "/api/users", b"{not json", "not valid JSON"),
    ("POST", "/api/users", b"", "empty"),
    ("POST", "/api/users", b"[1, 2]", "must be a JSON object"),
    ("POST", "/api/users", b'{"name": "x"}', "has no \"id\" field"),
    ("POST", "/api/users", b'{"id": 7}', "id must be a string"),
    ("POST", "/api/users", b'{"id": ""}', "must not be empty"),
    ("POST", "/api/users", json.dumps({"id": "x" * 256}).encode(), "at most 255"),
    ("POST", "/api/users", b'{"id": "a\\nb"}', "control character U+000A"),
    ("POST", "/api/users", b'{"id": "a/b"}', "'/'"),
    ("POST", "/api/users", b'{"id": "ok", "_version": "1"}', "reserved"),
    ("POST", "/api/users", b'{"id": "ok", "x": 1e200}', "cannot be stored"),
    ("POST", "/api/users", b'{"id": "ok", "x": NaN}', "NaN"),
    ("POST", "/api/users", b'{"id": "ok", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
     "more than 32 levels"),
    ("POST", "/api/users", b"[" * 100_000, "too deeply"),
    ("POST", "/api/users?x=1", b'{"id": "ok"}', "unknown query parameter 'x'"),
    ("PUT", "/api/mocks/000-1", b"{}", "update is empty"),
    ("PUT", "/api/mocks/000-1", b'{"id": "000-1"}', "update is empty"),
    ("PUT", "/api/mocks/000-1", b'{"id": "000-2", "a": 1}', "cannot be changed"),
    ("PUT", "/api/mocks/000-1", b'"text"', "must be a JSON object"),
    ("GET", "/api/users?limit=0", b"", "limit must be"),
    ("GET", "/api/users?limit=101", b"", "limit must be"),
    ("GET", "/api/users?limit=ten", b"", "limit must be"),
    ("GET", "/api/users?limit=1&limit=2", b"", "give it once"),
    ("GET", "/api/users?cursor=garbage", b"", "cursor is not one this API gave out"),
    ("GET", "/api/users?fields=", b"", "empty attribute"),
    ("GET", "/api/users?fields=a,,b", b"", "empty attribute"),
    ("GET", "/api/users?filter.=x", b"", "empty attribute"),
    ("GET", "/api/users?status=active", b"", "unknown query parameter 'status'"),
    ("GET", "/api/users?offset=3", b"", "unknown query parameter 'offset'"),
    ("GET", "/api/mocks/000-1?limit=3", b"", "unknown query parameter 'limit'"),
    ("DELETE", "/api/mocks/000-1?force=1", b"", "unknown query parameter 'force'"),
])
def test_bad_input_is_400_with_a_message(client, method, path, body, fragment):
    response = client.http.request(method, path, headers=JSON, body=body)
    assert response.status_code == 400
    assert response.json_body["code"] == "InvalidInput"
    assert fragment in response.json_body["message"]


@pytest.mark.parametrize("header", ['abc', '"unterminated', '"a" "b"'])
def test_malformed_if_match_is_400(client, header):
    response = put(client, "/api/mocks/000-1", {"a": 1}, {"If-Match": header})
    assert response.status_code == 400
    assert "If-Match" in response.json_body["message"]


COLD_PROBE = """
import json, sys
event = json.load(sys.stdin)
import app
response = app.app(event, None)
loaded = sorted(name for name in sys.modules if name.startswith("chalicelib.resources."))
print(json.dumps({"status": response["statusCode"], "loaded": loaded}))
"""


def test_a_cold_start_serving_health_does_not_load_the_resources_code(project_dir):
    import subprocess
    import sys
    from pathlib import Path

    from app import app
    from tests.support.events import api_event
    from tests.support.stage import dev_stage_settings

    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    environment = {**dev_stage_settings(),
                   "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2]),
                   "RESOURCES": config["stages"]["prod"]["environment_variables"]
                   ["RESOURCES"]}
    result = subprocess.run([sys.executable, "-c", COLD_PROBE], env=environment,
                            input=json.dumps(api_event(app, "GET", "/health")),
                            capture_output=True, text=True, check=True)
    # The last line: the app's own log line of the request comes first.
    assert json.loads(result.stdout.splitlines()[-1]) == {"status": 200, "loaded": []}
