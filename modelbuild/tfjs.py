"""Reading a TensorFlow.js graph model: its JSON topology and its weight shards.

Only what the converter and the reference executor both need: the nodes in
file order and every constant as a numpy array, dequantized to the dtype the
graph computes in (TF.js stores float32 weights as float16 to halve the
download; ``quantization`` in the manifest says so).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
           "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


class GraphModelError(ValueError):
    """A TF.js graph model that cannot be read or uses something not supported here."""


@dataclass(frozen=True)
class Node:
    """One TensorFlow node: its op, its inputs (``name`` or ``name:k``) and attributes."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any] = field(default_factory=dict)

    def ints(self, key: str) -> list[int]:
        """A list-of-ints attribute (strides, ksize, dilations)."""
        return [int(value) for value in self.attr.get(key, {}).get("list", {}).get("i", [])]

    def text(self, key: str) -> str:
        """A string attribute (TF.js stores them base64-encoded)."""
        raw = self.attr.get(key, {}).get("s", "")
        return base64.b64decode(raw).decode("ascii") if raw else ""

    def number(self, key: str, default: float) -> float:
        """A float attribute such as LeakyRelu's alpha."""
        return float(self.attr.get(key, {}).get("f", default))

    def flag(self, key: str) -> bool:
        """A boolean attribute such as ResizeBilinear's half_pixel_centers."""
        return bool(self.attr.get(key, {}).get("b", False))


@dataclass(frozen=True)
class GraphModel:
    """A TF.js graph: nodes in file order, constants, and the signature's outputs."""

    nodes: tuple[Node, ...]
    constants: dict[str, np.ndarray]
    input_shapes: dict[str, tuple[int, ...]]
    output_shapes: dict[str, tuple[int, ...]]

    @property
    def outputs(self) -> tuple[str, ...]:
        """The signature's output node names, sorted."""
        return tuple(sorted(self.output_shapes))


def load_graph_model(model_json: Path) -> GraphModel:
    """The graph model whose ``model.json`` is at ``model_json``; raises GraphModelError."""
    try:
        document = json.loads(Path(model_json).read_text(encoding="utf-8"))
        topology = document["modelTopology"]
        manifest = document["weightsManifest"]
    except (OSError, ValueError, KeyError) as error:
        raise GraphModelError(f"{model_json} is not a TF.js graph model: {error}") from None
    nodes = tuple(Node(name=item["name"], op=item["op"],
                       inputs=tuple(item.get("input", ())), attr=item.get("attr", {}))
                  for item in topology["node"])
    constants = _read_weights(Path(model_json).parent, manifest)
    input_shapes = {node.name: _shape(node.attr["shape"]["shape"])
                    for node in nodes if node.op == "Placeholder"}
    signature = document.get("signature", {}).get("outputs", {})
    output_shapes = {name.partition(":")[0]: _shape(entry.get("tensorShape", {}))
                     for name, entry in signature.items()}
    return GraphModel(nodes, constants, input_shapes, output_shapes)


def _shape(tensor_shape: dict) -> tuple[int, ...]:
    return tuple(int(dim.get("size", -1)) for dim in tensor_shape.get("dim", ()))


def _read_weights(folder: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    constants: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = tuple(int(side) for side in entry["shape"])
            quantization = entry.get("quantization")
            stored = quantization["dtype"] if quantization else entry["dtype"]
            if stored not in _DTYPES or entry["dtype"] not in _DTYPES:
                raise GraphModelError(f"weight {entry['name']}: dtype {stored} is not supported")
            if quantization and stored != "float16":
                # uint8/uint16 affine quantization exists in TF.js; this model does not use it.
                raise GraphModelError(f"weight {entry['name']}: {stored} quantization is not "
                                      "supported")
            count = int(np.prod(shape, dtype=np.int64))
            stored_type = np.dtype(_DTYPES[stored]).newbyteorder("<")
            size = count * stored_type.itemsize
            if offset + size > len(data):
                raise GraphModelError(f"weight {entry['name']} runs past the end of the shards")
            values = np.frombuffer(data, dtype=stored_type, count=count, offset=offset)
            constants[entry["name"]] = values.astype(_DTYPES[entry["dtype"]]).reshape(shape)
            offset += size
        if offset != len(data):
            raise GraphModelError(f"the shards {group['paths']} hold {len(data) - offset} bytes "
                                  "the manifest does not describe")
    return constants
