"""Models kept in S3: cached per object version in the temporary directory."""

from __future__ import annotations

import io
import json
import tempfile
import uuid

import boto3
import pytest
from PIL import Image

from chalicelib import wiring
from chalicelib.prediction import models
from chalicelib.prediction.models import load_classifier, load_detector
from chalicelib.prediction.store import ModelUnavailable
from stack.gateway import IAMEnforcingClient
from stack.sigv4 import LocalCaller
from training import digits

MODELS_DIR = models.PROJECT_ROOT / "chalicelib" / "prediction" / "default_models"


@pytest.fixture
def s3(emulator):
    return boto3.client("s3", endpoint_url=emulator.endpoint_url)


@pytest.fixture
def bucket(s3):
    name = f"models-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(autouse=True)
def container_tmp(tmp_path, monkeypatch):
    """A fresh /tmp, as a new Lambda container has."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def upload(s3, bucket, prefix, stem):
    for suffix in (".json", ".onnx"):
        s3.upload_file(str(MODELS_DIR / f"{stem}{suffix}"), bucket, f"{prefix}{stem}{suffix}")


def a_digit():
    _, _, held_out, labels = digits.load_split()
    return digits.to_image(held_out[0]), str(labels[0])


class CountingS3:
    """The real client, counting the downloads."""

    def __init__(self, client):
        self._client = client
        self.downloads = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        self.downloads.append(kwargs["Key"])
        return self._client.get_object(**kwargs)


def test_classifier_from_s3_is_cached_under_its_etag_and_reused(s3, bucket, container_tmp):
    upload(s3, bucket, "models/v1/", "digits-classifier")
    uri = f"s3://{bucket}/models/v1/digits-classifier.json"
    etag = s3.head_object(Bucket=bucket, Key="models/v1/digits-classifier.onnx")["ETag"]
    image, label = a_digit()
    counting = CountingS3(s3)

    first = load_classifier(uri, lambda: counting)
    again = load_classifier(uri, lambda: counting)

    assert first.classify([image], top_k=1)[0][0]["label"] == label
    assert again.classify([image], top_k=1)[0][0]["label"] == label
    assert (container_tmp / "models" / bucket / "models/v1/digits-classifier.onnx"
            / etag.strip('"') / "digits-classifier.onnx").is_file()
    assert counting.downloads == ["models/v1/digits-classifier.json",
                                  "models/v1/digits-classifier.onnx"]


def test_detector_from_s3_at_the_bucket_root(s3, bucket):
    upload(s3, bucket, "", "shapes-detector")

    detector = load_detector(f"s3://{bucket}/shapes-detector.json", lambda: s3)

    assert detector.detect([Image.new("RGB", (64, 64), (20, 20, 20))], threshold=0.5) == [[]]


def test_missing_s3_objects_are_named(s3, bucket):
    with pytest.raises(ModelUnavailable, match=f"s3://{bucket}/nothing.json: it does not exist"):
        load_classifier(f"s3://{bucket}/nothing.json", lambda: s3)

    s3.put_object(Bucket=bucket, Key="orphan.json",
                  Body=(MODELS_DIR / "digits-classifier.json").read_bytes())
    with pytest.raises(ModelUnavailable,
                       match=f"s3://{bucket}/digits-classifier.onnx: it does not exist"):
        load_classifier(f"s3://{bucket}/orphan.json", lambda: s3)


def test_missing_bucket_is_named(s3):
    with pytest.raises(ModelUnavailable, match="cannot fetch the model file s3://no-such-"):
        load_classifier(f"s3://no-such-{uuid.uuid4().hex[:8]}/m.json", lambda: s3)


def test_a_replaced_model_is_fetched_again_on_the_next_cold_start(s3, bucket, container_tmp):
    upload(s3, bucket, "live/", "digits-classifier")
    uri = f"s3://{bucket}/live/digits-classifier.json"
    image, label = a_digit()
    assert load_classifier(uri, lambda: s3).classify([image], top_k=1)[0][0]["label"] == label

    # The same key now holds a model that answers with other names.
    manifest = json.loads((MODELS_DIR / "digits-classifier.json").read_text())
    manifest["labels"] = [f"digit {name}" for name in manifest["labels"]]
    s3.put_object(Bucket=bucket, Key="live/digits-classifier.json",
                  Body=json.dumps(manifest).encode())
    replaced = load_classifier(uri, lambda: s3)

    assert replaced.classify([image], top_k=1)[0][0]["label"] == f"digit {label}"
    cached = container_tmp / "models" / bucket / "live/digits-classifier.json"
    assert len(list(cached.iterdir())) == 1  # the old version is gone from /tmp


def test_a_versioned_bucket_caches_by_version_id(s3, bucket, container_tmp):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload(s3, bucket, "", "digits-classifier")
    version = s3.head_object(Bucket=bucket, Key="digits-classifier.onnx")["VersionId"]

    load_classifier(f"s3://{bucket}/digits-classifier.json", lambda: s3)

    assert (container_tmp / "models" / bucket / "digits-classifier.onnx" / version
            / "digits-classifier.onnx").is_file()


@pytest.fixture
def stage_with_classifier(tmp_path, project_dir, stage_environment):
    """A test client for the dev stage with CLASSIFIER_MODEL set to a given URI."""
    from app import app

    def client_for(uri):
        root = tmp_path / "project"
        (root / ".chalice").mkdir(parents=True)
        config = json.loads((project_dir / ".chalice" / "config.json").read_text())
        config["stages"]["dev"]["environment_variables"]["CLASSIFIER_MODEL"] = uri
        (root / ".chalice" / "config.json").write_text(json.dumps(config))
        return IAMEnforcingClient(app, LocalCaller.from_environ(stage_environment),
                                  stage_name="dev", project_dir=str(root))

    wiring.reset()
    yield client_for
    wiring.reset()


def test_a_missing_s3_model_answers_503_naming_it_until_it_is_uploaded(
        stage_with_classifier, s3, bucket):
    uri = f"s3://{bucket}/later/digits-classifier.json"
    client = stage_with_classifier(uri)
    image, label = a_digit()
    body = io.BytesIO()
    image.save(body, format="PNG")

    missing = client.http.post("/predict", body=body.getvalue(),
                               headers={"Content-Type": "image/png"})
    upload(s3, bucket, "later/", "digits-classifier")
    served = client.http.post("/predict", body=body.getvalue(),
                              headers={"Content-Type": "image/png"})

    assert missing.status_code == 503
    assert missing.json_body["code"] == "ModelUnavailable"
    assert missing.json_body["message"] == (f"cannot fetch the model file {uri}: "
                                            "it does not exist")
    assert served.status_code == 200
    assert served.json_body[0]["predictions"][0]["label"] == label


def test_stage_setting_selects_an_s3_model_through_wiring(s3, bucket, emulator, monkeypatch):
    upload(s3, bucket, "stage/", "digits-classifier")
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setenv("CLASSIFIER_MODEL", f"s3://{bucket}/stage/digits-classifier.json")
    wiring.reset()
    image, label = a_digit()
    try:
        classifier = wiring.get_classifier()
        assert wiring.get_classifier() is classifier
        assert classifier.source == f"s3://{bucket}/stage/digits-classifier.json"
        assert classifier.classify([image], top_k=1)[0][0]["label"] == label
    finally:
        wiring.reset()


def test_stage_defaults_load_the_shipped_models_through_wiring(monkeypatch):
    monkeypatch.delenv("CLASSIFIER_MODEL", raising=False)
    monkeypatch.delenv("DETECTOR_MODEL", raising=False)
    wiring.reset()
    image, label = a_digit()
    try:
        assert wiring.get_classifier().classify([image], top_k=1)[0][0]["label"] == label
        assert wiring.get_detector().manifest.labels == ("circle", "square", "triangle")
        assert wiring.get_detector() is wiring.get_detector()
    finally:
        wiring.reset()
