"""`make check-model` and `make upload-model`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest
from PIL import Image

from chalicelib.prediction.store import PROJECT_ROOT
from tests.support import onnx_graphs


def run_stack(*args, environment=None):
    return subprocess.run([sys.executable, "-m", "stack", *args], capture_output=True,
                          text=True, cwd=str(PROJECT_ROOT), timeout=120,
                          env={**os.environ, **(environment or {})})


@pytest.fixture
def bgr_model(tmp_path):
    model = onnx_graphs.with_metadata(onnx_graphs.colour_classifier("NCHW", 2, False),
                                      names="{0: 'blue', 1: 'green', 2: 'red'}")
    return onnx_graphs.save(tmp_path, "caffe", model, {
        "task": "classification", "size": [6, 4], "output": "logits", "channel_order": "BGR",
        "scale": 1, "mean": [100, 110, 120], "std": [10, 20, 40]})


@pytest.fixture
def photos(tmp_path):
    paths = []
    for name, colour in (("orange.png", (255, 128, 0)), ("teal.jpg", (0, 128, 128))):
        Image.new("RGB", (40, 30), colour).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    return paths


def test_check_model_prints_the_resolved_settings_and_predictions(bgr_model, photos):
    result = run_stack("check-model", bgr_model, *photos)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"]["input"] == {"name": "data", "type": "float32",
                                        "shape": [2, 3, 4, 6], "layout": "NCHW",
                                        "size": [6, 4], "batch": 2}
    assert report["model"]["channel_order"] == "BGR"
    assert report["model"]["normalisation"] == {"scale": 1.0, "mean": [100.0, 110.0, 120.0],
                                                "std": [10.0, 20.0, 40.0]}
    assert report["model"]["output"]["convention"] == "logits"
    assert report["model"]["labels"]["from"] == "ONNX metadata 'names'"
    assert [entry["image"] for entry in report["predictions"]] == photos
    # orange: B (0 - 100) / 10 = -10, G (128 - 110) / 20 = 0.9, R (255 - 120) / 40 = 3.375
    # teal: B (128 - 100) / 10 = 2.8, G 0.9, R (0 - 120) / 40 = -3
    assert [entry["predictions"][0]["label"] for entry in report["predictions"]] == [
        "red", "blue"]


def test_check_model_exits_non_zero_with_the_reason(tmp_path, photos):
    rows = np.zeros((300, 6), np.float32)
    path = onnx_graphs.save(tmp_path, "nms", onnx_graphs.constant_detector(rows, batch=1), {
        "task": "detection", "size": [64, 64], "output": "yolov8", "labels": ["a", "b"]})

    refused = run_stack("check-model", path, *photos)
    unreadable = run_stack("check-model", path.replace("nms", "absent"))

    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "output0 [1, 300, 6] does not fit the 'yolov8' convention" in refused.stderr
    assert unreadable.returncode == 1
    assert "cannot read the model manifest" in unreadable.stderr


def test_upload_model_puts_it_where_the_app_loads_it_from(bgr_model, photos, emulator):
    bucket = f"test-models-{uuid.uuid4().hex[:10]}"

    uploaded = run_stack("upload-model", bgr_model, "--endpoint", emulator.endpoint_url,
                         "--bucket", bucket)
    uri = uploaded.stdout.strip()
    checked = run_stack("check-model", uri, photos[0],
                        environment={"AWS_ENDPOINT_URL": emulator.endpoint_url})

    assert uploaded.returncode == 0, uploaded.stderr
    assert uri == f"s3://{bucket}/caffe/caffe.json"
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["predictions"][0]["predictions"][0]["label"] == "red"


def test_upload_model_refuses_a_manifest_without_its_model_file(tmp_path, emulator):
    manifest = tmp_path / "lonely.json"
    manifest.write_text(json.dumps({"task": "classification", "size": [8, 8],
                                    "output": "logits", "labels": ["a"]}))

    result = run_stack("upload-model", str(manifest), "--endpoint", emulator.endpoint_url)

    assert result.returncode == 1
    assert "its model file" in result.stderr and "lonely.onnx does not exist" in result.stderr
