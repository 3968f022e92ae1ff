"""One contract, every backend: the in-memory store and the DynamoDB store
(on the emulator) must behave identically."""

from __future__ import annotations

import itertools
import threading
import uuid

import boto3
import pytest

from chalicelib.resources.contract import Filter, ListQuery
from chalicelib.resources.dynamodb import DynamoStore
from chalicelib.resources.errors import ItemExists, ItemTooLarge, UnknownItem, VersionMismatch
from chalicelib.resources.memory import MemoryStore
from chalicelib.resources.query import filter_values


@pytest.fixture(scope="module")
def dynamodb_client(emulator):
    return boto3.session.Session(region_name="us-east-1").client(
        "dynamodb", endpoint_url=emulator.endpoint_url)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    client = request.getfixturevalue("dynamodb_client")
    table = f"contract-{uuid.uuid4().hex[:12]}"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    yield DynamoStore(client, table)
    client.delete_table(TableName=table)


def all_pages(store, **query):
    pages, after = [], None
    for _ in range(1000):
        page = store.list_items(ListQuery(after=after, **query))
        pages.append(page.items)
        if page.last_id is None:
            return pages
        after = page.last_id
    raise AssertionError("pagination never ended")


def where(name, text):
    return Filter(name, filter_values(text))


def test_created_item_reads_back_with_its_version(store):
    created = store.create_item({"id": "a", "name": "Service", "value": 50})
    read = store.get_item("a")
    assert read.item == {"id": "a", "name": "Service", "value": 50}
    assert created.item == read.item
    assert read.version and read.version == created.version


def test_create_never_overwrites(store):
    store.create_item({"id": "a", "owner": "first"})
    with pytest.raises(ItemExists) as raised:
        store.create_item({"id": "a", "owner": "second"})
    assert raised.value.details == {"id": "a"}
    assert store.get_item("a").item["owner"] == "first"


def test_missing_item_is_unknown(store):
    with pytest.raises(UnknownItem):
        store.get_item("nope")


def test_update_sets_only_the_given_attributes_and_changes_the_version(store):
    before = store.create_item({"id": "a", "full_name": "User Y", "gender": "F"})
    after = store.update_item("a", {"full_name": "zzz", "age": 30})
    assert after.item == {"id": "a", "full_name": "zzz", "gender": "F", "age": 30}
    assert store.get_item("a").item == after.item
    assert after.version != before.version


def test_update_never_creates(store):
    with pytest.raises(UnknownItem):
        store.update_item("ghost", {"name": "x"})
    with pytest.raises(UnknownItem):
        store.get_item("ghost")


def test_update_with_the_current_version_applies(store):
    version = store.create_item({"id": "a", "n": 1}).version
    updated = store.update_item("a", {"n": 2}, expected=frozenset({"other", version}))
    assert updated.item["n"] == 2


@pytest.mark.parametrize("expected", [frozenset({"stale"}), frozenset()])
def test_update_with_a_stale_version_is_refused(store, expected):
    store.create_item({"id": "a", "n": 1})
    with pytest.raises(VersionMismatch):
        store.update_item("a", {"n": 2}, expected=expected)
    assert store.get_item("a").item["n"] == 1


def test_stale_version_on_a_missing_item_is_unknown_item(store):
    with pytest.raises(UnknownItem):
        store.update_item("ghost", {"n": 2}, expected=frozenset({"v"}))
    with pytest.raises(UnknownItem):
        store.delete_item("ghost", expected=frozenset())


def test_a_version_is_stale_after_someone_else_writes(store):
    version = store.create_item({"id": "a", "n": 1}).version
    store.update_item("a", {"n": 2})
    with pytest.raises(VersionMismatch):
        store.update_item("a", {"n": 3}, expected=frozenset({version}))
    with pytest.raises(VersionMismatch):
        store.delete_item("a", expected=frozenset({version}))
    assert store.get_item("a").item["n"] == 2


def test_delete_removes_the_item(store):
    version = store.create_item({"id": "a"}).version
    store.delete_item("a", expected=frozenset({version}))
    with pytest.raises(UnknownItem):
        store.get_item("a")
    with pytest.raises(UnknownItem):
        store.delete_item("a")


def test_numbers_round_trip_exactly_including_nested_ones(store):
    item = {"id": "n", "value": 1.5, "count": 50, "price": 0.1, "tiny": -2.5e-7,
            "huge": 12345678901234567890123456789012345678,
            "nested": {"list": [1.25, 3, {"pi": 3.14159}], "zero": 0.0}}
    store.create_item(item)
    read = store.get_item("n").item
    assert read == item
    assert isinstance(read["value"], float) and read["value"] == 1.5
    assert isinstance(read["count"], int) and not isinstance(read["count"], bool)
    assert isinstance(read["nested"]["list"][2]["pi"], float)
    assert read["huge"] == 12345678901234567890123456789012345678
    updated = store.update_item("n", {"value": 2.75, "nested": {"deep": [0.5]}}).item
    assert updated["value"] == 2.75 and updated["nested"] == {"deep": [0.5]}


def test_an_update_may_set_a_hundred_attributes(store):
    store.create_item({"id": "wide"})
    changes = {f"attribute number {index}": index for index in range(100)}
    assert store.update_item("wide", changes).item == {"id": "wide", **changes}


def test_other_json_values_round_trip(store):
    item = {"id": "j", "empty": "", "none": None, "yes": True, "no": False, "list": [],
            "object": {}, "text": "naïve ☃", "mixed": [1, "a", None, [True]]}
    store.create_item(item)
    assert store.get_item("j").item == item


def test_reserved_words_and_odd_characters_are_plain_attribute_names(store):
    item = {"id": "r", "name": "Gas Station", "value": 1.5, "status": "active",
            "a.b": "dotted", "with space": 1, "#hash": 2, ":colon": 3, "size": 4}
    store.create_item(item)
    store.update_item("r", {"status": "closed", "a.b": "still dotted", "#hash": 5})
    read = store.get_item("r", fields=("name", "status", "a.b", "#hash")).item
    assert read == {"name": "Gas Station", "status": "closed", "a.b": "still dotted",
                    "#hash": 5}
    page = store.list_items(ListQuery(filters=(where("status", "closed"),
                                               where("a.b", "still dotted")),
                                      fields=("value",)))
    assert page.items == [{"value": 1.5}]


def test_pages_cover_every_item_once_in_a_stable_order(store):
    ids = {f"item-{index:02d}" for index in range(23)}
    for item_id in ids:
        store.create_item({"id": item_id})
    pages = all_pages(store, limit=5)
    seen = [item["id"] for item in itertools.chain.from_iterable(pages)]
    assert sorted(seen) == sorted(ids)
    assert all(len(page) <= 5 for page in pages)
    assert len(pages) >= 5
    assert all_pages(store, limit=5) == pages


def test_default_page_size_is_twenty(store):
    for index in range(25):
        store.create_item({"id": f"i{index}"})
    first = store.list_items(ListQuery())
    assert len(first.items) == 20 and first.last_id is not None


def test_projection_returns_only_the_named_attributes(store):
    store.create_item({"id": "u1", "full_name": "User X", "gender": "M"})
    store.create_item({"id": "u2", "gender": "F"})
    page = store.list_items(ListQuery(fields=("id", "full_name")))
    assert sorted(page.items, key=lambda item: item["id"]) == [
        {"id": "u1", "full_name": "User X"}, {"id": "u2"}]
    without_id = store.list_items(ListQuery(fields=("gender",)))
    assert sorted(item["gender"] for item in without_id.items) == ["F", "M"]
    assert all(set(item) == {"gender"} for item in without_id.items)


def test_filters_compare_like_dynamodb(store):
    store.create_item({"id": "s", "value": "50"})
    store.create_item({"id": "n", "value": 50.0})
    store.create_item({"id": "t", "value": True})
    store.create_item({"id": "one", "value": 1})
    store.create_item({"id": "x", "other": 50})

    def ids(*filters):
        return sorted(item["id"] for page in all_pages(store, filters=filters)
                      for item in page)

    assert ids(where("value", "50")) == ["n", "s"]
    assert ids(where("value", "50.00")) == ["n"]
    assert ids(where("value", "true")) == ["t"]
    assert ids(where("value", "1")) == ["one"]
    assert ids(where("value", "51")) == []
    assert ids(where("value", "50"), where("other", "50")) == []


def test_filtered_pages_find_sparse_matches_across_the_table(store):
    for index in range(250):
        store.create_item({"id": f"p{index:03d}", "kind": "rare" if index % 50 == 7 else
                           "common"})
    pages = all_pages(store, limit=2, filters=(where("kind", "rare"),))
    found = sorted(item["id"] for page in pages for item in page)
    assert found == ["p007", "p057", "p107", "p157", "p207"]
    assert all(len(page) <= 2 for page in pages)


def test_items_over_400_kb_are_refused(store):
    with pytest.raises(ItemTooLarge):
        store.create_item({"id": "big", "blob": "x" * 410_000})
    with pytest.raises(UnknownItem):
        store.get_item("big")
    store.create_item({"id": "fits", "blob": "x" * 300_000})
    with pytest.raises(ItemTooLarge):
        store.update_item("fits", {"more": "y" * 150_000})
    assert set(store.get_item("fits").item) == {"id", "blob"}


def test_concurrent_creates_of_one_id_succeed_once(store):
    barrier = threading.Barrier(20)
    outcomes = []

    def create(worker):
        barrier.wait()
        try:
            store.create_item({"id": "race", "worker": worker})
            outcomes.append("created")
        except ItemExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["exists"] * 19


@pytest.mark.parametrize("implementation", [MemoryStore, DynamoStore])
def test_implementations_have_the_protocols_signatures(implementation):
    import inspect

    from chalicelib.resources.contract import ResourceStore

    for name in ("list_items", "get_item", "create_item", "update_item", "delete_item"):
        assert inspect.signature(getattr(implementation, name)) == \
            inspect.signature(getattr(ResourceStore, name)), name
