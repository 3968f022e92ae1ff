"""s3:// models against the emulator: cached in /tmp under the object's version, fetched
again when the object changes, a 503 naming the model while it cannot be fetched."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from chalicelib import wiring
from chalicelib.prediction.models import load_classifier
from chalicelib.prediction.store import ModelUnavailable
from stack.gateway import IAMEnforcingClient
from stack.sigv4 import LocalCaller
from tests.support import onnx_graphs

# Each test runs in a fresh /tmp, as a new Lambda container does.
pytestmark = pytest.mark.usefixtures("container_tmp")

RED = (255, 0, 0)


def colour_model(directory, labels=("red", "green", "blue")):
    """A colour classifier's manifest and model files in ``directory``."""
    directory.mkdir(exist_ok=True)
    onnx_graphs.save(directory, "colours", onnx_graphs.colour_classifier("NCHW", "N", False), {
        "task": "classification", "size": [6, 4], "output": "logits", "labels": list(labels),
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]})
    return directory / "colours.json", directory / "colours.onnx"


def upload(s3, bucket, prefix, *paths):
    for path in paths:
        s3.upload_file(str(path), bucket, f"{prefix}{path.name}")


def top_label(classifier):
    return classifier.classify([Image.new("RGB", (12, 8), RED)], top_k=1)[0][0]["label"]


class CountingS3:
    """The real client, counting the object downloads."""

    def __init__(self, client):
        self._client = client
        self.downloads = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        self.downloads.append(kwargs["Key"])
        return self._client.get_object(**kwargs)


def test_a_model_is_cached_under_its_etag_and_reused(s3, bucket, tmp_path, container_tmp):
    upload(s3, bucket, "models/v1/", *colour_model(tmp_path / "v1"))
    uri = f"s3://{bucket}/models/v1/colours.json"
    etag = s3.head_object(Bucket=bucket, Key="models/v1/colours.onnx")["ETag"].strip('"')
    counting = CountingS3(s3)

    first = load_classifier(uri, lambda: counting)
    again = load_classifier(uri, lambda: counting)

    assert top_label(first) == top_label(again) == "red"
    assert (container_tmp / "model-cache" / bucket / "models/v1/colours.onnx" / etag
            / "colours.onnx").is_file()
    assert counting.downloads == ["models/v1/colours.json", "models/v1/colours.onnx"]


def test_a_replaced_model_is_fetched_again_on_the_next_cold_start(s3, bucket, tmp_path,
                                                                  container_tmp):
    upload(s3, bucket, "live/", *colour_model(tmp_path / "v1"))
    uri = f"s3://{bucket}/live/colours.json"
    assert top_label(load_classifier(uri, lambda: s3)) == "red"

    # The same keys now hold a model that names its classes in French.
    upload(s3, bucket, "live/", *colour_model(tmp_path / "v2", labels=("rouge", "vert", "bleu")))
    replaced = load_classifier(uri, lambda: s3)

    assert top_label(replaced) == "rouge"
    cached = container_tmp / "model-cache" / bucket / "live/colours.json"
    assert len(list(cached.iterdir())) == 1  # the old version left /tmp


def test_a_versioned_bucket_caches_by_version_id(s3, bucket, tmp_path, container_tmp):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload(s3, bucket, "", *colour_model(tmp_path / "v1"))
    version = s3.head_object(Bucket=bucket, Key="colours.onnx")["VersionId"]

    assert top_label(load_classifier(f"s3://{bucket}/colours.json", lambda: s3)) == "red"
    assert (container_tmp / "model-cache" / bucket / "colours.onnx" / version
            / "colours.onnx").is_file()


def test_an_unreachable_s3_endpoint_is_named():
    unreachable = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1))

    with pytest.raises(ModelUnavailable, match=r"cannot fetch the model file s3://"
                                               r"test-models-unreachable/m\.json: Could not"):
        load_classifier("s3://test-models-unreachable/m.json", lambda: unreachable)


@pytest.fixture
def stage_with_classifier(tmp_path, project_dir, stage_environment):
    """A test client for the dev stage whose CLASSIFIER_MODEL is the given URI."""
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
        stage_with_classifier, s3, bucket, tmp_path):
    uri = f"s3://{bucket}/later/colours.json"
    client = stage_with_classifier(uri)
    body = io.BytesIO()
    Image.new("RGB", (12, 8), RED).save(body, format="PNG")

    def predict():
        return client.http.post("/predict", body=body.getvalue(),
                                headers={"Content-Type": "image/png"})

    missing = predict()
    upload(s3, bucket, "later/", *colour_model(tmp_path / "v1"))
    served = predict()

    assert missing.status_code == 503
    assert missing.json_body["code"] == "ModelUnavailable"
    assert missing.json_body["message"] == (f"cannot fetch the model file {uri}: "
                                            "it does not exist")
    assert served.status_code == 200
    assert served.json_body[0]["predictions"][0]["label"] == "red"
