"""Image bytes decoded into what the models take: upright RGB Pillow images.

An image is decoded at the smallest scale that still covers the model's
input (JPEG's DCT scaling while decoding, ``Image.reduce`` after it for
other formats), so memory follows the model's input, not the source.  What
one request's images take is counted against its ``MemoryBudget``: an image
that would overrun it is refused alone (``TooLarge``) before it is decoded.

Pillow is imported inside the functions so that importing this module (the
routing table does) costs a cold start nothing.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.errors import ImageRejected

if TYPE_CHECKING:
    from PIL.Image import Image

# The formats this API decodes, by Pillow's name.
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
# Bytes a pixel takes in Pillow's memory by mode (not in the file); 4 otherwise.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# Modes Image.reduce works on without a copy (it premultiplies alpha into one);
# the others are converted before it, to RGB unless named here.
_REDUCIBLE = frozenset({"L", "RGB", "RGBX", "CMYK", "I", "F"})
_REDUCIBLE_AS = {"1": "L"}
# Images up to this size are decoded whole, as they always were (a few MB
# each); larger ones are reduced while they are decoded.
REDUCE_ABOVE_PIXELS = 1_000_000
# EXIF orientations that turn the image a quarter (width and height swap).
_QUARTER_TURNS = frozenset({5, 6, 7, 8})


class TooLarge(ImageRejected):
    """Decoding the image would take more memory than the request has left."""


class MemoryBudget:
    """The bytes one request's decoded images and model inputs may hold at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int, what: str) -> None:
        """Count ``size`` bytes as held; raises TooLarge if they do not fit."""
        if self.held + size > self.limit:
            raise TooLarge(
                f"{what} needs {_mb(size)} MB of memory; this request has "
                f"{_mb(self.limit - self.held)} MB of its {_mb(self.limit)} MB left "
                "(IMAGE_MEMORY_BUDGET_MB): send it alone, or smaller", reason="memory",
                needed_bytes=size, limit_bytes=self.limit)
        self.held += size

    def give_back(self, size: int) -> None:
        self.held -= size


class Decoded(NamedTuple):
    """An upright RGB image, possibly reduced, and the source's upright size."""
    image: Image
    source_size: tuple[int, int]


def decode_image(data: bytes, max_pixels: int, formats: tuple[str, ...] = FORMATS) -> Image:
    """An RGB image at full size, EXIF orientation applied (a GIF's first frame).

    Raises ImageRejected when ``data`` is empty, not one of ``formats``,
    truncated or corrupt, or has more than ``max_pixels`` pixels.
    """
    return decode_for_model(data, max_pixels, formats).image


def decode_for_model(data: bytes, max_pixels: int, formats: tuple[str, ...] = FORMATS, *,
                     fit: tuple[int, int] | None = None,
                     budget: MemoryBudget | None = None,
                     input_bytes: int = 0) -> Decoded:
    """The image reduced by a whole factor while it still covers ``fit`` (w, h),
    if it has more than REDUCE_ABOVE_PIXELS.

    With a ``budget``, the decoding's peak and what stays held (the image and
    ``input_bytes``, its model input) are counted.  Raises ImageRejected as
    decode_image does, and TooLarge when the budget cannot take the image.
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
            if width * height <= REDUCE_ABOVE_PIXELS:
                fit = None
            if fit is not None and image.format == "JPEG":
                image.draft(image.mode, fit)
            peak = _decoding_bytes(image, fit)
            if budget is not None:
                budget.take(peak, f"the {width}x{height} {image.mode} image")
            try:
                image.load()
                # Read once loaded: a PNG's EXIF may follow its pixels.
                quarter = image.getexif().get(0x0112) in _QUARTER_TURNS
                reduced = _reduce(image, fit)
                rgb = ImageOps.exif_transpose(reduced).convert("RGB")
            finally:
                if budget is not None:
                    budget.give_back(peak)
            if budget is not None:
                budget.take(rgb.width * rgb.height * 4 + input_bytes,
                            f"the {width}x{height} image, reduced to {rgb.width}x{rgb.height},")
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
    return Decoded(rgb, (height, width) if quarter else (width, height))


def _decoding_bytes(image: Image, fit: tuple[int, int] | None) -> int:
    """What decoding takes at its peak: the pixels, and the copy made of them
    (converted for Image.reduce, or the RGB image at full size)."""
    pixels = image.width * image.height
    own = pixels * _PIXEL_BYTES.get(image.mode, 4)
    if _reduction(image, fit) < 2:
        return own + pixels * 4
    if image.mode in _REDUCIBLE:
        return own
    return own + pixels * _PIXEL_BYTES.get(_REDUCIBLE_AS.get(image.mode, "RGB"), 4)


def _reduction(image: Image, fit: tuple[int, int] | None) -> int:
    """The whole factor by which ``image`` still covers ``fit`` (1 without one)."""
    if fit is None:
        return 1
    return max(1, min(image.width // fit[0], image.height // fit[1]))


def _reduce(image: Image, fit: tuple[int, int] | None) -> Image:
    factor = _reduction(image, fit)
    if factor < 2:
        return image
    exif = image.getexif()
    if image.mode not in _REDUCIBLE:
        image = image.convert(_REDUCIBLE_AS.get(image.mode, "RGB"))
    reduced = image.reduce(factor)
    # reduce keeps no metadata; the orientation is applied after it.
    reduced.info["exif"] = exif.tobytes()
    return reduced


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"
