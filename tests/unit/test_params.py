import pytest

from chalicelib import params
from chalicelib.errors import InvalidInput

# Superscript two, Arabic-Indic one, fullwidth one, double-struck one.
UNICODE_DIGITS = ["\u00b2", "\u0661", "\uff11", "\U0001d7d9"]


@pytest.mark.parametrize("text", [*UNICODE_DIGITS, " 5", "5 ", "\t5", "5\n", "1_0", "0x1",
                                  "", "+", "1.0", "1e2", "9" * 5000])
def test_integers_are_ascii_digits_with_an_optional_sign(text):
    with pytest.raises(InvalidInput) as raised:
        params.integer({"limit": [text]}, "limit", 1)
    assert raised.value.details["parameter"] == "limit"
    assert raised.value.message.startswith("limit must be a whole number")


@pytest.mark.parametrize("text, value", [("7", 7), ("+7", 7), ("-7", -7), ("007", 7)])
def test_ascii_integers_are_read(text, value):
    assert params.integer({"n": [text]}, "n", 0) == value


@pytest.mark.parametrize("text", [*UNICODE_DIGITS, "nan", "NaN", "inf", "Infinity", "-inf",
                                  "1e400", " 0.5", "0.5 ", "1_0.5", "0x1p3", "1.2.3",
                                  "1" * 65])
def test_floats_are_finite_ascii_decimals(text):
    with pytest.raises(InvalidInput) as raised:
        params.number({"t": [text]}, "t", 0.0)
    assert raised.value.details["parameter"] == "t"


@pytest.mark.parametrize("text, value", [("0.5", 0.5), (".5", 0.5), ("5.", 5.0),
                                         ("-1e-3", -0.001), ("2E2", 200.0)])
def test_ascii_decimals_are_read(text, value):
    assert params.number({"t": [text]}, "t", 0.0) == value


def test_long_values_are_refused_before_conversion_and_clipped_in_the_answer():
    with pytest.raises(InvalidInput) as raised:
        params.integer({"n": ["1" * 100_000]}, "n", 0)
    assert len(raised.value.details["value"]) <= params.MAX_VALUE_LENGTH + 3


@pytest.mark.parametrize("text, value", [("true", True), ("1", True), ("false", False),
                                         ("0", False)])
def test_booleans(text, value):
    assert params.boolean({"b": [text]}, "b", not value) is value


@pytest.mark.parametrize("text", ["yes", "True", "on", "", " true", "\uff11"])
def test_other_booleans_are_refused(text):
    with pytest.raises(InvalidInput, match="b must be true or false"):
        params.boolean({"b": [text]}, "b", True)


def test_choice_names_the_options():
    assert params.choice({}, "mode", ("a", "b"), "a") == "a"
    with pytest.raises(InvalidInput, match="mode must be one of a, b, got 'c'"):
        params.choice({"mode": ["c"]}, "mode", ("a", "b"), "a")


def test_unknown_parameters_are_named():
    with pytest.raises(InvalidInput, match="unknown query parameter 'next'") as raised:
        params.reject_unknown({"next": ["x"], "limit": ["1"]}, params.PAGE_PARAMETERS)
    assert raised.value.details["parameter"] == "next"
    params.reject_unknown({"filter.a": ["1"]}, (), prefixes=("filter.",))


def test_page_requests_share_one_default_and_one_cap():
    assert params.page_request({}) == params.PageRequest(params.DEFAULT_PAGE_SIZE, None)
    assert params.page_request({"limit": ["100"], "cursor": ["abc"]}).limit == 100
    for bad in ({"limit": ["0"]}, {"limit": ["101"]}, {"cursor": [""]},
                {"cursor": ["x" * 5000]}):
        with pytest.raises(InvalidInput):
            params.page_request(bad)


def test_cursors_round_trip_and_refuse_other_shapes():
    token = params.encode_cursor({"id": "a", "at": "b"})
    assert params.decode_cursor(token, {"id", "at"}) == {"id": "a", "at": "b"}
    for keys in ({"id"}, {"id", "at", "more"}):
        with pytest.raises(InvalidInput, match="cursor is not one this API gave out"):
            params.decode_cursor(token, keys)
    with pytest.raises(InvalidInput):
        params.decode_cursor(params.encode_cursor({"id": 1}), {"id"})
