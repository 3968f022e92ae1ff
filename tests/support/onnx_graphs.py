"""Tiny ONNX models with known answers, built in the tests (no training, no files in git)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def save(directory: Path, stem: str, model: onnx.ModelProto, manifest: dict[str, Any]) -> str:
    """Write ``stem``.onnx and its manifest; returns the manifest's path."""
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(directory / f"{stem}.onnx"))
    path = directory / f"{stem}.json"
    path.write_text(json.dumps({"model": f"{stem}.onnx", **manifest}))
    return str(path)


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


ELEMENT_TYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16,
                 "uint8": TensorProto.UINT8, "float64": TensorProto.DOUBLE}


def colour_classifier(layout: str, batch: int | str, probabilities: bool,
                      size: tuple[int, int] = (6, 4), input_type: str = "float32",
                      output_type: str = "float32") -> onnx.ModelProto:
    """A ResNet-shaped head: GlobalAveragePool -> Flatten -> Gemm -> 3 scores (r, g, b).

    The Gemm is the identity, so the logits are the normalized channel means
    and the answer for a plain colour image can be computed by hand.  NHWC
    models start with a Transpose, as tf2onnx exports do.  Other input and
    output types are cast at the edges, as half-precision exports are.
    """
    width, height = size
    shape = [batch, 3, height, width] if layout == "NCHW" else [batch, height, width, 3]
    nodes = []
    current = "data"
    if input_type != "float32":
        nodes.append(helper.make_node("Cast", ["data"], ["data_float"], to=TensorProto.FLOAT))
        current = "data_float"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [current], ["nchw"], perm=[0, 3, 1, 2]))
        current = "nchw"
    nodes += [helper.make_node("GlobalAveragePool", [current], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
              helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"])]
    output = "logits"
    if probabilities:
        nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], axis=1))
        output = "prob"
    if output_type != "float32":
        nodes.append(helper.make_node("Cast", [output], ["scores"],
                                      to=ELEMENT_TYPES[output_type]))
        output = "scores"
    initializers = [numpy_helper.from_array(np.eye(3, dtype=np.float32), "fc_w"),
                    numpy_helper.from_array(np.zeros(3, np.float32), "fc_b")]
    return _model(nodes, [helper.make_tensor_value_info("data", ELEMENT_TYPES[input_type],
                                                        shape)],
                  [helper.make_tensor_value_info(output, ELEMENT_TYPES[output_type],
                                                 [batch, 3])],
                  initializers)


def with_metadata(model: onnx.ModelProto, **props: str) -> onnx.ModelProto:
    """``model`` with ``props`` in its metadata (as Ultralytics stores ``names``)."""
    helper.set_model_props(model, props)
    return model


def constant_detector(predictions: np.ndarray, size: tuple[int, int] = (64, 64),
                      batch: int | str = "N") -> onnx.ModelProto:
    """A detector whose one output is ``predictions`` for every image, with a batch axis.

    ``predictions`` is [4 + C, A] for a YOLOv8 export, [K, 6] for an end-to-end one.
    """
    width, height = size
    nodes = [
        # zero [N, 1, 1] from the input, so the constant gets the batch dimension
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMean", ["mean"], ["per_image"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["per_image", "zero"], ["nothing"]),
        helper.make_node("Unsqueeze", ["nothing", "last_axis"], ["nothing3"]),
        helper.make_node("Add", ["nothing3", "predictions"], ["output0"]),
    ]
    initializers = [numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
                    numpy_helper.from_array(np.array([2], np.int64), "last_axis"),
                    numpy_helper.from_array(predictions.astype(np.float32)[np.newaxis],
                                            "predictions")]
    return _model(nodes, [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                        [batch, 3, height, width])],
                  [helper.make_tensor_value_info("output0", TensorProto.FLOAT,
                                                 [batch, *predictions.shape])], initializers)


def constant_triplet_detector(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                              size: tuple[int, int] = (64, 64)) -> onnx.ModelProto:
    """A detector with (boxes [N, K, 4], scores [N, K], labels [N, K]) outputs, constant."""
    width, height = size
    nodes = [
        helper.make_node("Shape", ["images"], ["input_shape"], start=0, end=1),
        helper.make_node("Concat", ["input_shape", "box_tail"], ["box_shape"], axis=0),
        helper.make_node("Concat", ["input_shape", "row_tail"], ["row_shape"], axis=0),
        helper.make_node("Expand", ["boxes_k", "box_shape"], ["boxes"]),
        helper.make_node("Expand", ["scores_k", "row_shape"], ["scores"]),
        helper.make_node("Expand", ["labels_k", "row_shape"], ["labels"]),
    ]
    count = len(scores)
    initializers = [
        numpy_helper.from_array(np.array([count, 4], np.int64), "box_tail"),
        numpy_helper.from_array(np.array([count], np.int64), "row_tail"),
        numpy_helper.from_array(boxes.astype(np.float32)[np.newaxis], "boxes_k"),
        numpy_helper.from_array(scores.astype(np.float32)[np.newaxis], "scores_k"),
        numpy_helper.from_array(labels.astype(np.int64)[np.newaxis], "labels_k"),
    ]
    return _model(
        nodes, [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                              ["N", 3, height, width])],
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", count, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", count]),
         helper.make_tensor_value_info("labels", TensorProto.INT64, ["N", count])],
        initializers)


class CountingSession:
    """A real session that remembers the batch size of every run."""

    def __init__(self, session):
        self._session = session
        self.batches = []

    def __getattr__(self, name):
        return getattr(self._session, name)

    def run(self, names, feeds):
        self.batches.extend(len(value) for value in feeds.values())
        return self._session.run(names, feeds)
