"""Property-based: hostile query values and JSON bodies, on every operation the
OpenAPI document describes, never get a 5xx -- and every refusal is ``{code, message}``.

The operations, their query parameters and their JSON body fields come from
the app's own document, so a new route or parameter is covered without
editing this file.  Derandomized: every run sends the same requests.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.contract.openapi import build_document

# Superscript two, Arabic-Indic one and five, fullwidth one, double-struck
# one, NKo one, Devanagari one: all str.isdigit(), none of them ASCII.
UNICODE_DIGITS = ["\u00b2", "\u0661", "\u0665", "\uff11", "\U0001d7d9", "\u07c1", "\u0967"]
BLANKS = [" ", "\t", "\n", "\u00a0", "\u2003", "\u3000"]
NUMBER_SPELLINGS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "+inf", "1e999",
                    "-1e999", "-0", "1_000", "0x10", "+", "-", "", ".", "1.2.3", "1e", "\u0665e1"]

hostile_text = st.one_of(
    st.lists(st.sampled_from(UNICODE_DIGITS), min_size=1, max_size=3).map("".join),
    st.builds(lambda blank, number, where: (blank + number) if where else (number + blank),
              st.sampled_from(BLANKS), st.integers(-5, 500).map(str), st.booleans()),
    st.integers(4300, 6000).map(lambda digits: "9" * digits),
    st.sampled_from(NUMBER_SPELLINGS),
    st.integers(1000, 60_000).map(lambda length: "x" * length),
    st.text(max_size=12),
)

# Raw JSON value tokens: what json.dumps would never write, but a caller can.
hostile_json_value = st.one_of(
    st.integers(4301, 6000).map(lambda digits: "9" * digits),
    st.integers(4301, 6000).map(lambda digits: "-" + "1" * digits),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400",
                     "1" + "0" * 38, "1" * 39, "1e126", "1e-131", "1" * 39 + ".5"]),
    st.integers(1000, 60_000).map(lambda length: json.dumps("x" * length)),
    st.lists(st.sampled_from(UNICODE_DIGITS), min_size=1, max_size=3).map(
        lambda digits: json.dumps("".join(digits))),
    st.integers(1, 60).map(lambda depth: "[" * depth + "1" + "]" * depth),
    st.sampled_from(["true", "null", "[]", "{}", '"1"', "-0", "0.0"]),
)

PATH_VALUES = {"resource": ["mocks", "users"], "item_id": ["000-1", "hostile-item"],
               "blob_id": ["3f0e1c9a-5b1d-4a52-9d55-3b8f1c7f9a10"], "asset": ["demo.css"]}


def _operations(with_query: bool):
    """(method, path, names) of every operation taking query parameters
    (``with_query``) or a JSON body (names: its top-level fields)."""
    from app import app

    document = build_document(app)
    for path, operations in sorted(document["paths"].items()):
        for method, operation in sorted(operations.items()):
            if method == "parameters" or operation.get("security"):
                continue  # IAM routes answer API Gateway's 403 before any parsing
            query = [parameter for parameter in operation.get("parameters", [])
                     if parameter["in"] == "query"]
            schema = operation.get("requestBody", {}).get("content", {}).get(
                "application/json", {}).get("schema")
            fields = list((schema or {}).get("properties", {})) if schema else None
            names = query if with_query else fields
            if names or (not with_query and fields is not None):
                yield pytest.param(method.upper(), path, names, id=f"{method.upper()} {path}")


def _concrete(path: str, choose) -> str:
    for name, values in PATH_VALUES.items():
        if "{" + name + "}" in path:
            path = path.replace("{" + name + "}", choose(st.sampled_from(values)))
    return path


def _benign(schema: dict) -> str:
    """A value the parameter's schema accepts."""
    if "enum" in schema:
        return str(schema["enum"][0])
    kind = schema.get("type")
    if kind == "array":
        return _benign(schema.get("items", {}))
    if kind == "integer":
        return str(max(schema.get("minimum", 1), 1))
    if kind == "number":
        return "0.5" if schema.get("maximum", 1) <= 1 else "2.5"
    return str(schema.get("default", "x"))


def _assert_no_server_error(response):
    assert response.status_code < 500, response.body[:500]
    if response.status_code >= 400:
        body = json.loads(response.body)
        assert isinstance(body["code"], str) and isinstance(body["message"], str)


HOSTILE = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("method, path, query", list(_operations(with_query=True)))
def test_hostile_query_values_never_get_a_server_error(client, method, path, query):
    @HOSTILE
    @given(data=st.data())
    def check(data):
        # Each parameter is absent, well-formed or hostile, so that a hostile
        # value is also reached behind well-formed ones.
        pairs = []
        for parameter in query:
            name = "filter.name" if parameter.get("style") == "deepObject" else parameter["name"]
            kinds = ["benign", "hostile"] if parameter.get("required") else [
                "absent", "benign", "hostile"]
            kind = data.draw(st.sampled_from(kinds))
            if kind != "absent":
                pairs.append((name, _benign(parameter["schema"]) if kind == "benign"
                              else data.draw(hostile_text)))
        if not pairs or data.draw(st.integers(0, 9)) == 0:
            pairs.append(("unknown", data.draw(hostile_text)))
        url = _concrete(path, data.draw) + "?" + "&".join(
            f"{quote(name)}={quote(value)}" for name, value in pairs)
        headers = {"Content-Type": "application/json"} if method in ("POST", "PUT") else {}
        _assert_no_server_error(client.http.request(method, url, headers=headers, body=b""))

    check()


@pytest.mark.parametrize("method, path, fields", list(_operations(with_query=False)))
def test_hostile_json_bodies_never_get_a_server_error(client, method, path, fields):
    @HOSTILE
    @given(data=st.data())
    def check(data):
        names = data.draw(st.lists(st.sampled_from([*fields, "id", "extra"]), min_size=1,
                                   max_size=3, unique=True))
        members = [f"{json.dumps(name)}: {data.draw(hostile_json_value)}" for name in names]
        if "id" in fields and "id" not in names:
            members.append('"id": "hostile-body"')
        body = "{" + ", ".join(members) + "}"
        response = client.http.request(method, _concrete(path, data.draw),
                                       headers={"Content-Type": "application/json"},
                                       body=body.encode())
        _assert_no_server_error(response)

    check()
