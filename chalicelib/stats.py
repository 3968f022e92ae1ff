"""Descriptive statistics over a sample of numbers (scipy.stats.describe).

Input arrives as query strings or a JSON body; both are validated here so that
every rejection names the offending value and its position.  numpy and scipy
are imported only when a sample is actually described.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from chalicelib import params
from chalicelib.errors import InvalidInput

QUERY_PARAMETERS = frozenset({"numbers", "ddof", "bias"})
BODY_FIELDS = frozenset({"numbers", "ddof", "bias"})


DEFAULT_DDOF = 1


class DescribeOptions(NamedTuple):
    ddof: int = DEFAULT_DDOF
    bias: bool = True


def parse_query(query: Mapping[str, Sequence[str]], max_numbers: int
                ) -> tuple[list[float], DescribeOptions]:
    """Numbers and options from ``?numbers=..&numbers=..&ddof=..&bias=..``.

    Raises InvalidInput for a missing, malformed or non-finite value, for
    more than ``max_numbers`` numbers, or a ddof not below their count.
    """
    params.reject_unknown(query, QUERY_PARAMETERS)
    raw_numbers = list(query.get("numbers", ()))
    if not raw_numbers:
        raise InvalidInput("give at least one number: ?numbers=5&numbers=6",
                           parameter="numbers")
    _check_count(len(raw_numbers), max_numbers)
    numbers = [params.parse_number(text, f"numbers[{index}]")
               for index, text in enumerate(raw_numbers)]
    ddof = params.integer(query, "ddof", DEFAULT_DDOF, 0)
    if "ddof" in query:
        _check_ddof(ddof, len(numbers))
    return numbers, DescribeOptions(ddof=ddof, bias=params.boolean(query, "bias", True))


def parse_body(payload: Any, max_numbers: int) -> tuple[Any, DescribeOptions]:
    """Numbers (as a float64 array) and options from a decoded JSON body.

    Raises InvalidInput for anything but ``{"numbers": [finite numbers...]}``
    plus optional ``ddof`` and ``bias``, or more than ``max_numbers`` numbers.
    """
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object like {\"numbers\": [1, 2]}")
    unknown = sorted(set(payload) - BODY_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}; expected {sorted(BODY_FIELDS)}",
                           field=unknown[0])
    if "numbers" not in payload:
        raise InvalidInput("the body has no \"numbers\" field", field="numbers")
    numbers = payload["numbers"]
    if not isinstance(numbers, list):
        raise InvalidInput("\"numbers\" must be a list of numbers", field="numbers")
    if not numbers:
        raise InvalidInput("\"numbers\" is empty; give at least one number",
                           field="numbers")
    _check_count(len(numbers), max_numbers)
    ddof = payload.get("ddof", DEFAULT_DDOF)
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
        raise InvalidInput("\"ddof\" must be a non-negative integer", field="ddof",
                           value=ddof if isinstance(ddof, (int, float, str)) else None)
    if "ddof" in payload:
        _check_ddof(ddof, len(numbers))
    bias = payload.get("bias", True)
    if not isinstance(bias, bool):
        raise InvalidInput("\"bias\" must be true or false", field="bias", value=bias)
    return _to_array(numbers), DescribeOptions(ddof=ddof, bias=bias)


def describe_sample(numbers: Any, options: DescribeOptions | None = None
                    ) -> dict[str, Any]:
    """scipy.stats.describe of ``numbers`` as JSON-safe data (NaN/inf -> None)."""
    options = options or DescribeOptions()
    import numpy as np
    from scipy import stats

    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            # One number gives a NaN variance; scipy warns, we answer null.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.describe(np.asarray(numbers, dtype=np.float64),
                                    ddof=options.ddof, bias=options.bias)
    return {
        "nobs": int(result.nobs),
        "minmax": [_finite_or_none(result.minmax[0]), _finite_or_none(result.minmax[1])],
        "mean": _finite_or_none(result.mean),
        "variance": _finite_or_none(result.variance),
        "skewness": _finite_or_none(result.skewness),
        "kurtosis": _finite_or_none(result.kurtosis),
    }


def _finite_or_none(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _check_count(count: int, max_numbers: int) -> None:
    if count > max_numbers:
        raise InvalidInput(f"too many numbers: {count}, at most {max_numbers}",
                              count=count, limit=max_numbers)


def _to_array(numbers: list[Any]) -> Any:
    import numpy as np

    # The fast path: one C-level pass over the element types, then one
    # conversion.  The slow path only runs to name the offending element.
    if set(map(type, numbers)) <= {int, float}:
        try:
            array = np.asarray(numbers, dtype=np.float64)
        except OverflowError:
            array = None
        if array is not None and np.isfinite(array).all():
            return array
    for index, value in enumerate(numbers):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(
                f"numbers[{index}] is {_json_kind(value)}, not a number",
                position=index, value=None if isinstance(value, (list, dict)) else value)
        if not _is_finite_float(value):
            raise InvalidInput(f"numbers[{index}] is not a finite 64-bit float",
                               position=index)
    raise InvalidInput("numbers could not be converted to 64-bit floats")


def _is_finite_float(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, list):
        return "a nested list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def _check_ddof(ddof: int, count: int) -> None:
    # scipy divides by (count - ddof): at or past zero the variance is
    # infinite or negative, never an answer.  Only a ddof the caller chose is
    # checked: one number with the default ddof answers a null variance.
    if ddof >= count:
        raise InvalidInput(f"ddof is {ddof} but there are {count} numbers; ddof must be "
                           f"below the number of values", parameter="ddof", value=ddof,
                           count=count)
