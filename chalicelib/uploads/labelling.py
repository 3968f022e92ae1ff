"""Labels for an uploaded image: the project's classifier, or Amazon Rekognition.

``inspect_image`` decides whether the bytes are an image at all; a
``Labeller`` is only ever given bytes that passed it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib import iam
from chalicelib.settings import DEFAULT_MAX_IMAGE_PIXELS

IAM_GRANTS = (
    # DetectLabels on image bytes has no resource type in IAM.
    iam.Grant(("rekognition:DetectLabels",),
              iam.only_when("LABELLER", "rekognition", iam.any_resource())),
)
# Rekognition takes JPEG and PNG bytes; other formats are re-encoded as PNG.
_REKOGNITION_FORMATS = frozenset({"JPEG", "PNG"})


class NotAnImage(Exception):
    """The bytes are not an image this service can read (message says why)."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


class Labeller(Protocol):
    """Names what an image shows."""

    def label(self, image: bytes, max_labels: int) -> list[dict[str, Any]]:
        """Up to ``max_labels`` ``{"label", "score"}`` (score 0..1), best first.

        Raises NotAnImage, or Unavailable when the service may work later.
        """
        ...


class Classifier(Protocol):
    """The prediction work's image classifier (``chalicelib.wiring.get_classifier``)."""

    def classify(self, images: list[Any], top_k: int) -> list[list[dict[str, Any]]]:
        ...


def inspect_image(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> ImageInfo:
    """Format and size of an image; raises NotAnImage naming the problem."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise NotAnImage("the upload is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise NotAnImage(f"the image is {width}x{height} pixels; at most "
                                 f"{max_pixels} pixels are accepted")
            image_format = image.format or "unknown"
            image.verify()
    except UnidentifiedImageError:
        raise NotAnImage("the upload is not an image Pillow can read "
                         "(JPEG, PNG, GIF, WebP, BMP, TIFF, ...)") from None
    except Image.DecompressionBombError:
        raise NotAnImage(f"the image has more than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise NotAnImage(f"the image is damaged or truncated: {error}") from None
    return ImageInfo(format=image_format, width=width, height=height)


def decode_rgb(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
               fit: tuple[int, int] | None = None) -> Any:
    """The image as upright RGB pixels (EXIF orientation applied), reduced while
    it still covers ``fit``; raises NotAnImage."""
    from chalicelib.errors import ImageRejected
    from chalicelib.prediction.images import FORMATS, decode_for_model

    try:
        return decode_for_model(data, max_pixels, formats=(*FORMATS, "TIFF"), fit=fit).image
    except ImageRejected as error:
        raise NotAnImage(error.message) from None


def _project_classifier() -> Classifier:
    # Imported on first use: the classifier (an ONNX session) is built by the
    # prediction work's accessor, and loading it is the cold start's price.
    from chalicelib.wiring import get_classifier

    return get_classifier()


class ClassifierLabeller:
    """Labels from the project's own image classifier."""

    def __init__(self, load_classifier: Callable[[], Classifier] = _project_classifier,
                 max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self._load_classifier = load_classifier
        self._max_pixels = max_pixels

    def label(self, image: bytes, max_labels: int) -> list[dict[str, Any]]:
        """Top ``max_labels`` classes; raises NotAnImage."""
        from chalicelib.prediction.service import decode_size

        classifier = self._load_classifier()
        pixels = decode_rgb(image, self._max_pixels, fit=decode_size(classifier))
        ranked = classifier.classify([pixels], top_k=max_labels)[0]
        return [{"label": str(item["label"]), "score": float(item["score"])}
                for item in ranked[:max_labels]]


class RekognitionLabeller:
    """Labels from Amazon Rekognition DetectLabels, given a built client."""

    def __init__(self, rekognition: Any, min_confidence: float = 50.0,
                 max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self._rekognition = rekognition
        self._min_confidence = min_confidence
        self._max_pixels = max_pixels

    def label(self, image: bytes, max_labels: int) -> list[dict[str, Any]]:
        """Rekognition's labels, confidence scaled to 0..1; raises NotAnImage, Unavailable."""
        from botocore.exceptions import ClientError

        from chalicelib.transient import error_code, transient_as_unavailable

        info = inspect_image(image, self._max_pixels)
        payload = (image if info.format in _REKOGNITION_FORMATS
                   else _as_png(image, self._max_pixels))
        try:
            with transient_as_unavailable("Rekognition DetectLabels"):
                response = self._rekognition.detect_labels(
                    Image={"Bytes": payload}, MaxLabels=max_labels,
                    MinConfidence=self._min_confidence)
        except ClientError as error:
            if error_code(error) in ("InvalidImageFormatException",
                                     "ImageTooLargeException"):
                raise NotAnImage(f"Rekognition refused the image: "
                                 f"{error.response['Error'].get('Message', '')}") from None
            raise
        labels = sorted(response.get("Labels", []), key=lambda item: -item["Confidence"])
        return [{"label": item["Name"], "score": round(float(item["Confidence"]) / 100, 6)}
                for item in labels[:max_labels]]


def _as_png(data: bytes, max_pixels: int) -> bytes:
    buffer = io.BytesIO()
    decode_rgb(data, max_pixels).save(buffer, format="PNG")
    return buffer.getvalue()
