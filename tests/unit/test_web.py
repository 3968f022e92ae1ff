import json

import pytest

from chalicelib import errors
from chalicelib.web import json_body, to_response


@pytest.mark.parametrize("error, status", [
    (errors.InvalidInput("bad"), 400),
    (errors.NotFound("gone"), 404),
    (errors.Conflict("taken"), 409),
    (errors.PreconditionFailed("stale"), 412),
    (errors.PayloadTooLarge("big"), 413),
])
def test_domain_errors_map_to_status_and_json_body(error, status):
    response = to_response(error)
    assert response.status_code == status
    assert response.body == {"code": type(error).__name__, "message": error.message}


def test_error_details_are_part_of_the_body():
    response = to_response(errors.InvalidInput("numbers[2] is bad", position=2))
    assert response.body["position"] == 2


@pytest.mark.parametrize("raw, fragment", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b'{"a": "\xc3("}', "not UTF-8"),
    (b'{"a": NaN}', "NaN is not valid JSON"),
    (b'{"a": -Infinity}', "-Infinity is not valid JSON"),
])
def test_json_body_rejects_non_json(raw, fragment):
    with pytest.raises(errors.InvalidInput, match=fragment):
        json_body(raw)


def test_json_body_parses_objects():
    assert json_body(json.dumps({"a": [1, 2.5]}).encode()) == {"a": [1, 2.5]}


def test_stage_cors_reads_the_origin_when_headers_are_built():
    from chalicelib.web import StageCors

    origin = {"value": None}
    cors = StageCors(lambda: origin["value"])
    assert cors.get_access_control_headers() == {}
    origin["value"] = "https://app.example.com"
    headers = cors.get_access_control_headers()
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Content-Type" in headers["Access-Control-Allow-Headers"]
