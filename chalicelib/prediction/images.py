"""Image bytes decoded into what the models take: upright RGB Pillow images.

Pillow is imported inside the functions so that importing this module (the
routing table does) costs a cold start nothing.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

from chalicelib.errors import ImageRejected

if TYPE_CHECKING:
    from PIL.Image import Image

# The formats this API decodes, by Pillow's name, and the Content-Types a
# single raw image body may carry.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
RAW_IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/webp", "image/gif",
                   "image/bmp", "image/x-ms-bmp")


def decode_image(data: bytes, max_pixels: int, formats: tuple[str, ...] = FORMATS,
                 at_least: tuple[int, int] | None = None) -> Image:
    """An RGB image, EXIF orientation applied (a GIF's first frame).

    With ``at_least`` (width, height), a JPEG may be decoded at a reduced DCT
    scale (1/2, 1/4 or 1/8: several times faster for a phone photo) while
    both sides stay at least that large; the photo's own upright size is then
    in ``image.info["source_size"]``.

    Raises ImageRejected when ``data`` is empty, not one of ``formats``,
    truncated or corrupt, or has more than ``max_pixels`` pixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise ImageRejected("the image is empty (0 bytes)", reason="empty")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; a
            # bomb is an error here whatever its size.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"the image is {width}x{height} = {width * height} pixels, more than "
                    f"the {max_pixels} allowed (MAX_IMAGE_PIXELS)", reason="too_many_pixels",
                    width=width, height=height, limit=max_pixels)
            if at_least is not None and image.format == "JPEG":
                # Square request: the EXIF rotation may swap the sides.
                side = max(at_least)
                image.draft("RGB", (side, side))
            drafted = image.size
            image.load()
            upright = ImageOps.exif_transpose(image).convert("RGB")
            if drafted != (width, height):
                swapped = upright.size != drafted
                upright.info["source_size"] = (height, width) if swapped else (width, height)
            return upright
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"the image is a decompression bomb: {error}",
                            reason="too_many_pixels", limit=max_pixels) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            f"the data is not an image in a supported format ({', '.join(formats)})",
            reason="not_an_image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow's decoders report truncated and corrupt data with these.
        raise ImageRejected(f"the image is truncated or corrupt: {error}",
                            reason="corrupt") from None
