"""Model manifests: the JSON beside an ``.onnx`` file that says how to feed and read it.

Parsing only: every field is checked here, once, and a bad one is named in a
ModelConfigError.  What the graph itself says (input type, output shapes,
metadata labels) is checked against the manifest when the model is loaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from chalicelib.errors import ConfigurationError
from chalicelib.prediction import geometry

TASKS = ("classification", "detection")
# The output conventions each task can be read with (see chalicelib.prediction.decoding).
OUTPUTS = {"classification": ("logits", "probabilities"),
           "detection": ("yolov8", "yolov8_transposed", "boxes_scores_labels", "end_to_end")}
LAYOUTS = ("NCHW", "NHWC")
CHANNEL_ORDERS = ("RGB", "BGR")
NMS_MODES = ("per_class", "agnostic")
BOX_COORDINATES = ("pixels", "normalized")
_FIELDS = frozenset({
    "task", "model", "input", "layout", "size", "dynamic_batch", "resize", "interpolation",
    "pad_value", "crop_fraction", "scale", "mean", "std", "channel_order", "labels", "output",
    "outputs", "box_coordinates", "nms", "iou_threshold", "score_threshold", "max_detections",
    "description"})


class ModelConfigError(ConfigurationError):
    """A model, its manifest or its location is unusable (an operator's error)."""


@dataclass(frozen=True)
class Manifest:
    """How to feed an ONNX image model and how to read its outputs."""

    task: str
    model: str
    output: str
    size: tuple[int, int]
    # None: the names come from the ONNX file's metadata (see chalicelib.prediction.sessions).
    labels: tuple[str, ...] | None = None
    layout: str = "NCHW"
    input: str | None = None
    dynamic_batch: bool | None = None
    resize: str = "stretch"
    interpolation: str = "bilinear"
    pad_value: int = 114
    crop_fraction: float = 0.875
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"
    outputs: tuple[str, ...] | None = None
    box_coordinates: str = "pixels"
    nms: str = "per_class"
    iou_threshold: float = 0.45
    # None: the stage's DETECTION_THRESHOLD is the default.
    score_threshold: float | None = None
    max_detections: int = 100
    description: str = ""


def load_manifest(path: str, default_stem: str | None = None) -> Manifest:
    """The manifest in the JSON file at ``path``; raises ModelConfigError naming the problem.

    ``default_stem`` names the model file when the manifest does not (the
    manifest's own name by default).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ModelConfigError(f"cannot read the model manifest {path}: {error.strerror}"
                               ) from None
    except UnicodeDecodeError:
        raise ModelConfigError(f"the model manifest {path} is not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelConfigError(f"the model manifest {path} is not valid JSON: {error.msg} "
                               f"(line {error.lineno})") from None
    return parse_manifest(document, default_stem or Path(path).stem, source=path)


def parse_manifest(document: Any, default_stem: str = "model", source: str = "manifest"
                   ) -> Manifest:
    """A Manifest from decoded JSON; raises ModelConfigError naming the bad field."""
    check = _FieldChecker(source)
    if not isinstance(document, dict):
        raise ModelConfigError(f"{source}: the manifest must be a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise ModelConfigError(f"{source}: unknown field {unknown[0]!r}; "
                               f"known fields are {sorted(_FIELDS)}")
    task = check.choice(document, "task", TASKS, required=True)
    output = check.choice(document, "output", OUTPUTS[task], required=True)
    labels = document.get("labels")
    if labels is not None and (not isinstance(labels, list) or not labels
                               or not all(isinstance(label, str) for label in labels)):
        raise ModelConfigError(f"{source}: \"labels\" must be a non-empty list of strings "
                               "(or left out when the ONNX metadata has \"names\")")
    size = document.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(_is_int(side) and side > 0 for side in size)):
        raise ModelConfigError(f"{source}: \"size\" must be [width, height] in pixels, "
                               f"got {size!r}")
    model = check.text(document, "model", f"{default_stem}.onnx")
    if PurePosixPath(model).name != model or model in (".", ".."):
        raise ModelConfigError(f"{source}: \"model\" must be a file name beside the manifest, "
                               f"got {model!r}")
    resize = check.choice(document, "resize", geometry.RESIZE_MODES)
    if task == "detection" and resize in geometry.CROPPING_MODES:
        raise ModelConfigError(f"{source}: a detector cannot use \"resize\": \"{resize}\" "
                               "(boxes outside the crop would be lost); use stretch or a "
                               "letterbox mode")
    interpolation = check.choice(document, "interpolation", geometry.INTERPOLATIONS,
                                 default="bilinear")
    if resize == "ultralytics_letterbox" and interpolation != "bilinear":
        raise ModelConfigError(f"{source}: \"ultralytics_letterbox\" always resizes as "
                               "OpenCV's bilinear does; leave \"interpolation\" out")
    outputs = document.get("outputs")
    if outputs is not None:
        wanted = 3 if output == "boxes_scores_labels" else 1
        if (not isinstance(outputs, list) or len(outputs) != wanted
                or not all(isinstance(name, str) for name in outputs)):
            raise ModelConfigError(f"{source}: \"outputs\" must list {wanted} output name(s) "
                                   f"for the {output!r} convention")
        outputs = tuple(outputs)
    if output == "end_to_end" and "nms" in document:
        raise ModelConfigError(f"{source}: an \"end_to_end\" model does its own NMS; "
                               "leave \"nms\" out")
    dynamic_batch = document.get("dynamic_batch")
    if dynamic_batch is not None and not isinstance(dynamic_batch, bool):
        raise ModelConfigError(f"{source}: \"dynamic_batch\" must be true or false")
    score_threshold = document.get("score_threshold")
    if score_threshold is not None:
        score_threshold = check.number(document, "score_threshold", 0.0, 0.0, 1.0)
    return Manifest(
        task=task, model=model, labels=tuple(labels) if labels else None, output=output,
        size=(int(size[0]), int(size[1])),
        layout=check.choice(document, "layout", LAYOUTS),
        input=check.text(document, "input", None),
        dynamic_batch=dynamic_batch, resize=resize, interpolation=interpolation,
        pad_value=int(check.number(document, "pad_value", 114, 0, 255)),
        crop_fraction=check.number(document, "crop_fraction", 0.875, 0.01, 1.0),
        scale=check.number(document, "scale", 1 / 255, 1e-12, 1e12),
        mean=check.triple(document, "mean", (0.0, 0.0, 0.0)),
        std=check.triple(document, "std", (1.0, 1.0, 1.0), positive=True),
        channel_order=check.choice(document, "channel_order", CHANNEL_ORDERS),
        outputs=outputs,
        box_coordinates=check.choice(document, "box_coordinates", BOX_COORDINATES),
        nms=check.choice(document, "nms", NMS_MODES),
        iou_threshold=check.number(document, "iou_threshold", 0.45, 0.0, 1.0),
        score_threshold=score_threshold,
        max_detections=int(check.number(document, "max_detections", 100, 1, 100_000)),
        description=check.text(document, "description", ""),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _FieldChecker:
    """Reads optional manifest fields, naming the field and manifest when one is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def choice(self, document: Mapping[str, Any], name: str, options: Sequence[str],
               required: bool = False, default: str | None = None) -> str:
        value = document.get(name)
        if value is None and not required:
            return default or options[0]
        if value not in options:
            raise ModelConfigError(f"{self.source}: \"{name}\" must be one of "
                                   f"{list(options)}, got {value!r}")
        return value

    def text(self, document: Mapping[str, Any], name: str, default: Any) -> Any:
        value = document.get(name, default)
        if value is not default and (not isinstance(value, str) or not value):
            raise ModelConfigError(f"{self.source}: \"{name}\" must be a non-empty string")
        return value

    def number(self, document: Mapping[str, Any], name: str, default: float,
               low: float, high: float) -> float:
        value = document.get(name, default)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not low <= value <= high):
            raise ModelConfigError(f"{self.source}: \"{name}\" must be a number in "
                                   f"[{low}, {high}], got {value!r}")
        return float(value)

    def triple(self, document: Mapping[str, Any], name: str,
               default: tuple[float, float, float], positive: bool = False
               ) -> tuple[float, float, float]:
        value = document.get(name, list(default))
        if (not isinstance(value, list) or len(value) != 3
                or not all(isinstance(item, int | float) and not isinstance(item, bool)
                           and math.isfinite(item) and (item > 0 or not positive)
                           for item in value)):
            kind = "positive numbers" if positive else "numbers"
            raise ModelConfigError(f"{self.source}: \"{name}\" must be 3 {kind}, one per "
                                   f"channel in the model's channel order, got {value!r}")
        return (float(value[0]), float(value[1]), float(value[2]))
