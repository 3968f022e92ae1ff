"""Images into input tensors: resize by the manifest's mode, channel order, normalisation,
layout and the input's element type.

numpy and Pillow are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.prediction import geometry

if TYPE_CHECKING:
    from PIL import Image

    from chalicelib.prediction.manifest import Manifest


@dataclass(frozen=True)
class InputFormat:
    """Everything that turns an image into one row of the model's input."""

    size: tuple[int, int]  # width, height
    layout: str
    dtype: str  # float32, float16 or uint8 (from the graph)
    resize: str
    interpolation: str
    pad_value: int
    crop_fraction: float
    channel_order: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_manifest(cls, manifest: Manifest, dtype: str) -> InputFormat:
        return cls(size=manifest.size, layout=manifest.layout, dtype=dtype,
                   resize=manifest.resize, interpolation=manifest.interpolation,
                   pad_value=manifest.pad_value, crop_fraction=manifest.crop_fraction,
                   channel_order=manifest.channel_order, scale=manifest.scale,
                   mean=manifest.mean, std=manifest.std)

    @property
    def normalised(self) -> bool:
        """False for uint8 inputs: those models take the resized pixels as they are."""
        return self.dtype != "uint8"


def to_tensor(image: Image.Image, form: InputFormat) -> tuple[Any, geometry.Placement]:
    """One input row for ``image`` and where the image landed in it."""
    import numpy as np

    fitted, placement = geometry.fit_image(image.convert("RGB"), form.size, form.resize,
                                           form.interpolation, form.pad_value,
                                           form.crop_fraction)
    pixels = np.asarray(fitted, dtype=np.uint8)
    if form.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    if form.normalised:
        # mean and std are per channel of the model's own order.
        values = pixels.astype(np.float32) * np.float32(form.scale)
        values = (values - np.asarray(form.mean, np.float32)) / np.asarray(form.std,
                                                                             np.float32)
        pixels = values.astype(form.dtype)
    if form.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels), placement


def decode_size(form: InputFormat) -> tuple[int, int]:
    """The smallest (width, height) an image may be decoded at without changing the input.

    What a reduced decode (JPEG draft, ``Image.reduce``) must keep: both
    sides at least this large.  The crop modes resize the shorter side to
    more than the crop, so they need that much.
    """
    width, height = form.size
    if form.resize == "torchvision_center_crop":
        side = geometry.torchvision_short_side(form.size, form.crop_fraction)
        return side, side
    if form.resize == "center_crop":
        side = int(max(width, height) / form.crop_fraction) + 1
        return side, side
    return width, height
