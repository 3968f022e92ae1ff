import json
import math
import random

import numpy as np
import pytest
from scipy import stats as scipy_stats

JSON = {"Content-Type": "application/json"}


def test_get_describes_the_numbers(client):
    response = client.http.get("/stats?numbers=5&numbers=6")
    assert response.status_code == 200
    assert response.json_body == {"nobs": 2, "minmax": [5.0, 6.0], "mean": 5.5,
                                  "variance": 0.5, "skewness": 0.0, "kurtosis": -2.0}


def test_trailing_slash_is_the_same_route(client):
    assert client.http.get("/stats/?numbers=5&numbers=6").json_body == \
        client.http.get("/stats?numbers=5&numbers=6").json_body


def test_options_in_the_query(client):
    body = client.http.get("/stats?numbers=1&numbers=2&numbers=9&ddof=0&bias=false").json_body
    expected = scipy_stats.describe([1.0, 2.0, 9.0], ddof=0, bias=False)
    assert math.isclose(body["variance"], expected.variance, rel_tol=1e-12)
    assert math.isclose(body["skewness"], expected.skewness, rel_tol=1e-12)


def test_single_number_answers_null_variance_in_valid_json(client):
    response = client.http.get("/stats?numbers=42")
    assert response.status_code == 200
    body = json.loads(response.body, parse_constant=pytest.fail)
    assert body["variance"] is None and body["mean"] == 42.0


def test_post_one_million_numbers(client):
    rng = np.random.default_rng(7)
    numbers = rng.integers(0, 1000, size=1_000_000).tolist()
    response = client.http.post("/stats", headers=JSON,
                                body=json.dumps({"numbers": numbers, "ddof": 0}))
    assert response.status_code == 200
    expected = scipy_stats.describe(np.asarray(numbers, dtype=float), ddof=0)
    assert response.json_body["nobs"] == 1_000_000
    assert math.isclose(response.json_body["mean"], expected.mean, rel_tol=1e-12)
    assert math.isclose(response.json_body["kurtosis"], expected.kurtosis, rel_tol=1e-12)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_post_takes_json_only_as_its_document_says(client, content_type):
    # curl -d sends form-urlencoded unless told: the answer says what to send.
    response = client.http.post("/stats", headers={"Content-Type": content_type},
                                body='{"numbers": [1, 2, 3]}')
    assert response.status_code == 415
    assert response.json_body["code"] == "UnsupportedMediaType"
    assert "application/json" in response.json_body["message"]


@pytest.mark.parametrize("seed", [11, 12])
def test_post_equals_scipy(client, seed):
    rng = random.Random(seed)
    numbers = [rng.uniform(-1e6, 1e6) for _ in range(1000)]
    body = client.http.post("/stats", headers=JSON,
                            body=json.dumps({"numbers": numbers, "bias": False})).json_body
    expected = scipy_stats.describe(numbers, bias=False)
    assert body["minmax"] == [min(numbers), max(numbers)]
    for field in ("mean", "variance", "skewness", "kurtosis"):
        assert math.isclose(body[field], float(getattr(expected, field)), rel_tol=1e-12)


@pytest.mark.parametrize("path, fragment", [
    ("/stats", "at least one number"),
    ("/stats?numbers=abc", "'abc'"),
    ("/stats?numbers=", "empty string"),
    ("/stats?numbers=1&numbers=nan", "numbers[1] must be a finite decimal number, got 'nan'"),
        ("/stats?numbers=1&numbers=2&ddof=12", "ddof is 12 but there are 2 numbers"),
        ("/stats?numbers=1&numbers=2&ddof=%EF%BC%91%EF%BC%92", "ddof must be a whole number"),
        ("/stats?numbers=1&numbers=2&ddof=%C2%B2", "ddof must be a whole number"),
        ("/stats?numbers=%D9%A1", "numbers[0] must be a finite decimal number"),
        ("/stats?numbers=1&ddof=" + "9" * 5000, "ddof must be a whole number"),
        ("/stats?numbers=%F0%9D%9F%99", "numbers[0] must be a finite decimal number"),
    ("/stats?numbers=inf", "'inf'"),
    ("/stats?numbers=1&ddof=x", "ddof"),
    ("/stats?numbers=1&nums=2", "unknown query parameter 'nums'"),
])
def test_get_bad_input_is_a_400_naming_the_problem(client, path, fragment):
    response = client.http.get(path)
    assert response.status_code == 400
    assert response.json_body["code"] == "InvalidInput"
    assert fragment in response.json_body["message"]


@pytest.mark.parametrize("body, fragment", [
    ("not json", "not valid JSON"),
    ("", "empty"),
    ('{"numbers": [1, NaN]}', "NaN is not valid JSON"),
    ('{"numbers": [1, Infinity]}', "Infinity is not valid JSON"),
    ('{"numbers": [true, 1]}', "numbers[0] is the boolean true"),
    ('{"numbers": [1, [2, 3]]}', "numbers[1] is a nested list"),
    ('{"numbers": []}', "empty"),
    ('{"count": 3}', "unknown field 'count'"),
    ('[1, 2, 3]', "JSON object"),
])
def test_post_bad_input_is_a_400_naming_the_problem(client, body, fragment):
    response = client.http.post("/stats", headers=JSON, body=body)
    assert response.status_code == 400
    assert fragment in response.json_body["message"]


def test_too_many_numbers_is_a_400(client):
    response = client.http.post("/stats", headers=JSON,
                                body=json.dumps({"numbers": [1] * 1_000_001}))
    assert response.status_code == 400
    assert response.json_body["limit"] == 1_000_000


def test_health(client):
    response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok", "stage": "dev"}
