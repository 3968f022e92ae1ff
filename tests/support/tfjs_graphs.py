"""Small TF.js graph models laid out like the onnx-tf export of NanoDet, written in tests.

The graph keeps every habit of the real file that the converter has to
handle: an NCHW placeholder, Pads in NCHW, a Transpose before and after each
NHWC Conv2D, a bias Add, LeakyRelu, PadV2 + MaxPool, ResizeBilinear with
half-pixel centres, ConcatV2, and per stride a SplitV of ``classes + 44``
channels into sigmoid scores and GFL distributions, reshaped to ``[1, cells,
channels]`` with shapes built by AddV2 + SparseToDense, then Identity.
Float weights are stored as float16, as in the real shards.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

NCHW_TO_NHWC = [0, 2, 3, 1]
NHWC_TO_NCHW = [0, 3, 1, 2]
BINS = 11


class _Writer:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: list[tuple[str, np.ndarray]] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"PartitionedCall/{hint}_{self.count}"

    def const(self, array: np.ndarray, hint: str = "Const") -> str:
        name = self.name(hint)
        self.nodes.append({"name": name, "op": "Const", "attr": {}})
        self.weights.append((name, np.asarray(array)))
        return name

    def op(self, op: str, inputs: list[str], hint: str | None = None, **attr: Any) -> str:
        name = self.name(hint or op)
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def transpose(self, tensor: str, perm: list[int]) -> str:
        return self.op("Transpose", [tensor, self.const(np.array(perm, dtype=np.int32))])

    def conv(self, tensor_nchw: str, kernel: np.ndarray, bias: np.ndarray, stride: int,
             pad: int) -> str:
        """NCHW in, NCHW out, as onnx-tf writes a Conv: Pad, Transpose, Conv2D, Add, Transpose."""
        if pad:
            paddings = np.array([[0, 0], [0, 0], [pad, pad], [pad, pad]], dtype=np.int32)
            tensor_nchw = self.op("Pad", [tensor_nchw, self.const(paddings)])
        nhwc = self.transpose(tensor_nchw, NCHW_TO_NHWC)
        convolved = self.op("Conv2D", [nhwc, self.const(kernel.astype(np.float32))],
                            strides=_ints([1, stride, stride, 1]), padding=_text("VALID"),
                            data_format=_text("NHWC"), dilations=_ints([1, 1, 1, 1]))
        biased = self.op("Add", [convolved, self.const(bias.astype(np.float32))])
        return self.transpose(biased, NHWC_TO_NCHW)

    def leaky(self, tensor: str) -> str:
        return self.op("LeakyRelu", [tensor], alpha={"f": 0.1})

    def shape(self, values: list[int]) -> str:
        """A constant shape computed the way onnx-tf does: AddV2(const, SparseToDense(empty))."""
        zeros = self.op("SparseToDense", [
            self.const(np.zeros((0, 1), dtype=np.int32), "Where"),
            self.const(np.array([len(values)], dtype=np.int32), "Cast"),
            self.const(np.zeros((0,), dtype=np.int32), "GatherV2"),
            self.const(np.array(0, dtype=np.int32), "zeros")])
        return self.op("AddV2", [self.const(np.array(values, dtype=np.int32)), zeros])


def write_nanodet_like(folder: Path, size: int = 32, classes: int = 3, seed: int = 0,
                       head_weights: bool = True,
                       head_bias: np.ndarray | None = None) -> Path:
    """Write ``model.json`` + ``group1-shard1of1.bin`` into ``folder``; returns the json path.

    ``head_weights=False`` zeroes the head convolutions so every cell's output is
    the head's bias (``head_bias``, ``classes + 44`` values): known answers.
    """
    rng = np.random.default_rng(seed)
    writer = _Writer()
    channels = 8

    def kernel(height: int, inputs: int, outputs: int) -> np.ndarray:
        return rng.normal(0, 0.5, (height, height, inputs, outputs))

    image = "input_1"
    writer.nodes.append({"name": image, "op": "Placeholder", "attr": {
        "dtype": {"type": "DT_FLOAT"},
        "shape": {"shape": {"dim": [{"size": str(side)} for side in (1, 3, size, size)]}}}})
    stem = writer.leaky(writer.conv(image, kernel(3, 3, channels), rng.normal(0, 0.1, channels),
                                    stride=2, pad=1))  # size / 2
    padded = writer.op("PadV2", [stem, writer.const(np.array(
        [[0, 0], [0, 0], [0, 1], [0, 1]], dtype=np.int32)),
        writer.const(np.array(-1e4, dtype=np.float32))])
    pooled = writer.transpose(writer.op(
        "MaxPool", [writer.transpose(padded, NCHW_TO_NHWC)], ksize=_ints([1, 3, 3, 1]),
        strides=_ints([1, 2, 2, 1]), padding=_text("VALID"), data_format=_text("NHWC")),
        NHWC_TO_NCHW)  # size / 4
    level8 = writer.leaky(writer.conv(pooled, kernel(3, channels, channels),
                                      rng.normal(0, 0.1, channels), stride=2, pad=1))
    level16 = writer.leaky(writer.conv(level8, kernel(3, channels, channels),
                                       rng.normal(0, 0.1, channels), stride=2, pad=1))
    level32 = writer.leaky(writer.conv(level16, kernel(3, channels, channels),
                                       rng.normal(0, 0.1, channels), stride=2, pad=1))
    upsampled = writer.transpose(writer.op(
        "ResizeBilinear", [writer.transpose(level32, NCHW_TO_NHWC),
                           writer.const(np.array([size // 16] * 2, dtype=np.int32))],
        align_corners={"b": False}, half_pixel_centers={"b": True}), NHWC_TO_NCHW)
    level16 = writer.op("Add", [level16, upsampled])
    merged = writer.op("ConcatV2", [level16, upsampled,
                                    writer.const(np.array(1, dtype=np.int32))],
                       N={"i": "2"})
    level16 = writer.leaky(writer.conv(merged, kernel(1, 2 * channels, channels),
                                       np.zeros(channels), stride=1, pad=0))
    outputs = {}
    width = classes + 4 * BINS
    bias = head_bias if head_bias is not None else rng.normal(0, 0.5, width)
    for index, level in enumerate((level8, level16, level32)):
        weights = kernel(1, channels, width) if head_weights else np.zeros((1, 1, channels,
                                                                            width))
        head = writer.conv(level, weights, np.asarray(bias), stride=1, pad=0)
        split = writer.op("SplitV", [head, writer.const(np.array([classes, 4 * BINS],
                                                                 dtype=np.int32)),
                                     writer.const(np.array(1, dtype=np.int32))],
                          num_split={"i": "2"})
        scores = writer.op("Sigmoid", [split])
        cells = (size // 8 // 2 ** index) ** 2
        for part, tensor, depth in ((index, scores, classes),
                                    (index + 3, f"{split}:1", 4 * BINS)):
            flat = writer.op("Reshape", [tensor, writer.shape([1, depth, -1])])
            rows = writer.transpose(flat, [0, 2, 1])
            name = "Identity" if part == 0 else f"Identity_{part}"
            writer.nodes.append({"name": name, "op": "Identity", "input": [rows], "attr": {}})
            outputs[f"{name}:0"] = {"name": f"{name}:0", "dtype": "DT_FLOAT", "tensorShape": {
                "dim": [{"size": str(side)} for side in (1, cells, depth)]}}
    return _save(folder, writer, outputs)


def _save(folder: Path, writer: _Writer, outputs: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    entries, chunks = [], []
    for name, array in writer.weights:
        entry: dict[str, Any] = {"name": name, "shape": list(array.shape)}
        if array.dtype.kind == "f":
            entry.update(dtype="float32",
                         quantization={"dtype": "float16", "original_dtype": "float32"})
            chunks.append(array.astype("<f2").tobytes())
        else:
            entry["dtype"] = "int32"
            chunks.append(array.astype("<i4").tobytes())
        entries.append(entry)
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(chunks))
    document = {
        "format": "graph-model", "generatedBy": "tests", "convertedBy": "tests",
        "signature": {"inputs": {}, "outputs": outputs},
        "modelTopology": {"node": writer.nodes, "library": {}, "versions": {}},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": entries}],
    }
    path = folder / "model.json"
    path.write_text(json.dumps(document))
    return path


def _ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(value) for value in values]}}


def _text(value: str) -> dict[str, Any]:
    return {"s": base64.b64encode(value.encode()).decode()}
