"""One contract for every Labeller: the classifier path and Rekognition (emulated)."""

import pytest

from chalicelib.prediction.models import load_classifier
from chalicelib.settings import DEFAULT_CLASSIFIER_MODEL
from chalicelib.uploads.labelling import ClassifierLabeller, NotAnImage, RekognitionLabeller
from tests.support.images import image_bytes
from tests.support.uploads import aws


@pytest.fixture(params=["classifier", "rekognition"])
def labeller(request, emulator):
    if request.param == "classifier":
        classifier = load_classifier(DEFAULT_CLASSIFIER_MODEL)
        return ClassifierLabeller(lambda: classifier)
    return RekognitionLabeller(aws(emulator.endpoint_url, "rekognition"))


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "WEBP"])
def test_labels_are_named_scored_and_ranked(labeller, image_format):
    labels = labeller.label(image_bytes(image_format=image_format), max_labels=2)
    assert 1 <= len(labels) <= 2
    assert all(isinstance(item["label"], str) and item["label"] for item in labels)
    scores = [item["score"] for item in labels]
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores == sorted(scores, reverse=True)


def test_max_labels_is_respected(labeller):
    assert len(labeller.label(image_bytes(), max_labels=1)) == 1


def test_non_images_are_refused(labeller):
    with pytest.raises(NotAnImage):
        labeller.label(b"GIF89a but nothing else", max_labels=3)


def test_rekognition_confidence_becomes_a_score(emulator):
    # moto's DetectLabels answers a fixed sample whatever the image shows.
    labels = RekognitionLabeller(aws(emulator.endpoint_url, "rekognition")).label(
        image_bytes(), max_labels=5)
    assert labels[0] == {"label": "Mobile Phone", "score": pytest.approx(0.999364, abs=1e-6)}
