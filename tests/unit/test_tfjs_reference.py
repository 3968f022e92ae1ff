"""The numpy executor that checks the converter, on cases small enough to work by hand."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from modelbuild import tfjs_reference
from modelbuild.tfjs import GraphModel, GraphModelError, Node


def _graph(nodes: list[Node], constants: dict[str, np.ndarray], output: str) -> GraphModel:
    return GraphModel(nodes=(Node("x", "Placeholder", ()), *nodes), constants=constants,
                      input_shapes={"x": (1, 1, 1, 1)}, output_shapes={output: ()})


def _text(value: str) -> dict:
    return {"s": base64.b64encode(value.encode()).decode()}


def _ints(values: list[int]) -> dict:
    return {"list": {"i": [str(value) for value in values]}}


WINDOW = {"padding": _text("VALID"), "data_format": _text("NHWC"),
          "strides": _ints([1, 1, 1, 1]), "dilations": _ints([1, 1, 1, 1])}


def test_half_pixel_bilinear_resize_matches_tensorflow_on_a_ramp():
    graph = _graph([Node("up", "ResizeBilinear", ("x", "size"),
                         {"half_pixel_centers": {"b": True}, "align_corners": {"b": False}})],
                   {"size": np.array([1, 4])}, "up")

    (out,) = tfjs_reference.run_graph(graph, {"x": np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
                                              }).values()

    # Source positions -0.25, 0.25, 0.75, 1.25, clamped at the edges.
    np.testing.assert_allclose(out.reshape(-1), [0.0, 0.25, 0.75, 1.0])


def test_conv2d_is_a_plain_sum_over_the_window():
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(1, 4, 5, 2)), rng.normal(size=(3, 2, 2, 3))
    graph = _graph([Node("conv", "Conv2D", ("x", "k"), WINDOW)], {"k": kernel}, "conv")

    (out,) = tfjs_reference.run_graph(graph, {"x": image}).values()

    expected = np.zeros((1, 2, 4, 3))
    for row in range(2):
        for column in range(4):
            for channel in range(3):
                expected[0, row, column, channel] = np.sum(
                    image[0, row:row + 3, column:column + 2, :] * kernel[:, :, :, channel])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_minus_infinity_padding_never_wins_a_max_pool():
    pool = dict(WINDOW, ksize=_ints([1, 2, 2, 1]), strides=_ints([1, 2, 2, 1]))
    graph = _graph([Node("padded", "PadV2", ("x", "pads", "fill")),
                    Node("pooled", "MaxPool", ("padded",), pool)],
                   {"pads": np.array([[0, 0], [0, 1], [0, 1], [0, 0]]),
                    "fill": np.array(-np.inf)}, "pooled")

    (out,) = tfjs_reference.run_graph(graph, {"x": -np.ones((1, 1, 1, 1))}).values()

    assert out.reshape(-1).tolist() == [-1.0]


def test_onnx_tf_shape_constants_fold_to_their_values():
    graph = _graph([Node("zeros", "SparseToDense", ("where", "shape", "values", "default")),
                    Node("target", "AddV2", ("base", "zeros"))],
                   {"where": np.zeros((0, 1), np.int32), "shape": np.array([3], np.int32),
                    "values": np.zeros((0,), np.int32), "default": np.array(0, np.int32),
                    "base": np.array([1, 80, -1], np.int32)}, "target")

    (out,) = tfjs_reference.run_graph(graph, {"x": np.zeros((1, 1, 1, 1))}).values()

    assert out.tolist() == [1, 80, -1]


def test_gfl_decoding_takes_the_expected_bin_around_the_cell_centre():
    logits = np.full((1, 44), -50.0)
    for edge, peak in enumerate((0, 1, 2, 10)):
        logits[0, edge * 11 + peak] = 50.0

    boxes, scores = tfjs_reference.decode_gfl([np.array([[0.9]])], [logits], [32], 32)

    # One 1x1 cell at stride 32, centre (16, 16): distances 0, 32, 64, 320.
    np.testing.assert_allclose(boxes, [[16, 16 - 32, 16 + 64, 16 + 320]])
    assert scores.tolist() == [[0.9]]


def test_an_unknown_op_is_named():
    graph = _graph([Node("odd", "Cumsum", ("x",))], {}, "odd")

    with pytest.raises(GraphModelError, match="op Cumsum is not implemented"):
        tfjs_reference.run_graph(graph, {"x": np.zeros((1, 1, 1, 1))})
