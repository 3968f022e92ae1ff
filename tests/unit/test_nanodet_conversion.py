"""The NanoDet converter on small graphs of the real file's layout, with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from chalicelib.prediction.models import load_manifest
from modelbuild import nanodet, tfjs_reference
from modelbuild.tfjs import GraphModelError, load_graph_model
from tests.support.tfjs_graphs import BINS, write_nanodet_like

SIZE = 32
CLASSES = 3
MODELBUILD = Path(nanodet.__file__).resolve().parent


def _convert(tmp_path: Path, **options) -> tuple[Path, Path]:
    model_json = write_nanodet_like(tmp_path / "tfjs", size=SIZE, classes=CLASSES, **options)
    out = tmp_path / "converted.onnx"
    nanodet.convert_nanodet(model_json, out)
    return model_json, out


def _run(path: Path, batch: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([nanodet.OUTPUT_NAME], {nanodet.INPUT_NAME: batch})[0]


def test_converted_graph_matches_the_numpy_reference(tmp_path):
    model_json, out = _convert(tmp_path)
    rng = np.random.default_rng(7)
    images = [rng.normal(0, 1, (SIZE, SIZE, 3)) for _ in range(3)]

    score_error, box_error = nanodet.compare_with_reference(model_json, out, images)

    assert score_error < nanodet.SCORE_TOLERANCE
    assert box_error < nanodet.BOX_TOLERANCE


def test_the_comparison_catches_a_model_that_differs(tmp_path):
    model_json, out = _convert(tmp_path)
    other = write_nanodet_like(tmp_path / "other", size=SIZE, classes=CLASSES, seed=1)
    nanodet.convert_nanodet(other, out)
    images = [np.random.default_rng(3).normal(0, 1, (SIZE, SIZE, 3))]

    with pytest.raises(AssertionError, match="differs from the reference"):
        nanodet.compare_with_reference(model_json, out, images)


def test_output_is_the_yolov8_layout_with_gfl_boxes_around_cell_centres(tmp_path):
    # Head bias only: every cell has the same scores and a one-hot distribution
    # per edge (left 1 bin, top 2, right 3, bottom 4), so boxes are known.
    scores = np.array([2.0, -1.0, 0.5])
    peaks = np.full((4, BINS), -40.0)
    for edge, peak in enumerate((1, 2, 3, 4)):
        peaks[edge, peak] = 40.0
    _, out = _convert(tmp_path, head_weights=False,
                      head_bias=np.concatenate([scores, peaks.reshape(-1)]))

    (rows,) = _run(out, np.zeros((1, 3, SIZE, SIZE), dtype=np.float32))

    grids = [(8, SIZE // 8), (16, SIZE // 16), (32, SIZE // 32)]
    assert rows.shape == (4 + CLASSES, sum(side * side for _, side in grids))
    expected = []
    for stride, side in grids:
        for row in range(side):
            for column in range(side):
                x, y = (column + 0.5) * stride, (row + 0.5) * stride
                left, top, right, bottom = (x - 1 * stride, y - 2 * stride,
                                            x + 3 * stride, y + 4 * stride)
                expected.append([(left + right) / 2, (top + bottom) / 2,
                                 right - left, bottom - top])
    np.testing.assert_allclose(rows[:4].T, expected, atol=1e-3)
    np.testing.assert_allclose(rows[4:].T, np.broadcast_to(1 / (1 + np.exp(-scores)),
                                                           (len(expected), CLASSES)),
                               atol=2e-3)  # the bias went through float16


def test_input_is_rgb_where_the_tfjs_graph_took_bgr(tmp_path):
    model_json, out = _convert(tmp_path)
    graph = load_graph_model(model_json)
    image = np.random.default_rng(5).normal(0, 1, (1, 3, SIZE, SIZE)).astype(np.float32)

    converted = _run(out, image)
    as_bgr = tfjs_reference.run_graph(graph, {"input_1": image[:, ::-1]})
    as_rgb = tfjs_reference.run_graph(graph, {"input_1": image})

    finest_scores = converted[0, 4:, :(SIZE // 8) ** 2].T
    np.testing.assert_allclose(finest_scores, as_bgr["Identity"][0], atol=1e-3)
    assert np.abs(finest_scores - as_rgb["Identity"][0]).max() > 1e-2


def test_batch_is_dynamic_and_images_do_not_mix(tmp_path):
    _, out = _convert(tmp_path)
    rng = np.random.default_rng(11)
    batch = rng.normal(0, 1, (3, 3, SIZE, SIZE)).astype(np.float32)

    together = _run(out, batch)

    for index in range(3):
        np.testing.assert_allclose(together[index], _run(out, batch[index:index + 1])[0],
                                   atol=1e-5)


def test_weights_are_stored_as_float16_and_the_graph_has_no_transposes_inside(tmp_path):
    _, out = _convert(tmp_path)
    model = onnx.load(str(out))

    large = [tensor for tensor in model.graph.initializer if np.prod(tensor.dims) > 16]
    assert large and all(tensor.data_type == onnx.TensorProto.FLOAT16 for tensor in large)
    # onnx-tf's layout shuffles are gone: convolutions and the head stay NCHW.
    assert [node for node in model.graph.node if node.op_type == "Transpose"] == []
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_an_unsupported_op_is_named(tmp_path):
    model_json = write_nanodet_like(tmp_path / "tfjs", size=SIZE, classes=CLASSES)
    document = json.loads(model_json.read_text())
    for node in document["modelTopology"]["node"]:
        if node["op"] == "LeakyRelu":
            node["op"] = "Elu"
            break
    model_json.write_text(json.dumps(document))

    with pytest.raises(GraphModelError, match="op Elu is not supported"):
        nanodet.convert_nanodet(model_json, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_truncated_weight_shards_are_refused(tmp_path):
    model_json = write_nanodet_like(tmp_path / "tfjs", size=SIZE, classes=CLASSES)
    shard = tmp_path / "tfjs" / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-10])

    with pytest.raises(GraphModelError, match="runs past the end of the shards"):
        load_graph_model(model_json)


def test_the_manifest_template_describes_the_converted_model():
    manifest = load_manifest(str(MODELBUILD / "detector.json"))

    assert manifest.task == "detection" and manifest.output == "yolov8"
    assert manifest.outputs == (nanodet.OUTPUT_NAME,) and manifest.input == nanodet.INPUT_NAME
    assert manifest.size == (416, 416) and manifest.dynamic_batch is True
    assert len(manifest.labels) == 80 and manifest.labels[:3] == ("person", "bicycle", "car")
    # NanoDet's normalisation, written for RGB because the converted input is RGB.
    assert manifest.mean == (123.675, 116.28, 103.53)
    assert manifest.std == (58.395, 57.12, 57.375)
    assert manifest.scale == 1.0


def test_a_conversion_that_disagrees_with_the_reference_writes_nothing(tmp_path, monkeypatch):
    model_json = write_nanodet_like(tmp_path / "tfjs", size=SIZE, classes=CLASSES)
    other = load_graph_model(write_nanodet_like(tmp_path / "other", size=SIZE,
                                                classes=CLASSES, seed=1))
    build = nanodet.build_onnx
    monkeypatch.setattr(nanodet, "build_onnx", lambda graph: build(other))
    out = tmp_path / "out" / "detector.onnx"

    with pytest.raises(AssertionError, match="differs from the reference"):
        nanodet.convert_nanodet(model_json, out)
    assert list(out.parent.iterdir()) == []
