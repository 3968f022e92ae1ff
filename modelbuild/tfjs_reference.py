"""An op-by-op numpy executor for TF.js graph models: the converter's independent check.

It shares nothing with :mod:`modelbuild.nanodet` but the file reader: every
op is written here from TensorFlow's documented semantics, computes in
float64, and runs the graph exactly as stored (NHWC convolutions, explicit
transposes, BGR input), so a mistake in the converter's layout bookkeeping
or decoding shows up as a difference.  It is slow (seconds per image) and
only meant for a handful of inputs at build time and in tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from modelbuild.tfjs import GraphModel, GraphModelError, Node


def run_graph(model: GraphModel, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The signature's outputs of ``model`` for ``feeds`` (placeholder name -> array).

    Raises GraphModelError for an op this executor does not implement.
    """
    values: dict[str, np.ndarray] = {name: np.asarray(value) for name, value
                                     in model.constants.items()}
    for name, value in feeds.items():
        values[name] = np.asarray(value, dtype=np.float64)
    for node in model.nodes:
        if node.op in ("Const", "Placeholder"):
            continue
        operation = _OPS.get(node.op)
        if operation is None:
            raise GraphModelError(f"node {node.name}: op {node.op} is not implemented")
        args = [_lookup(values, name) for name in node.inputs]
        result = operation(node, *args)
        if isinstance(result, list):
            for index, part in enumerate(result):
                values[f"{node.name}:{index}"] = part
            values[node.name] = result[0]
        else:
            values[node.name] = result
    return {name: values[name] for name in model.outputs}


def decode_gfl(scores: list[np.ndarray], distributions: list[np.ndarray],
               strides: list[int], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """NanoDet's GFL head, decoded plainly: ``(boxes [A, 4] x1y1x2y2, scores [A, C])``.

    ``scores[i]`` is ``[cells, C]`` of sigmoid scores for ``strides[i]`` and
    ``distributions[i]`` ``[cells, 4 * bins]`` logits, sides in the order
    left, top, right, bottom; cells run row by row over the stride's grid.
    """
    all_boxes, all_scores = [], []
    for level_scores, level_distribution, stride in zip(scores, distributions, strides,
                                                        strict=True):
        side = input_size // stride
        bins = level_distribution.shape[1] // 4
        boxes = np.zeros((side * side, 4))
        for cell in range(side * side):
            row, column = divmod(cell, side)
            centre_x, centre_y = (column + 0.5) * stride, (row + 0.5) * stride
            distances = []
            for edge in range(4):
                logits = level_distribution[cell, edge * bins:(edge + 1) * bins]
                weights = np.exp(logits - logits.max())
                weights /= weights.sum()
                distances.append(float(np.dot(weights, np.arange(bins))) * stride)
            left, top, right, bottom = distances
            boxes[cell] = (centre_x - left, centre_y - top, centre_x + right, centre_y + bottom)
        all_boxes.append(boxes)
        all_scores.append(level_scores)
    return np.concatenate(all_boxes), np.concatenate(all_scores)


def _lookup(values: dict[str, np.ndarray], name: str) -> np.ndarray:
    base, _, index = name.partition(":")
    return values[name] if index and index != "0" else values[base]


def _pad(node: Node, tensor: np.ndarray, paddings: np.ndarray,
         constant: np.ndarray | float = 0.0) -> np.ndarray:
    return np.pad(tensor, [tuple(int(side) for side in pair) for pair in paddings],
                  constant_values=float(np.asarray(constant)))


def _windows(node: Node, tensor: np.ndarray, kernel: tuple[int, int]) -> np.ndarray:
    """NHWC ``tensor`` as strided windows ``[N, H', W', C, kh, kw]`` (VALID padding)."""
    if node.text("padding") != "VALID" or node.text("data_format") not in ("", "NHWC"):
        raise GraphModelError(f"node {node.name}: only VALID NHWC windows are implemented")
    _, stride_y, stride_x, _ = node.ints("strides")
    if any(value != 1 for value in node.ints("dilations")):
        raise GraphModelError(f"node {node.name}: dilated windows are not implemented")
    view = np.lib.stride_tricks.sliding_window_view(tensor, kernel, axis=(1, 2))
    return view[:, ::stride_y, ::stride_x]


def _conv2d(node: Node, tensor: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    height, width, channels_in, _ = kernel.shape
    if tensor.shape[3] != channels_in:
        raise GraphModelError(f"node {node.name}: grouped convolutions are not implemented")
    windows = _windows(node, tensor, (height, width))
    # windows [N, H', W', C, kh, kw] . kernel [kh, kw, C, O] -> [N, H', W', O]
    return np.tensordot(windows, kernel.astype(np.float64), axes=([3, 4, 5], [2, 0, 1]))


def _max_pool(node: Node, tensor: np.ndarray) -> np.ndarray:
    _, height, width, _ = node.ints("ksize")
    return _windows(node, tensor, (height, width)).max(axis=(4, 5))


def _resize_bilinear(node: Node, tensor: np.ndarray, size: np.ndarray) -> np.ndarray:
    if node.flag("align_corners") or not node.flag("half_pixel_centers"):
        raise GraphModelError(f"node {node.name}: only half-pixel-centre resizing is "
                              "implemented")
    out_height, out_width = (int(side) for side in size)

    def axis_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        floor = np.floor(position)
        lower = np.clip(floor, 0, in_size - 1).astype(int)
        upper = np.clip(np.ceil(position), 0, in_size - 1).astype(int)
        return lower, upper, position - floor

    top, bottom, fraction_y = axis_weights(tensor.shape[1], out_height)
    left, right, fraction_x = axis_weights(tensor.shape[2], out_width)
    rows = (tensor[:, top] * (1 - fraction_y)[None, :, None, None]
            + tensor[:, bottom] * fraction_y[None, :, None, None])
    return (rows[:, :, left] * (1 - fraction_x)[None, None, :, None]
            + rows[:, :, right] * fraction_x[None, None, :, None])


def _split_v(node: Node, tensor: np.ndarray, sizes: np.ndarray, axis: np.ndarray
             ) -> list[np.ndarray]:
    cuts = np.cumsum([int(size) for size in sizes])[:-1]
    return np.split(tensor, cuts, axis=int(axis))


def _sparse_to_dense(node: Node, indices: np.ndarray, shape: np.ndarray, values: np.ndarray,
                     default: np.ndarray) -> np.ndarray:
    dense = np.full([int(side) for side in np.atleast_1d(shape)], default,
                    dtype=np.asarray(default).dtype)
    indices = np.asarray(indices)
    rows = indices.reshape(len(indices), indices.shape[1] if indices.ndim == 2 else 1)
    for index, value in zip(rows, np.broadcast_to(values, (len(rows),)), strict=True):
        dense[tuple(index)] = value
    return dense


def _concat(node: Node, *parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts[:-1], axis=int(parts[-1]))


_OPS: dict[str, Callable[..., np.ndarray | list[np.ndarray]]] = {
    "Identity": lambda node, tensor: tensor,
    "Pad": _pad,
    "PadV2": _pad,
    "Transpose": lambda node, tensor, perm: np.transpose(tensor, [int(axis) for axis in perm]),
    "Conv2D": _conv2d,
    "MaxPool": _max_pool,
    "Add": lambda node, left, right: left + right,
    "AddV2": lambda node, left, right: left + right,
    "BiasAdd": lambda node, left, right: left + right,
    "LeakyRelu": lambda node, tensor: np.where(tensor >= 0, tensor,
                                               tensor * node.number("alpha", 0.2)),
    "Relu": lambda node, tensor: np.maximum(tensor, 0),
    "Sigmoid": lambda node, tensor: 1 / (1 + np.exp(-tensor)),
    "ConcatV2": _concat,
    "ResizeBilinear": _resize_bilinear,
    "SplitV": _split_v,
    "Reshape": lambda node, tensor, shape: tensor.reshape([int(side) for side in shape]),
    "SparseToDense": _sparse_to_dense,
}
