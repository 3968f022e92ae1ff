"""ONNX image models described by a manifest: an image classifier and an object detector.

A model is an ``.onnx`` file plus a small JSON manifest beside it that says
how to feed it (input name, layout, size, resize, normalization) and how to
read it (labels, output convention).  The model a stage uses is a path inside
the package or an ``s3://bucket/key`` URI of the manifest; S3 objects are
downloaded once per container into the temporary directory (``/tmp`` on
Lambda) and reused.  numpy, Pillow and onnxruntime are imported only when a
model is loaded or run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from chalicelib import iam, observability
from chalicelib.errors import ConfigurationError, InvalidInput
from chalicelib.prediction import geometry

if TYPE_CHECKING:
    from PIL import Image

IAM_GRANTS = (
    iam.Grant(("s3:GetObject",), iam.s3_uri_objects("CLASSIFIER_MODEL", "DETECTOR_MODEL"),
              why="models configured as s3:// URIs are downloaded at first use"),
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TASKS = ("classification", "detection")
OUTPUTS = {"classification": ("logits", "probabilities"),
           "detection": ("yolov8", "boxes_scores_labels")}
LAYOUTS = ("NCHW", "NHWC")
BOX_COORDINATES = ("pixels", "normalized")
_FIELDS = frozenset({
    "task", "model", "input", "layout", "size", "dynamic_batch", "resize", "interpolation",
    "pad_value", "crop_fraction", "scale", "mean", "std", "labels", "output", "outputs",
    "box_coordinates", "iou_threshold", "max_detections", "description"})


class ModelConfigError(ConfigurationError):
    """A model, its manifest or its location is unusable (an operator's error)."""


@dataclass(frozen=True)
class Manifest:
    """How to feed an ONNX image model and how to read its outputs."""

    task: str
    model: str
    labels: tuple[str, ...]
    output: str
    size: tuple[int, int]
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
    outputs: tuple[str, ...] | None = None
    box_coordinates: str = "pixels"
    iou_threshold: float = 0.45
    max_detections: int = 100
    description: str = ""


def load_manifest(path: str) -> Manifest:
    """The manifest in the JSON file at ``path``; raises ModelConfigError naming the problem."""
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
    return parse_manifest(document, Path(path).stem, source=path)


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
    if (not isinstance(labels, list) or not labels
            or not all(isinstance(label, str) for label in labels)):
        raise ModelConfigError(f"{source}: \"labels\" must be a non-empty list of strings")
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
    if task == "detection" and resize == "center_crop":
        raise ModelConfigError(f"{source}: a detector cannot use \"resize\": \"center_crop\" "
                               "(boxes outside the crop would be lost); use stretch or letterbox")
    outputs = document.get("outputs")
    if outputs is not None:
        wanted = 3 if output == "boxes_scores_labels" else 1
        if (not isinstance(outputs, list) or len(outputs) != wanted
                or not all(isinstance(name, str) for name in outputs)):
            raise ModelConfigError(f"{source}: \"outputs\" must list {wanted} output name(s) "
                                   f"for the {output!r} convention")
        outputs = tuple(outputs)
    dynamic_batch = document.get("dynamic_batch")
    if dynamic_batch is not None and not isinstance(dynamic_batch, bool):
        raise ModelConfigError(f"{source}: \"dynamic_batch\" must be true or false")
    return Manifest(
        task=task, model=model, labels=tuple(labels), output=output,
        size=(int(size[0]), int(size[1])),
        layout=check.choice(document, "layout", LAYOUTS),
        input=check.text(document, "input", None),
        dynamic_batch=dynamic_batch, resize=resize,
        interpolation=check.choice(document, "interpolation", geometry.INTERPOLATIONS,
                                   default="bilinear"),
        pad_value=int(check.number(document, "pad_value", 114, 0, 255)),
        crop_fraction=check.number(document, "crop_fraction", 0.875, 0.01, 1.0),
        scale=check.number(document, "scale", 1 / 255, 1e-12, 1e12),
        mean=check.triple(document, "mean", (0.0, 0.0, 0.0)),
        std=check.triple(document, "std", (1.0, 1.0, 1.0), positive=True),
        outputs=outputs,
        box_coordinates=check.choice(document, "box_coordinates", BOX_COORDINATES),
        iou_threshold=check.number(document, "iou_threshold", 0.45, 0.0, 1.0),
        max_detections=int(check.number(document, "max_detections", 100, 1, 100_000)),
        description=check.text(document, "description", ""),
    )


class _OnnxModel:
    """A manifest and its ONNX Runtime session: feeding images, running batches."""

    def __init__(self, manifest: Manifest, session: Any, source: str) -> None:
        """Check the manifest against the session's inputs; raises ModelConfigError."""
        self.manifest = manifest
        self.source = source
        self.session = session
        inputs = session.get_inputs()
        names = [item.name for item in inputs]
        if manifest.input is None and len(inputs) != 1:
            raise ModelConfigError(f"{source}: the model has inputs {names}; name the image "
                                   "input in the manifest's \"input\" field")
        self.input_name = manifest.input or names[0]
        if self.input_name not in names:
            raise ModelConfigError(f"{source}: the model has no input {self.input_name!r}; "
                                   f"its inputs are {names}")
        spec = inputs[names.index(self.input_name)]
        if spec.type != "tensor(float)":
            raise ModelConfigError(f"{source}: input {self.input_name!r} is {spec.type}; "
                                   "only float32 image inputs are supported")
        self._check_shape(list(spec.shape))
        batch = spec.shape[0]
        model_dynamic = not isinstance(batch, int) or batch < 1
        if not model_dynamic and batch != 1:
            raise ModelConfigError(f"{source}: the model's batch size is fixed at {batch}; "
                                   "only 1 or a dynamic batch is supported")
        if manifest.dynamic_batch and not model_dynamic:
            raise ModelConfigError(f"{source}: the manifest says \"dynamic_batch\": true but "
                                   "the model's batch dimension is fixed at 1")
        self.batched = model_dynamic if manifest.dynamic_batch is None else manifest.dynamic_batch
        self.output_names = [item.name for item in session.get_outputs()]
        for name in manifest.outputs or ():
            if name not in self.output_names:
                raise ModelConfigError(f"{source}: the model has no output {name!r}; "
                                       f"its outputs are {self.output_names}")

    @property
    def version(self) -> int | None:
        """The ONNX file's own model_version, None when it sets none."""
        version = self.session.get_modelmeta().version
        return version if 0 < version < 2**63 - 1 else None

    def _check_shape(self, shape: list[Any]) -> None:
        width, height = self.manifest.size
        expected = ([None, 3, height, width] if self.manifest.layout == "NCHW"
                    else [None, height, width, 3])
        if len(shape) != 4 or any(isinstance(got, int) and got > 0 and want is not None
                                  and got != want for got, want in zip(shape, expected,
                                                                       strict=True)):
            raise ModelConfigError(
                f"{self.source}: input {self.input_name!r} has shape {shape}, but the manifest "
                f"describes {self.manifest.layout} images of {width}x{height}")

    def _tensor(self, image: Image.Image) -> tuple[Any, geometry.Placement]:
        import numpy as np

        manifest = self.manifest
        fitted, placement = geometry.fit_image(
            image.convert("RGB"), manifest.size, manifest.resize, manifest.interpolation,
            manifest.pad_value, manifest.crop_fraction)
        pixels = np.asarray(fitted, dtype=np.float32) * np.float32(manifest.scale)
        pixels = (pixels - np.asarray(manifest.mean, dtype=np.float32)) / np.asarray(
            manifest.std, dtype=np.float32)
        if manifest.layout == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(pixels), placement

    def _run(self, images: Sequence[Image.Image], names: list[str] | None
             ) -> tuple[list[Any], list[geometry.Placement]]:
        """The chosen outputs, each stacked over ``images``, and each image's placement."""
        import numpy as np

        observability.record(model=self.manifest.model, model_version=self.version)
        with observability.timed("preprocess_ms"):
            tensors, placements = zip(*(self._tensor(image) for image in images),
                                      strict=True)
        with observability.timed("model_ms", trace="inference"):
            if self.batched:
                outputs = self.session.run(names, {self.input_name: np.stack(tensors)})
            else:
                runs = [self.session.run(names, {self.input_name: tensor[np.newaxis]})
                        for tensor in tensors]
                outputs = [np.concatenate(parts) for parts in zip(*runs, strict=True)]
        return outputs, list(placements)


class ImageClassifier(_OnnxModel):
    """An ONNX classifier (ImageNet-style: one row of logits or probabilities per image)."""

    def classify(self, images: list[Image.Image], top_k: int) -> list[list[dict]]:
        """Per image, the ``top_k`` best ``{label, score}``; raises InvalidInput for top_k < 1."""
        import numpy as np

        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidInput(f"top_k must be a positive integer, got {top_k!r}",
                               parameter="top_k")
        if not images:
            return []
        names = list(self.manifest.outputs or self.output_names[:1])
        (scores,), _ = self._run(images, names)
        scores = np.asarray(scores, dtype=np.float64).reshape(len(images), -1)
        labels = self.manifest.labels
        if scores.shape[1] != len(labels):
            raise ModelConfigError(f"{self.source}: the model scores {scores.shape[1]} "
                                   f"classes but the manifest has {len(labels)} labels")
        if self.manifest.output == "logits":
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        return [[{"label": labels[index], "score": float(row[index])} for index in order]
                for row, order in zip(scores, best, strict=True)]


class ObjectDetector(_OnnxModel):
    """An ONNX detector with YOLOv8 output or (boxes, scores, labels) outputs."""

    def detect(self, images: list[Image.Image], threshold: float) -> list[list[dict]]:
        """Per image, ``{label, score, box}`` with score >= threshold, after NMS.

        Boxes are [x1, y1, x2, y2] in the source image's pixels.  Raises
        InvalidInput for a threshold outside [0, 1].
        """
        if (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                or not 0.0 <= threshold <= 1.0):
            raise InvalidInput(f"threshold must be a number in [0, 1], got {threshold!r}",
                               parameter="threshold")
        if not images:
            return []
        if self.manifest.output == "yolov8":
            names = list(self.manifest.outputs or self.output_names[:1])
            (raw,), placements = self._run(images, names)
            candidates = [self._decode_yolov8(row) for row in raw]
        else:
            names = list(self.manifest.outputs or self.output_names[:3])
            if len(names) != 3:
                raise ModelConfigError(f"{self.source}: the boxes_scores_labels convention "
                                       f"needs 3 outputs, the model has {self.output_names}")
            (boxes, scores, labels), placements = self._run(images, names)
            candidates = [self._decode_triplet(*parts)
                          for parts in zip(boxes, scores, labels, strict=True)]
        return [self._finish(boxes, scores, labels, threshold, placement)
                for (boxes, scores, labels), placement
                in zip(candidates, placements, strict=True)]

    def _decode_yolov8(self, raw: Any) -> tuple[Any, Any, Any]:
        import numpy as np

        classes = len(self.manifest.labels)
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim != 2 or 4 + classes not in raw.shape:
            raise ModelConfigError(f"{self.source}: a yolov8 output must be [4 + "
                                   f"{classes} classes, anchors] per image, got {raw.shape}")
        # Ultralytics exports [4 + C, anchors]; some tools transpose it.
        rows = raw.T if raw.shape[0] == 4 + classes else raw
        centre_x, centre_y, width, height = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
        boxes = np.stack([centre_x - width / 2, centre_y - height / 2,
                          centre_x + width / 2, centre_y + height / 2], axis=1)
        class_scores = rows[:, 4:]
        labels = class_scores.argmax(axis=1)
        return boxes, class_scores[np.arange(len(rows)), labels], labels

    def _decode_triplet(self, boxes: Any, scores: Any, labels: Any) -> tuple[Any, Any, Any]:
        import numpy as np

        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        labels = np.rint(np.asarray(labels, dtype=np.float64).reshape(-1)).astype(np.int64)
        if not len(boxes) == len(scores) == len(labels):
            raise ModelConfigError(f"{self.source}: boxes, scores and labels disagree in "
                                   f"length ({len(boxes)}, {len(scores)}, {len(labels)})")
        if self.manifest.box_coordinates == "normalized":
            width, height = self.manifest.size
            boxes = boxes * np.array([width, height, width, height], dtype=np.float64)
        # Exports pad to a fixed count with label -1 (or score 0): drop the padding.
        present = labels >= 0
        if (labels[present] >= len(self.manifest.labels)).any():
            raise ModelConfigError(f"{self.source}: the model returned label index "
                                   f"{int(labels.max())} but the manifest has "
                                   f"{len(self.manifest.labels)} labels")
        return boxes[present], scores[present], labels[present]

    def _finish(self, boxes: Any, scores: Any, labels: Any, threshold: float,
                placement: geometry.Placement) -> list[dict]:
        keep = scores >= threshold
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        source_boxes = geometry.to_source_boxes(boxes, placement)
        kept = geometry.non_max_suppression(source_boxes, scores, labels,
                                            self.manifest.iou_threshold,
                                            self.manifest.max_detections)
        return [{"label": self.manifest.labels[int(labels[index])],
                 "score": float(scores[index]),
                 "box": [round(float(value), 2) for value in source_boxes[index]]}
                for index in kept]


S3ClientFactory = Callable[[], Any]


def load_classifier(model_uri: str, get_s3_client: S3ClientFactory | None = None
                    ) -> ImageClassifier:
    """The classifier whose manifest is at ``model_uri``; raises ModelConfigError."""
    return _load(model_uri, "classification", ImageClassifier, get_s3_client)


def load_detector(model_uri: str, get_s3_client: S3ClientFactory | None = None
                  ) -> ObjectDetector:
    """The detector whose manifest is at ``model_uri``; raises ModelConfigError."""
    return _load(model_uri, "detection", ObjectDetector, get_s3_client)


def _load(model_uri: str, task: str, kind: type, get_s3_client: S3ClientFactory | None) -> Any:
    manifest_path = locate_manifest(model_uri, get_s3_client)
    manifest = load_manifest(str(manifest_path))
    if manifest.task != task:
        raise ModelConfigError(f"{model_uri} describes a {manifest.task} model, "
                               f"not a {task} model")
    if model_uri.startswith("s3://"):
        model_path = _download(_sibling_uri(model_uri, manifest.model), get_s3_client)
    else:
        model_path = manifest_path.parent / manifest.model
    return kind(manifest, create_session(str(model_path)), model_uri)


def locate_manifest(model_uri: str, get_s3_client: S3ClientFactory | None = None) -> Path:
    """A local path to the manifest ``model_uri`` names (downloaded once if on S3).

    Relative paths are inside the package (the project root); raises ModelConfigError.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise ModelConfigError("the model location is empty")
    if model_uri.startswith("s3://"):
        return _download(model_uri, get_s3_client)
    if "://" in model_uri:
        raise ModelConfigError(f"{model_uri}: a model location is a path inside the package "
                               "or an s3://bucket/key URI")
    path = Path(model_uri)
    return path if path.is_absolute() else PROJECT_ROOT / path


def create_session(model_path: str) -> Any:
    """An ONNX Runtime CPU session tuned for Lambda; raises ModelConfigError if unloadable."""
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    options = onnxruntime.SessionOptions()
    # Lambda gives 1-6 vCPUs via an affinity mask; onnxruntime's own default
    # reads the host's cores and fails to pin threads to CPUs it may not use.
    options.intra_op_num_threads = _usable_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(model_path, sess_options=options,
                                            providers=["CPUExecutionProvider"])
    except (ort_errors.NoSuchFile, ort_errors.InvalidProtobuf, ort_errors.InvalidGraph,
            ort_errors.Fail, ort_errors.NotImplemented, ort_errors.InvalidArgument) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelConfigError(f"cannot load the ONNX model {model_path}: {first_line}"
                               ) from None


def model_cache_dir() -> Path:
    """Where S3 models are kept for the container's life (``/tmp/models`` on Lambda)."""
    return Path(tempfile.gettempdir()) / "models"


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ModelConfigError(f"{uri} is not an s3://bucket/key URI of a file")
    return bucket, key


def _sibling_uri(uri: str, name: str) -> str:
    bucket, key = _split_s3_uri(uri)
    folder = key.rpartition("/")[0]
    return f"s3://{bucket}/{folder}/{name}" if folder else f"s3://{bucket}/{name}"


def _download(uri: str, get_s3_client: S3ClientFactory | None) -> Path:
    """The local copy of the S3 object ``uri``, fetched on first use only."""
    bucket, key = _split_s3_uri(uri)
    target = model_cache_dir() / bucket / key
    if target.is_file():
        return target
    if get_s3_client is None:
        raise ModelConfigError(f"{uri}: no S3 client was given to fetch the model")
    from botocore.exceptions import ClientError

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        get_s3_client().download_file(bucket, key, str(partial))
    except ClientError as error:
        partial.unlink(missing_ok=True)
        code = error.response.get("Error", {}).get("Code", "error")
        reason = {"404": "does not exist", "NoSuchKey": "does not exist",
                  "NoSuchBucket": "names a missing bucket",
                  "403": "is forbidden (check s3:GetObject)",
                  "AccessDenied": "is forbidden (check s3:GetObject)"}.get(code, code)
        raise ModelConfigError(f"cannot fetch the model file {uri}: it {reason}") from None
    # A rename is atomic: a concurrent reader never sees a half-written model.
    os.replace(partial, target)
    return target


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
            raise ModelConfigError(f"{self.source}: \"{name}\" must be 3 {kind} (R, G, B), "
                                   f"got {value!r}")
        return (float(value[0]), float(value[1]), float(value[2]))
