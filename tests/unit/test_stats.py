import json
import math
import random

import numpy as np
import pytest
from scipy import stats as scipy_stats

from chalicelib.errors import InvalidInput
from chalicelib.stats import DescribeOptions, describe_sample, parse_body, parse_query


def assert_matches_scipy(result, numbers, ddof=1, bias=True):
    expected = scipy_stats.describe(np.asarray(numbers, dtype=float), ddof=ddof, bias=bias)
    assert result["nobs"] == expected.nobs
    assert result["minmax"] == [float(expected.minmax[0]), float(expected.minmax[1])]
    for field in ("mean", "variance", "skewness", "kurtosis"):
        assert math.isclose(result[field], float(getattr(expected, field)), rel_tol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_describe_sample_equals_scipy(seed):
    rng = random.Random(seed)
    numbers = [rng.gauss(10, 3) for _ in range(rng.randint(3, 500))]
    assert_matches_scipy(describe_sample(numbers), numbers)


def test_describe_sample_passes_ddof_and_bias():
    numbers = [1.0, 2.0, 4.0, 8.0, 16.0]
    result = describe_sample(numbers, DescribeOptions(ddof=0, bias=False))
    assert_matches_scipy(result, numbers, ddof=0, bias=False)
    assert result["variance"] != describe_sample(numbers)["variance"]


def test_single_number_gives_null_instead_of_nan():
    result = describe_sample([5.0])
    assert result["variance"] is None and result["skewness"] is None
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_parse_query_reads_numbers_and_options():
    numbers, options = parse_query({"numbers": ["5", "-6.5", "1e3"], "ddof": ["0"],
                                    "bias": ["false"]}, max_numbers=10)
    assert numbers == [5.0, -6.5, 1000.0]
    assert options == DescribeOptions(ddof=0, bias=False)


@pytest.mark.parametrize("query, fragment", [
    ({}, "at least one number"),
    ({"numbers": ["5", "abc"]}, "numbers[1] must be a finite decimal number, got 'abc'"),
    ({"numbers": [""]}, "numbers[0] must be a finite decimal number, got an empty string"),
    ({"numbers": ["nan"]}, "got 'nan'"),
    ({"numbers": ["inf"]}, "got 'inf'"),
    ({"numbers": ["1e999"]}, "overflows"),
    ({"numbers": ["1_000"]}, "'1_000'"),
    ({"numbers": ["1"] * 11}, "too many numbers: 11"),
    ({"numbers": ["1", "2"], "ddof": ["-1"]}, "ddof must be a whole number of at least 0"),
    ({"numbers": ["1", "2"], "ddof": [""]}, "ddof must be a whole number"),
    ({"numbers": ["1", "2"], "bias": ["maybe"]}, "bias must be true or false"),
    ({"numbers": ["1"], "colour": ["red"]}, "unknown query parameter 'colour'"),
    ({"numbers": ["1"], "ddof": ["1", "2"]}, "given 2 times"),
])
def test_parse_query_rejects_bad_input(query, fragment):
    with pytest.raises(InvalidInput) as raised:
        parse_query(query, max_numbers=10)
    assert fragment in raised.value.message


# Superscript two, Arabic-Indic one, fullwidth one, double-struck one, Arabic-Indic five.
UNICODE_DIGITS = ["\u00b2", "\u0661", "\uff11", "\U0001d7d9", "\u0665"]


@pytest.mark.parametrize("text", [*UNICODE_DIGITS, " 1", "1 ", "+ 1", "1" * 5000, "0x10",
                                  "1_0"])
def test_ddof_is_ascii_digits_only(text):
    with pytest.raises(InvalidInput) as raised:
        parse_query({"numbers": ["1", "2", "3"], "ddof": [text]}, max_numbers=10)
    assert raised.value.details["parameter"] == "ddof"


@pytest.mark.parametrize("text", [*UNICODE_DIGITS, " 5", "5\n", "NaN", "Infinity", "-inf",
                                  "1" * 5000, "1e5000"])
def test_numbers_are_ascii_decimals_only(text):
    with pytest.raises(InvalidInput) as raised:
        parse_query({"numbers": [text]}, max_numbers=10)
    assert raised.value.details["parameter"] == "numbers[0]"


@pytest.mark.parametrize("ddof, count", [(2, 2), (12, 2), (3, 1)])
def test_ddof_must_be_below_the_number_of_values(ddof, count):
    query = {"numbers": ["1"] * count, "ddof": [str(ddof)]}
    with pytest.raises(InvalidInput) as raised:
        parse_query(query, max_numbers=10)
    assert f"ddof is {ddof} but there are {count} numbers" in raised.value.message
    with pytest.raises(InvalidInput, match="ddof must be below"):
        parse_body({"numbers": [1] * count, "ddof": ddof}, max_numbers=10)


def test_parse_body_returns_float_array():
    array, options = parse_body({"numbers": [1, 2.5, -3], "bias": False}, max_numbers=10)
    assert array.dtype == np.float64 and array.tolist() == [1.0, 2.5, -3.0]
    assert options == DescribeOptions(ddof=1, bias=False)


@pytest.mark.parametrize("payload, fragment", [
    ([1, 2], "must be a JSON object"),
    ({}, "no \"numbers\" field"),
    ({"numbers": "1,2"}, "must be a list"),
    ({"numbers": []}, "is empty"),
    ({"numbers": [1, True]}, "numbers[1] is the boolean true"),
    ({"numbers": [1, [2]]}, "numbers[1] is a nested list"),
    ({"numbers": [1, "2"]}, "numbers[1] is the string '2'"),
    ({"numbers": [1, None]}, "numbers[1] is null"),
    ({"numbers": [1, 10 ** 400]}, "numbers[1] is not a finite 64-bit float"),
    ({"numbers": [1] * 11}, "too many numbers"),
    ({"numbers": [1], "ddof": 1.5}, "ddof"),
    ({"numbers": [1], "ddof": True}, "ddof"),
    ({"numbers": [1, 2], "bias": "yes"}, "bias"),
    ({"numbers": [1], "extra": 1}, "unknown field 'extra'"),
])
def test_parse_body_rejects_bad_input(payload, fragment):
    with pytest.raises(InvalidInput) as raised:
        parse_body(payload, max_numbers=10)
    assert fragment in raised.value.message
