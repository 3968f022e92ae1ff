"""Small test images made with Pillow, in any supported format."""

from __future__ import annotations

import io


def picture(size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (200, 30, 60),
            fmt: str = "PNG", mode: str = "RGB", orientation: int | None = None) -> bytes:
    """An image of one ``color`` encoded as ``fmt``, optionally with an EXIF Orientation."""
    from PIL import Image

    image = Image.new("RGB", size, color)
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif
    if fmt == "JPEG":
        options["quality"] = 95
    image.save(out, fmt, **options)
    return out.getvalue()


def animated_gif(colors: list[tuple[int, int, int]], size: tuple[int, int] = (16, 16)) -> bytes:
    """A GIF with one frame per colour."""
    from PIL import Image

    frames = [Image.new("RGB", size, color) for color in colors]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def noise(size: tuple[int, int], fmt: str = "PNG", seed: int = 0) -> bytes:
    """Random pixels, which compress badly: a realistic upload size."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3),
                                                  dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def mean_color(data: bytes) -> tuple[int, int, int]:
    """The rounded mean RGB colour of encoded image ``data``."""
    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(data)) as image:
        return tuple(round(v) for v in ImageStat.Stat(image.convert("RGB")).mean)
