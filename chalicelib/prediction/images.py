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


def decode_image(data: bytes, max_pixels: int, formats: tuple[str, ...] = FORMATS) -> Image:
    """An RGB image, EXIF orientation applied (a GIF's first frame).

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
            image.load()
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
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
