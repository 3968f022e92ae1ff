"""ONNX Runtime sessions: creating them for Lambda, reading what the graph declares, running
batches of the size the graph accepts.

onnxruntime and numpy are imported inside the functions.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.prediction.manifest import ModelConfigError

# ONNX tensor types the image input may have, by the numpy dtype fed to it.
INPUT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16",
               "tensor(uint8)": "uint8"}
FLOAT_OUTPUT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)")
# The ONNX metadata_props keys read for class names, in this order.
LABEL_METADATA_KEYS = ("names",)


@dataclass(frozen=True)
class TensorInfo:
    """One input or output as the graph declares it (symbolic dimensions are strings)."""

    name: str
    type: str
    shape: tuple[int | str | None, ...]


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


def describe_inputs(session: Any) -> list[TensorInfo]:
    """The graph's inputs."""
    return [TensorInfo(item.name, item.type, tuple(item.shape)) for item in session.get_inputs()]


def describe_outputs(session: Any) -> list[TensorInfo]:
    """The graph's outputs."""
    return [TensorInfo(item.name, item.type, tuple(item.shape))
            for item in session.get_outputs()]


def metadata_labels(session: Any, source: str) -> tuple[tuple[str, ...] | None, str | None]:
    """Class names from the model's metadata and the key they came from, or (None, None).

    Reads ``names`` as Ultralytics writes it (a Python dict literal
    ``{0: 'person', 1: 'bicycle', ...}``) or as JSON (a list, or an object
    keyed by index).  Raises ModelConfigError when the key is there but its
    value is not a complete list of names.
    """
    metadata = session.get_modelmeta().custom_metadata_map
    for key in LABEL_METADATA_KEYS:
        if key in metadata:
            return _parse_names(metadata[key], f"{source}: the ONNX metadata {key!r}"), key
    return None, None


def _parse_names(text: str, where: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ModelConfigError(f"{where} is neither JSON nor a Python literal") from None
    if isinstance(value, dict):
        try:
            by_index = {int(index): name for index, name in value.items()}
        except (TypeError, ValueError):
            raise ModelConfigError(f"{where} must be keyed by class index") from None
        if sorted(by_index) != list(range(len(by_index))):
            raise ModelConfigError(f"{where} must number the classes 0..N-1 without gaps")
        value = [by_index[index] for index in range(len(by_index))]
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(name, str) for name in value)):
        raise ModelConfigError(f"{where} must be a list of names or a dict index -> name")
    return tuple(value)


def run_in_batches(session: Any, feed_name: str, tensors: Sequence[Any], batch: int | None,
                   outputs: list[str]) -> list[Any]:
    """Each of ``outputs``, stacked over ``tensors`` in order.

    ``batch`` None runs every tensor in one call (a dynamic batch); a number
    runs chunks of exactly that many, the last padded with zeros whose
    results are dropped.
    """
    import numpy as np

    stacked = np.stack(tensors)
    if batch is None:
        return list(session.run(outputs, {feed_name: stacked}))
    runs = []
    for start in range(0, len(stacked), batch):
        chunk = stacked[start:start + batch]
        missing = batch - len(chunk)
        if missing:
            chunk = np.concatenate([chunk, np.zeros((missing, *chunk.shape[1:]), chunk.dtype)])
        results = session.run(outputs, {feed_name: chunk})
        runs.append([np.asarray(result)[:batch - missing] for result in results])
    return [np.concatenate(parts) for parts in zip(*runs, strict=True)]


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
