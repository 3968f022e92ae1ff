"""Train the default image classifier on scikit-learn's digits and export it to ONNX.

Usage: python -m training.train_classifier   (or `make models`)

An MLPClassifier learns from the training split; its weights become an ONNX
graph: [N, 3, 8, 8] float -> mean over RGB -> Flatten -> Gemm -> Relu ->
Gemm -> logits [N, 10].  The held-out split is then classified through the
application's own loader and the accuracy printed.
"""

from __future__ import annotations

import sys

import numpy as np
from onnx import helper
from sklearn.neural_network import MLPClassifier

from training import digits
from training.evaluation import accuracy
from training.export import build_model, constant, float_input, write_model

STEM = "digits-classifier"
SEED = 7
# The manifest's normalization: (pixel / 255 - 0.5) / 0.5, the same for training.
SCALE, MEAN, STD = 1 / 255, 0.5, 0.5


def normalize(grey: np.ndarray) -> np.ndarray:
    """Flattened uint8 digits as the network sees them after the manifest's normalization."""
    return ((grey.reshape(len(grey), -1).astype(np.float32) * np.float32(SCALE) - MEAN)
            / STD)


def train(images: np.ndarray, labels: np.ndarray) -> MLPClassifier:
    network = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-3, max_iter=600,
                            random_state=SEED)
    return network.fit(normalize(images), labels)


def export(network: MLPClassifier):
    (w1, w2), (b1, b2) = network.coefs_, network.intercepts_
    nodes = [
        # The digits are grey: averaging the channels keeps colour photos usable.
        helper.make_node("ReduceMean", ["pixels"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("Flatten", ["grey"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w1", "b1"], ["hidden_in"]),
        helper.make_node("Relu", ["hidden_in"], ["hidden"]),
        helper.make_node("Gemm", ["hidden", "w2", "b2"], ["logits"]),
    ]
    return build_model(
        nodes, [float_input("pixels", ["batch", 3, 8, 8])],
        [float_input("logits", ["batch", len(network.classes_)])],
        [constant("w1", w1), constant("b1", b1), constant("w2", w2), constant("b2", b2)],
        name="digits_classifier")


MANIFEST = {
    "description": "8x8 handwritten digits (scikit-learn's digits): light strokes on dark",
    "task": "classification",
    "input": "pixels",
    "layout": "NCHW",
    "size": [8, 8],
    "dynamic_batch": True,
    "resize": "stretch",
    # The digits were made by counting ink in 4x4 blocks: box filtering matches.
    "interpolation": "box",
    "scale": SCALE,
    "mean": [MEAN] * 3,
    "std": [STD] * 3,
    "output": "logits",
    "labels": list(digits.LABELS),
}


def main() -> int:
    from chalicelib.prediction.models import load_classifier

    train_images, train_labels, held_out, held_out_labels = digits.load_split()
    network = train(train_images, train_labels)
    assert [str(label) for label in network.classes_] == list(digits.LABELS)
    manifest_path = write_model(export(network), MANIFEST, STEM)
    classifier = load_classifier(str(manifest_path))
    predictions = classifier.classify([digits.to_image(grey) for grey in held_out], top_k=1)
    score = accuracy([found[0]["label"] for found in predictions],
                     [str(label) for label in held_out_labels])
    print(f"{manifest_path.name}: held-out accuracy {score:.4f} on {len(held_out)} digits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
