"""A user's own model through `make run`: configured as s3://, uploaded into the emulator with
`make upload-model`, served over HTTP; a 503 naming it until it is there."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid

import requests
from PIL import Image

from tests.e2e.conftest import PROJECT_DIR, start_local_stack
from tests.support import onnx_graphs


def red_png() -> bytes:
    body = io.BytesIO()
    Image.new("RGB", (12, 8), (255, 0, 0)).save(body, format="PNG")
    return body.getvalue()


def test_a_model_put_into_the_emulator_is_served_once_uploaded(tmp_path):
    manifest = onnx_graphs.save(
        tmp_path, "colours", onnx_graphs.colour_classifier("NCHW", "N", False),
        {"task": "classification", "size": [6, 4], "output": "logits",
         "labels": ["red", "green", "blue"], "mean": [0.5, 0.5, 0.5], "std": [0.25] * 3})
    bucket = f"test-models-{uuid.uuid4().hex[:10]}"
    uri = f"s3://{bucket}/colours/colours.json"
    stack = start_local_stack(tmp_path / "stack.log", {"CLASSIFIER_MODEL": uri})
    try:
        def predict():
            return requests.post(f"{stack.base_url}/predict", data=red_png(),
                                 headers={"Content-Type": "image/png"}, timeout=60)

        missing = predict()
        uploaded = subprocess.run(
            [sys.executable, "-m", "stack", "upload-model", manifest, "--bucket", bucket,
             "--endpoint", stack.aws_endpoint],
            capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120)
        served = predict()
    finally:
        stack.stop()

    assert missing.status_code == 503
    assert missing.json()["code"] == "ModelUnavailable"
    assert uri in missing.json()["message"]
    assert uploaded.returncode == 0, uploaded.stderr
    assert uploaded.stdout.strip() == uri
    assert served.status_code == 200
    assert served.json()[0]["predictions"][0]["label"] == "red"
