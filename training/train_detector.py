"""Train the default object detector on synthetic shapes and export it to ONNX.

Usage: python -m training.train_detector   (or `make models`)

A YOLO-style grid detector: the 64x64 input is split into an 8x8 grid of
cells; each cell looks at a 32x32 window around itself (a strided Conv, which
is the first layer of a multilayer perceptron applied to every window) and
says which shape, if any, has its centre in the cell (an MLPClassifier) and
where that shape's box is (an MLPRegressor).  The graph decodes both into the
YOLOv8 export layout [N, 4 + classes, 64 anchors] (cx, cy, w, h in input
pixels, then class scores).  The held-out scenes come from another seed and
are measured through the application's own loader with pycocotools' mAP@0.5.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from onnx import helper
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from training import shapes
from training.evaluation import mean_average_precision
from training.export import build_model, constant, float_input, write_model

STEM = "shapes-detector"
TRAIN_SEED, HELD_OUT_SEED, FIT_SEED = 1, 2, 3
TRAIN_SCENES, HELD_OUT_SCENES = 8000, 500
SIZE = shapes.SCENE_SIZE
CELL = 8                       # input pixels per grid cell
GRID = SIZE // CELL            # 8 x 8 anchors
POOL = 2                       # the window is seen at half resolution
WINDOW = 16                    # pooled pixels: 32 input pixels around the cell
PAD = (WINDOW - CELL // POOL) // 2
NEGATIVES_KEPT = 0.1           # background cells far outnumber shapes
BOX_SCALE = np.array([CELL, CELL, SIZE, SIZE], dtype=np.float64)


def to_inputs(images: list) -> np.ndarray:
    """Scenes as the manifest feeds them: [N, 3, 64, 64] floats in 0..1."""
    return np.stack([np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255
                     for image in images])


def windows(inputs: np.ndarray) -> np.ndarray:
    """Every cell's window, flattened as the Conv's weights are: [N * 64, 3 * 16 * 16]."""
    count = len(inputs)
    pooled = inputs.reshape(count, 3, SIZE // POOL, POOL, SIZE // POOL, POOL).mean(axis=(3, 5))
    padded = np.pad(pooled, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    views = np.lib.stride_tricks.sliding_window_view(padded, (WINDOW, WINDOW), axis=(2, 3))
    views = views[:, :, ::CELL // POOL, ::CELL // POOL]          # [N, 3, 8, 8, 16, 16]
    return np.ascontiguousarray(views.transpose(0, 2, 3, 1, 4, 5)).reshape(
        count * GRID * GRID, -1)


def targets(scenes: list[shapes.Scene]) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: class (0 = background, k + 1 = shape k) and box offsets (cells with a shape)."""
    classes = np.zeros((len(scenes), GRID, GRID), dtype=np.int64)
    offsets = np.zeros((len(scenes), GRID, GRID, 4), dtype=np.float64)
    for index, scene in enumerate(scenes):
        for box, label in zip(scene.boxes, scene.labels, strict=True):
            centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            column, row = int(centre_x // CELL), int(centre_y // CELL)
            classes[index, row, column] = label + 1
            cell_x, cell_y = column * CELL + CELL / 2, row * CELL + CELL / 2
            offsets[index, row, column] = np.array(
                [centre_x - cell_x, centre_y - cell_y, box[2] - box[0], box[3] - box[1]]
            ) / BOX_SCALE
    return classes.reshape(-1), offsets.reshape(-1, 4)


def train(scenes: list[shapes.Scene]) -> tuple[MLPClassifier, MLPRegressor]:
    features = windows(to_inputs([scene.image for scene in scenes]))
    classes, offsets = targets(scenes)
    rng = np.random.default_rng(FIT_SEED)
    kept = (classes > 0) | (rng.random(len(classes)) < NEGATIVES_KEPT)
    classifier = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-4, max_iter=100,
                               batch_size=256, random_state=FIT_SEED)
    classifier.fit(features[kept], classes[kept])
    positive = classes > 0
    regressor = MLPRegressor(hidden_layer_sizes=(128,), alpha=1e-4, max_iter=150,
                             batch_size=128, random_state=FIT_SEED)
    regressor.fit(features[positive], offsets[positive])
    return classifier, regressor


def _branch(prefix: str, weights: list[np.ndarray], biases: list[np.ndarray],
            output: str, scale: np.ndarray | None = None) -> tuple[list, list]:
    """A window MLP as convolutions: the first layer strided over the image, the rest 1x1."""
    nodes, initializers = [], []
    current = "pooled"
    for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        last = layer == len(weights) - 1
        if last and scale is not None:
            weight, bias = weight * scale, bias * scale
        if layer == 0:
            kernel = weight.T.reshape(-1, 3, WINDOW, WINDOW)
            attributes = {"kernel_shape": [WINDOW, WINDOW], "strides": [CELL // POOL] * 2,
                          "pads": [PAD] * 4}
        else:
            kernel = weight.T.reshape(weight.shape[1], weight.shape[0], 1, 1)
            attributes = {"kernel_shape": [1, 1]}
        name = f"{prefix}{layer}"
        initializers += [constant(f"{name}_w", kernel), constant(f"{name}_b", bias)]
        produced = output if last else f"{name}_conv"
        nodes.append(helper.make_node("Conv", [current, f"{name}_w", f"{name}_b"], [produced],
                                      **attributes))
        if not last:
            nodes.append(helper.make_node("Relu", [produced], [f"{name}_relu"]))
            current = f"{name}_relu"
    return nodes, initializers


def export(classifier: MLPClassifier, regressor: MLPRegressor):
    count = len(shapes.CLASSES)
    class_nodes, class_weights = _branch("cls", classifier.coefs_, classifier.intercepts_,
                                         "class_logits")
    box_nodes, box_weights = _branch("box", regressor.coefs_, regressor.intercepts_,
                                     "box_offsets", scale=BOX_SCALE)
    centres = np.arange(GRID) * CELL + CELL / 2
    grid = np.zeros((1, 4, GRID, GRID))
    grid[0, 0] = centres[None, :]
    grid[0, 1] = centres[:, None]
    nodes = [
        helper.make_node("AveragePool", ["images"], ["pooled"], kernel_shape=[POOL, POOL],
                         strides=[POOL, POOL]),
        *class_nodes,
        helper.make_node("Reshape", ["class_logits", "class_shape"], ["class_rows"]),
        helper.make_node("Softmax", ["class_rows"], ["class_probabilities"], axis=1),
        # Channel 0 is "background": the YOLOv8 layout holds only the shapes' scores.
        helper.make_node("Slice", ["class_probabilities", "first_shape", "after_last", "axis1"],
                         ["scores"]),
        *box_nodes,
        helper.make_node("Add", ["box_offsets", "grid"], ["box_cells"]),
        helper.make_node("Reshape", ["box_cells", "box_shape"], ["boxes"]),
        helper.make_node("Concat", ["boxes", "scores"], ["output0"], axis=1),
    ]
    initializers = [
        *class_weights, *box_weights, constant("grid", grid),
        constant("class_shape", [0, count + 1, -1], np.int64),
        constant("box_shape", [0, 4, -1], np.int64),
        constant("first_shape", [1], np.int64), constant("after_last", [count + 1], np.int64),
        constant("axis1", [1], np.int64),
    ]
    return build_model(nodes, [float_input("images", ["batch", 3, SIZE, SIZE])],
                       [float_input("output0", ["batch", 4 + count, GRID * GRID])],
                       initializers, name="shapes_detector")


MANIFEST = {
    "description": "circles, squares and triangles (synthetic scenes, training/shapes.py)",
    "task": "detection",
    "input": "images",
    "layout": "NCHW",
    "size": [SIZE, SIZE],
    "dynamic_batch": True,
    "resize": "letterbox",
    "interpolation": "bilinear",
    "pad_value": 114,
    "scale": 1 / 255,
    "mean": [0.0, 0.0, 0.0],
    "std": [1.0, 1.0, 1.0],
    "output": "yolov8",
    "iou_threshold": 0.45,
    "max_detections": 100,
    "labels": list(shapes.CLASSES),
}


def main() -> int:
    from chalicelib.prediction.models import load_detector

    # The iteration budget is deliberate (held-out mAP is what counts), not a failure.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    classifier, regressor = train(shapes.make_scenes(TRAIN_SCENES, TRAIN_SEED))
    manifest_path = write_model(export(classifier, regressor), MANIFEST, STEM)
    detector = load_detector(str(manifest_path))
    held_out = shapes.make_scenes(HELD_OUT_SCENES, HELD_OUT_SEED)
    found = detector.detect([scene.image for scene in held_out], threshold=0.05)
    score = mean_average_precision([(scene.boxes, scene.labels) for scene in held_out], found,
                                   shapes.CLASSES)
    print(f"{manifest_path.name}: held-out mAP@0.5 {score:.4f} on {len(held_out)} scenes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
