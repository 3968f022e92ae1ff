"""Writing trained weights as ONNX graphs that the pinned onnxruntime loads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnxruntime 1.23 runs up to opset 23 / IR 11; older numbers load everywhere.
OPSET = 17
IR_VERSION = 8
MODELS_DIR = Path(__file__).resolve().parents[1] / "chalicelib" / "prediction" / "default_models"


def constant(name: str, value: Any, dtype: Any = np.float32) -> onnx.TensorProto:
    """An initializer holding ``value``."""
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def float_input(name: str, shape: Sequence[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def build_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
                outputs: list[onnx.ValueInfoProto], initializers: list[onnx.TensorProto],
                name: str) -> onnx.ModelProto:
    """A checked model at this project's opset and IR version."""
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="chalice-reference-api training")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_model(model: onnx.ModelProto, manifest: dict[str, Any], stem: str,
                directory: Path = MODELS_DIR) -> Path:
    """Save ``stem``.onnx and its manifest ``stem``.json; returns the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(directory / f"{stem}.onnx"))
    path = directory / f"{stem}.json"
    path.write_text(json.dumps({"model": f"{stem}.onnx", **manifest}, indent=2) + "\n")
    return path
