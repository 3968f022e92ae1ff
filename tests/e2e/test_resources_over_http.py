import threading
import uuid
from collections import Counter

import pytest
import requests


def fresh_id():
    return f"e2e-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("resource", ["users", "mocks"])
def test_twenty_concurrent_creates_of_one_id_give_one_201(local_stack, resource):
    item_id = fresh_id()
    url = f"{local_stack.base_url}/api/{resource}"
    barrier = threading.Barrier(20)
    statuses, bodies = [], []

    def create(worker):
        with requests.Session() as session:
            barrier.wait()
            try:
                response = session.post(url, json={"id": item_id, "worker": worker},
                                        timeout=30)
            except requests.RequestException as error:
                statuses.append(repr(error))
                return
        statuses.append(response.status_code)
        bodies.append(response.json())

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(statuses) == {201: 1, 409: 19}
    winner = next(body for body in bodies if "worker" in body)
    stored = requests.get(f"{url}/{item_id}", timeout=10).json()
    assert stored == {"id": item_id, "worker": winner["worker"]}


def test_crud_over_http_as_in_the_readme(local_stack):
    base = f"{local_stack.base_url}/api/users"
    item_id = fresh_id()
    created = requests.post(base, json={"id": item_id, "full_name": "User3", "gender": "F",
                                        "rating": 4.5, "tags": {"score": 0.1}}, timeout=10)
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json"
    etag = created.headers["ETag"]

    listed = requests.get(f"{base}/?fields=id,full_name&filter.id={item_id}", timeout=10)
    assert listed.json() == {"items": [{"id": item_id, "full_name": "User3"}], "next_cursor": None}

    stale = requests.put(f"{base}/{item_id}", json={"full_name": "zzz"}, timeout=10,
                         headers={"If-Match": '"not-the-version"'})
    assert stale.status_code == 412
    updated = requests.put(f"{base}/{item_id}/", json={"full_name": "zzz"}, timeout=10,
                           headers={"If-Match": etag})
    assert updated.status_code == 200
    assert updated.json() == {"id": item_id, "full_name": "zzz", "gender": "F",
                              "rating": 4.5, "tags": {"score": 0.1}}

    assert requests.delete(f"{base}/{item_id}", timeout=10).status_code == 204
    gone = requests.get(f"{base}/{item_id}", timeout=10)
    assert gone.status_code == 404 and gone.json()["code"] == "UnknownItem"


def test_seeded_mocks_and_unknown_resources_over_http(local_stack):
    mocks = requests.get(f"{local_stack.base_url}/api/mocks/000-1", timeout=10)
    assert mocks.json()["name"] == "Service" and mocks.json()["value"] == 50.0
    unknown = requests.get(f"{local_stack.base_url}/api/planets", timeout=10)
    assert unknown.status_code == 404
    assert unknown.json()["resource"] == "planets"


def test_ids_with_url_punctuation_address_the_same_item(local_stack):
    item_id = f"{fresh_id()}:a@b.c~d"
    base = f"{local_stack.base_url}/api/users"
    assert requests.post(base, json={"id": item_id}, timeout=10).status_code == 201
    assert requests.get(f"{base}/{item_id}", timeout=10).json() == {"id": item_id}


def test_bad_input_over_http_is_a_json_400(local_stack):
    response = requests.post(f"{local_stack.base_url}/api/users", data=b"{oops",
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidInput"
