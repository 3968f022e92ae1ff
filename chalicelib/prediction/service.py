"""Image prediction requests: the images in, one result entry per image out.

A request carries images as multipart ``image`` file parts and ``url`` text
parts in any order, or as a single raw image body.  Each gets one entry in
the answer, in input order: its predictions, or the error that stopped that
image alone.  Every image that decodes goes to the model in ONE call, so a
model that takes a dynamic batch runs once per request.

Images are decoded one at a time, reduced towards the model's input size,
within the request's memory budget (an image over it is ``TooLarge`` alone);
boxes are given back in the source image's pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from chalicelib import observability, params
from chalicelib.errors import (
    DomainError,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from chalicelib.prediction import RAW_IMAGE_TYPES
from chalicelib.prediction.images import (
    Decoded,
    MemoryBudget,
    decode_for_model,
)
from chalicelib.prediction.multipart import media_type, parse_form

if TYPE_CHECKING:
    from PIL.Image import Image

    from chalicelib.settings import Settings

FIELDS = ("image", "url")
DEFAULT_TOP_K = 5
MAX_TOP_K = 100


# What this module needs of a model; chalicelib.prediction.models'
# ImageClassifier and ObjectDetector (built by wiring) implement these.
class Classifier(Protocol):
    def decode_size(self) -> tuple[int, int] | None:
        """The smallest decoded (width, height) that loses nothing; None: full size."""
        ...

    def classify(self, images: list[Image], top_k: int) -> list[list[dict]]:
        """Per image, its top ``top_k`` ``{label, score}``, best first."""
        ...


class Detector(Protocol):
    def detect(self, images: list[Image], threshold: float | None) -> list[list[dict]]:
        """Per image, ``{label, score, box: [x1, y1, x2, y2]}`` in its pixel coordinates;
        threshold None is the model's default."""
        ...


class Limits(NamedTuple):
    max_images: int
    max_request_bytes: int
    max_image_pixels: int
    url_fetch_max_bytes: int
    allow_loopback_urls: bool
    url_fetch_timeout_seconds: float = 5.0
    image_memory_budget_bytes: int = 384 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(max_images=settings.max_images,
                   max_request_bytes=settings.max_request_bytes,
                   max_image_pixels=settings.max_image_pixels,
                   url_fetch_max_bytes=settings.url_fetch_max_bytes,
                   allow_loopback_urls=settings.allow_loopback_urls,
                   url_fetch_timeout_seconds=settings.url_fetch_timeout_seconds,
                   image_memory_budget_bytes=settings.image_memory_budget_bytes)


class ImageSource(NamedTuple):
    """One input image: a form part (``image`` or ``url``) or the raw ``body``."""
    field: str
    content: bytes
    filename: str | None = None


def read_sources(body: bytes | str | None, content_type: str | None,
                 limits: Limits) -> list[ImageSource]:
    """The request's images in input order.

    Raises PayloadTooLarge (body or image count over the stage's limits),
    UnsupportedMediaType, and InvalidInput for a malformed or empty form or
    unknown field names.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body or b""
    if len(body) > limits.max_request_bytes:
        raise PayloadTooLarge(
            f"the request body is {len(body)} bytes, more than this stage's limit of "
            f"{limits.max_request_bytes} bytes (MAX_REQUEST_BYTES); upload large images "
            "with POST /blobs and send their URLs in `url` parts instead",
            size=len(body), limit=limits.max_request_bytes, upload_route="/blobs")
    kind = media_type(content_type)
    if kind == "multipart/form-data":
        parts = parse_form(body, content_type or "", limits.max_images)
        unknown = sorted({part.name for part in parts} - set(FIELDS))
        if unknown:
            raise InvalidInput(
                f"unknown form field(s) {', '.join(map(repr, unknown))}; send images as "
                "`image` file parts and `url` text parts", fields=unknown)
        return [ImageSource(field=part.name, content=part.content, filename=part.filename)
                for part in parts]
    if kind in RAW_IMAGE_TYPES:
        return [ImageSource(field="body", content=body)]
    raise UnsupportedMediaType(
        f"the Content-Type {kind or '(none)'!r} is not accepted; send multipart/form-data "
        f"with `image` and `url` parts, or one image as {', '.join(RAW_IMAGE_TYPES)}",
        content_type=content_type or "")


def parse_top_k(query: Mapping[str, Sequence[str]]) -> int:
    """``?top_k=`` (default 5, 1..MAX_TOP_K); raises InvalidInput."""
    params.reject_unknown(query, {"top_k"})
    return params.integer(query, "top_k", DEFAULT_TOP_K, 1, MAX_TOP_K)


def parse_threshold(query: Mapping[str, Sequence[str]]) -> float | None:
    """``?threshold=`` (0..1), None when absent (the model's default applies);
    raises InvalidInput."""
    params.reject_unknown(query, {"threshold"})
    if params.single(query, "threshold") is None:
        return None
    return params.number(query, "threshold", 0.0, 0.0, 1.0)


def classify_images(sources: Sequence[ImageSource], classifier: Classifier,
                    top_k: int, limits: Limits) -> list[dict[str, Any]]:
    """One entry per source: its top-k labels, or why that image failed."""
    return _predict(sources, limits, lambda images: classifier.classify(images, top_k),
                    _label, decode_size(classifier))


def detect_objects(sources: Sequence[ImageSource], detector: Detector,
                   threshold: float | None, limits: Limits) -> list[dict[str, Any]]:
    """One entry per source: its objects above ``threshold``, or why that image failed."""
    return _predict(sources, limits, lambda images: detector.detect(images, threshold),
                    _detection, decode_size(detector))


def decode_size(model: object) -> tuple[int, int] | None:
    """The smallest (width, height) a reduced decode may give ``model``; None if it does not say."""
    size = getattr(model, "decode_size", None)
    return size() if callable(size) else None


def _predict(sources: Sequence[ImageSource], limits: Limits,
             run: Callable[[list[Image]], list[list[dict]]],
             shape: Callable[[dict, tuple[float, float]], dict[str, Any]],
             fit: tuple[int, int] | None) -> list[dict[str, Any]]:
    entries = [_describe(index, source) for index, source in enumerate(sources)]
    loaded = _load_images(sources, limits, fit)
    decoded = [(entry, item) for entry, item in zip(entries, loaded, strict=True)
               if not isinstance(item, DomainError)]
    failures = sorted({item.code for item in loaded
                       if isinstance(item, DomainError)})
    observability.record(images=len(sources), failed_images=len(sources) - len(decoded),
                         image_errors=",".join(failures) or None)
    for entry, item in zip(entries, loaded, strict=True):
        if isinstance(item, DomainError):
            entry["error"] = {"code": item.code, "message": item.message,
                              **item.details}
    if decoded:
        results = run([item.image for _, item in decoded])
        if len(results) != len(decoded):
            raise RuntimeError(f"the model answered {len(results)} results for "
                               f"{len(decoded)} images")
        for (entry, item), predictions in zip(decoded, results, strict=True):
            entry["width"], entry["height"] = item.source_size
            scale = (item.source_size[0] / item.image.width,
                     item.source_size[1] / item.image.height)
            entry["predictions"] = [shape(prediction, scale) for prediction in predictions]
    return entries


def _load_images(sources: Sequence[ImageSource], limits: Limits,
                 fit: tuple[int, int] | None) -> list[Decoded | DomainError]:
    from chalicelib.prediction.fetching import fetch_images

    urls: dict[int, str | DomainError] = {}
    for index, source in enumerate(sources):
        if source.field == "url":
            urls[index] = _url_text(source.content)
    wanted = {index: url for index, url in urls.items() if isinstance(url, str)}
    fetched: dict[int, bytes | InvalidInput] = {}
    if wanted:
        with observability.timed("fetch_ms", trace="url_fetch"):
            fetched = dict(zip(wanted, fetch_images(list(wanted.values()),
                                                    max_bytes=limits.url_fetch_max_bytes,
                                                    allow_loopback=limits.allow_loopback_urls,
                                                    timeout=limits.url_fetch_timeout_seconds),
                               strict=True))
    budget = MemoryBudget(limits.image_memory_budget_bytes)
    # The model's float32 input for one image, held until the model has run.
    input_bytes = fit[0] * fit[1] * 3 * 4 if fit else 0
    loaded: list[Decoded | DomainError] = []
    for index, source in enumerate(sources):
        data: bytes | DomainError = source.content
        if source.field == "url":
            data = fetched.pop(index) if index in fetched else urls[index]
        if isinstance(data, DomainError):
            loaded.append(data)
            continue
        try:
            with observability.timed("decode_ms"):
                loaded.append(decode_for_model(data, limits.max_image_pixels, fit=fit,
                                               budget=budget, input_bytes=input_bytes))
        except InvalidInput as error:
            loaded.append(error)
    return loaded


def _url_text(content: bytes) -> str | DomainError:
    from chalicelib.netguard import UrlRefused

    try:
        url = content.decode("utf-8").strip()
    except UnicodeDecodeError:
        return UrlRefused("the url part is not UTF-8 text", reason="not_text")
    if not url:
        return UrlRefused("the url part is empty", url=url)
    return url


def _describe(index: int, source: ImageSource) -> dict[str, Any]:
    entry: dict[str, Any] = {"index": index, "source": source.field}
    if source.field == "image":
        entry["filename"] = source.filename
    elif source.field == "url":
        entry["url"] = source.content.decode("utf-8", errors="replace").strip()
    return entry


def _label(prediction: dict, scale: tuple[float, float]) -> dict[str, Any]:
    return {"label": str(prediction["label"]), "score": float(prediction["score"])}


def _detection(prediction: dict, scale: tuple[float, float]) -> dict[str, Any]:
    box = [float(value) for value in prediction["box"]]
    if scale != (1.0, 1.0):
        # The model saw a reduced image; the caller sent the source.
        box = [round(value * scale[index % 2], 2) for index, value in enumerate(box)]
    return {"label": str(prediction["label"]), "score": float(prediction["score"]),
            "box": box}


