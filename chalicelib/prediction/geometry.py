"""Fitting a source image into a model's input, and mapping boxes back out.

Pure numpy / Pillow helpers for :mod:`chalicelib.prediction.models`; both
libraries are imported inside the functions so importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

RESIZE_MODES = ("stretch", "letterbox", "center_crop")
INTERPOLATIONS = ("nearest", "box", "bilinear", "bicubic", "lanczos")


@dataclass(frozen=True)
class Placement:
    """Where the source image landed in the input: input = source * scale + offset."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    source_width: int
    source_height: int


def fit_image(image: Image.Image, size: tuple[int, int], mode: str, interpolation: str,
              pad_value: int = 114, crop_fraction: float = 0.875
              ) -> tuple[Image.Image, Placement]:
    """``image`` resized into ``size`` (width, height) by ``mode``, and its placement.

    Raises ValueError for an unknown mode (manifests are validated before this).
    """
    from PIL import Image

    resample = getattr(Image.Resampling, interpolation.upper())
    width, height = size
    source_width, source_height = image.size
    if mode == "stretch":
        fitted = image.resize((width, height), resample)
        return fitted, Placement(width / source_width, height / source_height, 0.0, 0.0,
                                 source_width, source_height)
    if mode == "letterbox":
        ratio = min(width / source_width, height / source_height)
        inner = (max(1, round(source_width * ratio)), max(1, round(source_height * ratio)))
        left, top = (width - inner[0]) // 2, (height - inner[1]) // 2
        canvas = Image.new("RGB", (width, height), (pad_value,) * 3)
        canvas.paste(image.resize(inner, resample), (left, top))
        return canvas, Placement(inner[0] / source_width, inner[1] / source_height,
                                 float(left), float(top), source_width, source_height)
    if mode == "center_crop":
        # ImageNet-style: scale so the crop covers crop_fraction of the shorter side.
        ratio = max(width / source_width, height / source_height) / crop_fraction
        resized = (max(width, round(source_width * ratio)),
                   max(height, round(source_height * ratio)))
        left, top = (resized[0] - width) // 2, (resized[1] - height) // 2
        fitted = image.resize(resized, resample).crop((left, top, left + width, top + height))
        return fitted, Placement(resized[0] / source_width, resized[1] / source_height,
                                 float(-left), float(-top), source_width, source_height)
    raise ValueError(f"unknown resize mode {mode!r}")


def to_source_boxes(boxes: Any, placement: Placement) -> Any:
    """Boxes ``[K, 4]`` (x1, y1, x2, y2) in input pixels, mapped to and clipped in the source."""
    import numpy as np

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    mapped = np.empty_like(boxes)
    mapped[:, [0, 2]] = (boxes[:, [0, 2]] - placement.offset_x) / placement.scale_x
    mapped[:, [1, 3]] = (boxes[:, [1, 3]] - placement.offset_y) / placement.scale_y
    mapped[:, [0, 2]] = mapped[:, [0, 2]].clip(0, placement.source_width)
    mapped[:, [1, 3]] = mapped[:, [1, 3]].clip(0, placement.source_height)
    return mapped


def box_iou(box: Any, others: Any) -> Any:
    """Intersection over union of one (x1, y1, x2, y2) box with each of ``others``."""
    import numpy as np

    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    overlap = (right - left).clip(0) * (bottom - top).clip(0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - overlap
    return np.where(union > 0, overlap / np.where(union > 0, union, 1), 0.0)


def non_max_suppression(boxes: Any, scores: Any, labels: Any, iou_threshold: float,
                        limit: int) -> list[int]:
    """Indices kept by greedy per-label NMS, best score first, at most ``limit``."""
    import numpy as np

    order = np.argsort(-np.asarray(scores), kind="stable")
    suppressed = np.zeros(len(order), dtype=bool)
    kept: list[int] = []
    for rank, index in enumerate(order):
        if suppressed[rank]:
            continue
        kept.append(int(index))
        if len(kept) == limit:
            break
        rest = order[rank + 1:]
        same_label = labels[rest] == labels[index]
        overlapping = box_iou(boxes[index], boxes[rest]) > iou_threshold
        suppressed[rank + 1:] |= same_label & overlapping
    return kept
