"""An independent numpy forward pass of EfficientNet-Lite0, to check the converted graph.

It works from the unfolded checkpoint (batch norms applied as such, padding
done with ``np.pad``, convolutions as sums of shifted slices), so a mistake
in the ONNX builder's folding, layouts or attributes shows up as a
difference between the two.
"""

from __future__ import annotations

import numpy as np

from modelbuild.efficientnet import BN_EPSILON, describe_blocks, same_padding


def _batch_norm(state: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    def channel(key: str) -> np.ndarray:
        return state[f"{name}.{key}"].astype(np.float64)[None, :, None, None]

    return ((x - channel("running_mean")) / np.sqrt(channel("running_var") + BN_EPSILON)
            * channel("weight") + channel("bias"))


def _pad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    before, after = same_padding(x.shape[-1], kernel, stride)
    return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))


def _conv(x: np.ndarray, weight: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    weight = weight.astype(np.float64)
    kernel = weight.shape[-1]
    padded = _pad(x, kernel, stride)
    out_size = -(-x.shape[-1] // stride)
    total = None
    for row in range(kernel):
        for col in range(kernel):
            window = padded[:, :, row:row + stride * out_size:stride,
                            col:col + stride * out_size:stride]
            if depthwise:
                term = window * weight[None, :, 0, row, col, None, None]
            else:
                term = np.einsum("nchw,oc->nohw", window, weight[:, :, row, col])
            total = term if total is None else total + term
    return total


def _relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def forward(state: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """Logits [N, 1000] for normalised NCHW float images [N, 3, 224, 224]."""
    x = images.astype(np.float64)
    x = _relu6(_batch_norm(state, "_bn0", _conv(x, state["_conv_stem.weight"], 2, False)))
    for block in describe_blocks(state):
        p = block.prefix
        source = x
        if block.expand:
            x = _relu6(_batch_norm(state, f"{p}_bn0",
                                   _conv(x, state[f"{p}_expand_conv.weight"], 1, False)))
        x = _relu6(_batch_norm(state, f"{p}_bn1",
                               _conv(x, state[f"{p}_depthwise_conv.weight"], block.stride, True)))
        x = _batch_norm(state, f"{p}_bn2", _conv(x, state[f"{p}_project_conv.weight"], 1, False))
        if block.residual:
            x = x + source
    x = _relu6(_batch_norm(state, "_bn1", _conv(x, state["_conv_head.weight"], 1, False)))
    pooled = x.mean(axis=(2, 3))
    return pooled @ state["_fc.weight"].astype(np.float64).T + state["_fc.bias"]
