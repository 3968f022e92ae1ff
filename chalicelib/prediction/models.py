"""ONNX image models described by a manifest: an image classifier and an object detector.

A model is an ``.onnx`` file plus a JSON manifest beside it
(:mod:`~chalicelib.prediction.manifest`).  Loading one puts the parts
together: the files come from the package or S3
(:mod:`~chalicelib.prediction.store`), the session and what the graph
declares from :mod:`~chalicelib.prediction.sessions`, images become tensors
in :mod:`~chalicelib.prediction.preprocessing` and outputs are read in
:mod:`~chalicelib.prediction.decoding`.  Every check that can be made
without an image is made at load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib import observability
from chalicelib.errors import InvalidInput
from chalicelib.prediction import decoding, geometry, preprocessing, sessions, store
from chalicelib.prediction.manifest import Manifest, ModelConfigError, load_manifest
from chalicelib.prediction.sessions import create_session
from chalicelib.prediction.store import PROJECT_ROOT, S3ClientFactory

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PROJECT_ROOT", "ImageClassifier", "Manifest", "ModelConfigError", "ObjectDetector",
           "create_session", "load_classifier", "load_detector", "load_manifest", "load_model"]

DEFAULT_THRESHOLD = 0.4


class _OnnxModel:
    """A manifest and its ONNX Runtime session, checked against each other."""

    def __init__(self, manifest: Manifest, session: Any, source: str) -> None:
        """Check the manifest against the graph; raises ModelConfigError naming the mismatch."""
        self.manifest = manifest
        self.source = source
        self.session = session
        inputs = sessions.describe_inputs(session)
        names = [item.name for item in inputs]
        if manifest.input is None and len(inputs) != 1:
            raise ModelConfigError(f"{source}: the model has inputs {names}; name the image "
                                   "input in the manifest's \"input\" field")
        self.input_name = manifest.input or names[0]
        if self.input_name not in names:
            raise ModelConfigError(f"{source}: the model has no input {self.input_name!r}; "
                                   f"its inputs are {names}")
        spec = inputs[names.index(self.input_name)]
        if spec.type not in sessions.INPUT_TYPES:
            raise ModelConfigError(f"{source}: input {self.input_name!r} is {spec.type}; "
                                   f"image inputs may be {sorted(sessions.INPUT_TYPES)}")
        self.input_shape = list(spec.shape)
        self._check_shape(self.input_shape)
        self.input_format = preprocessing.InputFormat.from_manifest(
            manifest, sessions.INPUT_TYPES[spec.type])
        self.batch = self._batch_size(spec.shape[0])
        labels, key = sessions.metadata_labels(session, source)
        if manifest.labels is not None:
            self.labels, self.labels_from = manifest.labels, "manifest"
        elif labels is not None:
            self.labels, self.labels_from = labels, f"ONNX metadata {key!r}"
        else:
            raise ModelConfigError(
                f"{source}: no labels: the manifest has no \"labels\" and the ONNX metadata "
                f"has none of the keys {list(sessions.LABEL_METADATA_KEYS)}")
        self.outputs = sessions.describe_outputs(session)
        self.output_names = decoding.choose_outputs(self.outputs, manifest.output,
                                                    manifest.outputs, len(self.labels), source)

    @property
    def input_size(self) -> tuple[int, int]:
        """The (width, height) images are resized to."""
        return self.manifest.size

    def decode_size(self) -> tuple[int, int]:
        """The smallest (width, height) an image may be decoded at without changing the input."""
        return preprocessing.decode_size(self.input_format)

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

    def _batch_size(self, batch: Any) -> int | None:
        """None for one run per request (dynamic batch), else the run size."""
        dynamic = not isinstance(batch, int) or batch < 1
        wanted = self.manifest.dynamic_batch
        if wanted and not dynamic:
            raise ModelConfigError(f"{self.source}: the manifest says \"dynamic_batch\": true "
                                   f"but the model's batch dimension is fixed at {batch}")
        if dynamic:
            return None if wanted is not False else 1
        return int(batch)

    def _run(self, images: Sequence[Image.Image]) -> tuple[list[Any], list[geometry.Placement]]:
        """The chosen outputs, each stacked over ``images``, and each image's placement."""
        observability.record(model=self.manifest.model, model_version=self.version)
        with observability.timed("preprocess_ms"):
            tensors, placements = zip(*(preprocessing.to_tensor(image, self.input_format)
                                        for image in images), strict=True)
        with observability.timed("model_ms", trace="inference"):
            outputs = sessions.run_in_batches(self.session, self.input_name, tensors,
                                              self.batch, self.output_names)
        return outputs, list(placements)

    def describe(self) -> dict[str, Any]:
        """The resolved settings: what the manifest and the graph together decided."""
        form = self.input_format
        return {
            "source": self.source,
            "task": self.manifest.task,
            "input": {"name": self.input_name, "type": form.dtype,
                      "shape": self.input_shape, "layout": form.layout,
                      "size": list(form.size),
                      "batch": "dynamic" if self.batch is None else self.batch},
            "resize": {"mode": form.resize, "interpolation": form.interpolation,
                       **({"pad_value": form.pad_value} if "letterbox" in form.resize else {}),
                       **({"crop_fraction": form.crop_fraction}
                          if form.resize in geometry.CROPPING_MODES else {})},
            "channel_order": form.channel_order,
            "normalisation": ({"scale": form.scale, "mean": list(form.mean),
                               "std": list(form.std)} if form.normalised
                              else "none: uint8 input takes the resized pixels as they are"),
            "output": {"convention": self.manifest.output, "names": self.output_names,
                       "graph": decoding.describe(self.outputs)},
            "labels": {"count": len(self.labels), "from": self.labels_from,
                       "first": list(self.labels[:5])},
        }


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
        (raw,), _ = self._run(images)
        scores = decoding.class_scores(raw, self.manifest.output, len(self.labels),
                                       self.source)
        best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
        return [[{"label": self.labels[index], "score": float(row[index])} for index in order]
                for row, order in zip(scores, best, strict=True)]


class ObjectDetector(_OnnxModel):
    """An ONNX detector read by one of the conventions in chalicelib.prediction.decoding."""

    def __init__(self, manifest: Manifest, session: Any, source: str,
                 fallback_threshold: float = DEFAULT_THRESHOLD) -> None:
        """As _OnnxModel; ``fallback_threshold`` applies when request and manifest set none."""
        super().__init__(manifest, session, source)
        self.default_threshold = (manifest.score_threshold
                                  if manifest.score_threshold is not None
                                  else fallback_threshold)

    def detect(self, images: list[Image.Image], threshold: float | None = None
               ) -> list[list[dict]]:
        """Per image, ``{label, score, box}`` with score >= threshold, after NMS.

        Boxes are [x1, y1, x2, y2] in the source image's pixels.  Without a
        threshold the manifest's ``score_threshold`` applies, else the stage's.
        Raises InvalidInput for a threshold outside [0, 1].
        """
        if threshold is None:
            threshold = self.default_threshold
        if (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                or not 0.0 <= threshold <= 1.0):
            raise InvalidInput(f"threshold must be a number in [0, 1], got {threshold!r}",
                               parameter="threshold")
        if not images:
            return []
        raws, placements = self._run(images)
        found = decoding.detections(raws, self.manifest.output, len(self.labels), self.source)
        return [self._finish(*candidates, threshold, placement)
                for candidates, placement in zip(found, placements, strict=True)]

    def _finish(self, boxes: Any, scores: Any, labels: Any, suppressed: bool,
                threshold: float, placement: geometry.Placement) -> list[dict]:
        import numpy as np

        if self.manifest.box_coordinates == "normalized":
            width, height = self.manifest.size
            boxes = boxes * np.array([width, height, width, height], dtype=np.float64)
        keep = scores >= threshold
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        source_boxes = geometry.to_source_boxes(boxes, placement)
        if suppressed:
            kept = list(np.argsort(-scores, kind="stable")[:self.manifest.max_detections])
        else:
            kept = geometry.non_max_suppression(source_boxes, scores, labels,
                                                self.manifest.iou_threshold,
                                                self.manifest.max_detections,
                                                agnostic=self.manifest.nms == "agnostic")
        return [{"label": self.labels[int(labels[index])],
                 "score": float(scores[index]),
                 "box": [round(float(value), 2) for value in source_boxes[index]]}
                for index in kept]

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["detection"] = {
            "box_coordinates": self.manifest.box_coordinates,
            "nms": ("inside the model" if self.manifest.output == "end_to_end"
                    else self.manifest.nms),
            "iou_threshold": self.manifest.iou_threshold,
            "score_threshold": self.default_threshold,
            "score_threshold_from": ("manifest" if self.manifest.score_threshold is not None
                                     else "stage (DETECTION_THRESHOLD)"),
            "max_detections": self.manifest.max_detections}
        return described


def load_classifier(model_uri: str, get_s3_client: S3ClientFactory | None = None
                    ) -> ImageClassifier:
    """The classifier whose manifest is at ``model_uri``.

    Raises ModelConfigError (bad manifest or model) and ModelUnavailable
    (an S3 object that cannot be fetched).
    """
    return load_model(model_uri, get_s3_client, task="classification")


def load_detector(model_uri: str, get_s3_client: S3ClientFactory | None = None,
                  fallback_threshold: float = DEFAULT_THRESHOLD) -> ObjectDetector:
    """The detector whose manifest is at ``model_uri``; raises as load_classifier."""
    return load_model(model_uri, get_s3_client, task="detection",
                      fallback_threshold=fallback_threshold)


def load_model(model_uri: str, get_s3_client: S3ClientFactory | None = None,
               task: str | None = None, fallback_threshold: float = DEFAULT_THRESHOLD
               ) -> ImageClassifier | ObjectDetector:
    """The model whose manifest is at ``model_uri`` (of ``task``, when given); raises as above."""
    manifest_path = store.locate(model_uri, get_s3_client)
    manifest = load_manifest(str(manifest_path), Path(model_uri).stem)
    if task is not None and manifest.task != task:
        raise ModelConfigError(f"{model_uri} describes a {manifest.task} model, "
                               f"not a {task} model")
    model_path = (store.locate(store.sibling(model_uri, manifest.model), get_s3_client)
                  if model_uri.startswith("s3://") else manifest_path.parent / manifest.model)
    session = create_session(str(model_path))
    if manifest.task == "detection":
        return ObjectDetector(manifest, session, model_uri, fallback_threshold)
    return ImageClassifier(manifest, session, model_uri)
