"""Models kept in S3, loaded through the stage's settings (caching: test_model_cache.py)."""

from __future__ import annotations

import uuid

import pytest
from PIL import Image

from chalicelib import wiring
from chalicelib.prediction import models
from chalicelib.prediction.models import load_classifier, load_detector
from chalicelib.prediction.store import ModelUnavailable

# Each test runs in a fresh /tmp, as a new Lambda container does.
pytestmark = pytest.mark.usefixtures("container_tmp")

MODELS_DIR = models.PROJECT_ROOT / "models"


def upload(s3, bucket, prefix, stem):
    for suffix in (".json", ".onnx"):
        s3.upload_file(str(MODELS_DIR / f"{stem}{suffix}"), bucket, f"{prefix}{stem}{suffix}")


def a_photo():
    with Image.open(MODELS_DIR / "photos" / "coffee.jpg") as photo:
        return photo.convert("RGB"), "espresso"


def test_detector_from_s3_at_the_bucket_root(s3, bucket):
    upload(s3, bucket, "", "detector")

    detector = load_detector(f"s3://{bucket}/detector.json", lambda: s3)

    assert detector.detect([Image.new("RGB", (64, 64), (20, 20, 20))], threshold=0.5) == [[]]


def test_missing_s3_objects_are_named(s3, bucket):
    with pytest.raises(ModelUnavailable, match=f"s3://{bucket}/nothing.json: it does not exist"):
        load_classifier(f"s3://{bucket}/nothing.json", lambda: s3)

    s3.put_object(Bucket=bucket, Key="orphan.json",
                  Body=(MODELS_DIR / "classifier.json").read_bytes())
    with pytest.raises(ModelUnavailable,
                       match=f"s3://{bucket}/classifier.onnx: it does not exist"):
        load_classifier(f"s3://{bucket}/orphan.json", lambda: s3)


def test_missing_bucket_is_named(s3):
    with pytest.raises(ModelUnavailable, match="cannot fetch the model file s3://test-models-missing-"):
        load_classifier(f"s3://test-models-missing-{uuid.uuid4().hex[:8]}/m.json", lambda: s3)


def test_stage_setting_selects_an_s3_model_through_wiring(s3, bucket, emulator, monkeypatch):
    upload(s3, bucket, "stage/", "classifier")
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setenv("CLASSIFIER_MODEL", f"s3://{bucket}/stage/classifier.json")
    wiring.reset()
    image, label = a_photo()
    try:
        classifier = wiring.get_classifier()
        assert wiring.get_classifier() is classifier
        assert classifier.source == f"s3://{bucket}/stage/classifier.json"
        assert classifier.classify([image], top_k=1)[0][0]["label"] == label
    finally:
        wiring.reset()


def test_stage_defaults_load_the_shipped_models_through_wiring(monkeypatch):
    monkeypatch.delenv("CLASSIFIER_MODEL", raising=False)
    monkeypatch.delenv("DETECTOR_MODEL", raising=False)
    wiring.reset()
    image, label = a_photo()
    try:
        assert wiring.get_classifier().classify([image], top_k=1)[0][0]["label"] == label
        assert wiring.get_detector().manifest.labels[:3] == ("person", "bicycle", "car")
        assert wiring.get_detector() is wiring.get_detector()
    finally:
        wiring.reset()
