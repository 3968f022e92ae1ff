"""Held-out measures for the default models: accuracy and COCO-style mAP@0.5."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np


def mean_average_precision(truth: Sequence[tuple[np.ndarray, np.ndarray]],
                           detections: Sequence[Sequence[dict]],
                           class_names: Sequence[str], iou: float = 0.5) -> float:
    """pycocotools' AP at one IoU threshold, averaged over classes.

    ``truth`` holds per image (boxes [K, 4] x1y1x2y2, label indices [K]);
    ``detections`` per image the detector's ``{label, score, box}`` entries.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    categories = [{"id": index + 1, "name": name} for index, name in enumerate(class_names)]
    category_of = {name: index + 1 for index, name in enumerate(class_names)}
    images, annotations, results = [], [], []
    for image_id, ((boxes, labels), found) in enumerate(zip(truth, detections, strict=True),
                                                        start=1):
        images.append({"id": image_id})
        for box, label in zip(boxes, labels, strict=True):
            width, height = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": int(label) + 1, "iscrowd": 0,
                                "bbox": [float(box[0]), float(box[1]), width, height],
                                "area": width * height})
        for entry in found:
            x1, y1, x2, y2 = entry["box"]
            results.append({"image_id": image_id, "category_id": category_of[entry["label"]],
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": entry["score"]})
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        ground = COCO()
        ground.dataset = {"images": images, "annotations": annotations,
                          "categories": categories}
        ground.createIndex()
        found = ground.loadRes(results)
        evaluation = COCOeval(ground, found, iouType="bbox")
        evaluation.params.iouThrs = np.array([iou])
        evaluation.evaluate()
        evaluation.accumulate()
    # precision: [thresholds, recall points, classes, areas, max detections]
    precision = evaluation.eval["precision"][0, :, :, 0, -1]
    per_class = [precision[:, k][precision[:, k] > -1].mean()
                 for k in range(precision.shape[1]) if (precision[:, k] > -1).any()]
    return float(np.mean(per_class))


def accuracy(predicted: Sequence[str], expected: Sequence[str]) -> float:
    """The fraction of ``predicted`` labels equal to ``expected``."""
    return float(np.mean([got == want for got, want in zip(predicted, expected, strict=True)]))
