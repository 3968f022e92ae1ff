"""Fitting a source image into a model's input, and mapping boxes back out.

Pure numpy / Pillow helpers for :mod:`chalicelib.prediction.models`; both
libraries are imported inside the functions so importing this module is cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

# stretch, letterbox and center_crop resize with Pillow (antialiased);
# torchvision_center_crop is torchvision's Resize(S) + CenterCrop(H, W) on a
# Pillow image, to the pixel; ultralytics_letterbox is Ultralytics' LetterBox
# (OpenCV's bilinear without antialiasing, its rounding of the padding).
RESIZE_MODES = ("stretch", "letterbox", "center_crop", "torchvision_center_crop",
                "ultralytics_letterbox")
CROPPING_MODES = ("center_crop", "torchvision_center_crop")
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
    if mode == "torchvision_center_crop":
        return _torchvision_center_crop(image, size, resample, crop_fraction)
    if mode == "ultralytics_letterbox":
        return _ultralytics_letterbox(image, size, pad_value)
    raise ValueError(f"unknown resize mode {mode!r}")


def torchvision_resize_size(source: tuple[int, int], short_side: int) -> tuple[int, int]:
    """(width, height) after torchvision's ``Resize(short_side)``: the long side truncated."""
    width, height = source
    if width <= height:
        return short_side, int(short_side * height / width)
    return int(short_side * width / height), short_side


def torchvision_short_side(size: tuple[int, int], crop_fraction: float) -> int:
    """The ``Resize`` before a ``CenterCrop(size)`` (timm's floor(crop / crop_pct): 256 for 224)."""
    # The epsilon keeps 224 / 0.875 at 256 whatever the float rounding.
    return math.floor(min(size) / crop_fraction + 1e-9)


def _torchvision_center_crop(image: Image.Image, size: tuple[int, int], resample: Any,
                             crop_fraction: float) -> tuple[Image.Image, Placement]:
    from PIL import Image

    width, height = size
    source_width, source_height = image.size
    resized_size = torchvision_resize_size(image.size, torchvision_short_side(size,
                                                                              crop_fraction))
    resized = image.resize(resized_size, resample)
    # CenterCrop pads with black (left/top get the smaller half) when the crop
    # is larger than the image, then crops at round-half-even offsets.
    pad_left = max(0, width - resized_size[0]) // 2
    pad_top = max(0, height - resized_size[1]) // 2
    if pad_left or pad_top or resized_size[0] < width or resized_size[1] < height:
        canvas = Image.new("RGB", (max(width, resized_size[0]), max(height, resized_size[1])))
        canvas.paste(resized, (pad_left, pad_top))
        resized = canvas
    left = round((resized.width - width) / 2.0)
    top = round((resized.height - height) / 2.0)
    fitted = resized.crop((left, top, left + width, top + height))
    return fitted, Placement(resized_size[0] / source_width, resized_size[1] / source_height,
                             float(pad_left - left), float(pad_top - top),
                             source_width, source_height)


def _ultralytics_letterbox(image: Image.Image, size: tuple[int, int], pad_value: int
                           ) -> tuple[Image.Image, Placement]:
    import numpy as np
    from PIL import Image

    width, height = size
    source_width, source_height = image.size
    ratio = min(height / source_height, width / source_width)
    inner_width = round(source_width * ratio)
    inner_height = round(source_height * ratio)
    half_width = (width - inner_width) / 2
    half_height = (height - inner_height) / 2
    # Ultralytics rounds the two halves of an odd padding apart with +-0.1.
    left, top = round(half_width - 0.1), round(half_height - 0.1)
    canvas = np.full((height, width, 3), pad_value, dtype=np.uint8)
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if (inner_width, inner_height) != (source_width, source_height):
        pixels = opencv_linear_resize(pixels, inner_width, inner_height)
    canvas[top:top + inner_height, left:left + inner_width] = pixels[:height - top,
                                                                     :width - left]
    return Image.fromarray(canvas), Placement(ratio, ratio, float(left), float(top),
                                              source_width, source_height)


# OpenCV's 8-bit bilinear resize works in fixed point: 11-bit coefficients,
# and its SIMD vertical pass drops 4 low bits before a high-half multiply.
_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS


def opencv_linear_resize(pixels: Any, width: int, height: int) -> Any:
    """``pixels`` (H, W, C uint8) resized as ``cv2.resize(..., INTER_LINEAR)`` does."""
    import numpy as np

    source_height, source_width = pixels.shape[:2]
    x_low, x_high, x_weights = _linear_taps(source_width, width, clamp_weights=True)
    # Rows keep their weights at the edges: both taps then read the edge row.
    y_low, y_high, y_weights = _linear_taps(source_height, height, clamp_weights=False)
    wide = pixels.astype(np.int32)
    rows = (wide[:, x_low] * x_weights[0][None, :, None]
            + wide[:, x_high] * x_weights[1][None, :, None])
    upper = ((rows[y_low] >> 4) * y_weights[0][:, None, None]) >> 16
    lower = ((rows[y_high] >> 4) * y_weights[1][:, None, None]) >> 16
    return ((upper + lower + 2) >> 2).clip(0, 255).astype(np.uint8)


def _linear_taps(source: int, target: int, clamp_weights: bool
                 ) -> tuple[Any, Any, tuple[Any, Any]]:
    import numpy as np

    scale = source / target
    position = ((np.arange(target, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    low = np.floor(position).astype(np.int64)
    fraction = position - low.astype(np.float32)
    if clamp_weights:
        before = low < 0
        fraction[before], low[before] = 0, 0
        after = low >= source - 1
        fraction[after], low[after] = 0, source - 1
    high = np.clip(low + 1, 0, source - 1)
    low = np.clip(low, 0, source - 1)
    first = np.rint((np.float32(1) - fraction) * np.float32(_COEF_SCALE)).astype(np.int32)
    return low, high, (first, _COEF_SCALE - first)


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
                        limit: int, agnostic: bool = False) -> list[int]:
    """Indices kept by greedy NMS, best score first, at most ``limit``.

    A box suppresses overlapping boxes of its own label only, or of every
    label when ``agnostic``.
    """
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
        overlapping = box_iou(boxes[index], boxes[rest]) > iou_threshold
        if not agnostic:
            overlapping &= labels[rest] == labels[index]
        suppressed[rank + 1:] |= overlapping
    return kept
