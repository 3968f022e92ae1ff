"""Sixteen worst-case images at the pixel limit stay within the request's memory budget.

The budget counts decoded pixels and model inputs; the request's own bytes
(the event, the decoded body, the parts: a few copies of at most
MAX_REQUEST_BYTES) come on top, so the smaller budget's check allows for them.
"""

import pytest

from chalicelib.settings import DEFAULT_FUNCTION_MEMORY_MB
from tests.support.worst_case import measure

BODY_COPIES = 6


@pytest.fixture(scope="module")
def worst_case():
    return measure()


def growth(outcome):
    return outcome["request_peak_mb"] - outcome["baseline_mb"]


def test_the_worst_case_request_answers_every_image(worst_case):
    assert worst_case["status"] == 200
    assert len(worst_case["entries"]) == 16
    assert all("predictions" in entry for entry in worst_case["entries"])
    assert {(entry["width"], entry["height"]) for entry in worst_case["entries"]} == {
        (4000, 4000)}


def test_its_peak_memory_stays_within_the_budget_and_60_percent_of_prod(worst_case):
    assert growth(worst_case) <= worst_case["budget_mb"]
    assert worst_case["peak_mb"] < 0.6 * DEFAULT_FUNCTION_MEMORY_MB


def test_a_smaller_budget_refuses_images_alone_and_holds_the_peak_to_it():
    outcome = measure({"IMAGE_MEMORY_BUDGET_MB": "40"})
    codes = [entry.get("error", {}).get("code") for entry in outcome["entries"]]
    assert outcome["status"] == 200
    assert "TooLarge" in codes and None in codes
    assert growth(outcome) <= outcome["budget_mb"] + BODY_COPIES * outcome["request_mb"]
