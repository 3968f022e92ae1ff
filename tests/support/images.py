"""Images made on the spot, and a stand-in for the project's classifier."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image


def image_bytes(colour: tuple[int, int, int] = (220, 30, 30), size: tuple[int, int] = (32, 24),
                image_format: str = "PNG", exif_orientation: int | None = None) -> bytes:
    """An image of one colour, encoded as ``image_format``."""
    image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format=image_format, exif=exif)
    else:
        image.save(buffer, format=image_format)
    return buffer.getvalue()


class ColourClassifier:
    """The classifier interface the prediction work provides
    (``classify(images, top_k) -> [[{"label", "score"}]]``), answering with
    each image's colour channels ranked by their share of the image.

    The handler tests label with this through the real ClassifierLabeller, so
    they can name the labels an image must get (the default ImageNet model's
    answers depend on the photo); it also records the sizes and modes it was given.
    """

    decode_to: tuple[int, int] | None = None

    def decode_size(self) -> tuple[int, int] | None:
        return self.decode_to

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []
        self.modes: list[str] = []

    def classify(self, images: list[Any], top_k: int) -> list[list[dict[str, Any]]]:
        results = []
        for image in images:
            self.sizes.append(image.size)
            self.modes.append(image.mode)
            means = [sum(band.getdata()) / (image.size[0] * image.size[1])
                     for band in image.split()]
            total = sum(means) or 1.0
            ranked = sorted(zip(("red", "green", "blue"), means, strict=True),
                            key=lambda pair: -pair[1])
            results.append([{"label": name, "score": mean / total}
                            for name, mean in ranked[:top_k]])
        return results
