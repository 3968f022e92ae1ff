"""The default ImageNet classifier (EfficientNet-Lite0) names what is in real photos, over HTTP.

The photos ship in registry packages (scikit-image, matplotlib and
scikit-learn wheels, Debian's darknet package); `make models` extracts them
to models/photos/.  modelbuild.photos lists, for each, the ImageNet labels a
person would accept for it; every one must be among the five best answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from modelbuild.photos import classifier_expectations

PHOTOS = Path(__file__).resolve().parents[2] / "models" / "photos"
EXPECTED = classifier_expectations()


def test_at_least_twelve_real_photos_are_checked():
    assert len(EXPECTED) >= 12
    assert all((PHOTOS / name).is_file() for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_classifier_names_a_real_photo(local_stack, name):
    with (PHOTOS / name).open("rb") as photo:
        response = requests.post(f"{local_stack.base_url}/predict", params={"top_k": "5"},
                                 files=[("image", (name, photo, "image/jpeg"))], timeout=120)

    assert response.status_code == 200, response.text
    (entry,) = response.json()
    labels = [item["label"] for item in entry["predictions"]]
    missing = [label for label in EXPECTED[name] if label not in labels]
    assert not missing, f"{name}: expected {missing} in the top 5, got {labels}"
    scores = [item["score"] for item in entry["predictions"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6


def test_sixteen_photos_in_one_request_get_the_same_answers_as_one_by_one(local_stack):
    names = (sorted(EXPECTED) * 2)[:16]
    files = [("image", (name, (PHOTOS / name).read_bytes(), "image/jpeg")) for name in names]

    response = requests.post(f"{local_stack.base_url}/predict", params={"top_k": "5"},
                             files=files, timeout=120)

    assert response.status_code == 200, response.text
    for name, entry in zip(names, response.json(), strict=True):
        labels = [item["label"] for item in entry["predictions"]]
        assert set(EXPECTED[name]) <= set(labels), (name, labels)
