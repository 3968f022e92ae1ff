"""The stage's configuration, read from the environment and validated once.

`.chalice/config.json` sets these variables per stage; locally `make run` and
the test fixtures pass the same file.  A missing or malformed value raises
ConfigurationError naming the variable instead of a confusing failure deep
inside a request: at import in every stage but dev (see
:func:`check_deployed_stage`), at first use in dev.  Resource names have no
defaults: a stage names its own, or it would talk to another stage's.
"""

# No `from __future__ import annotations` here: typing.NamedTuple compiles
# every string annotation at import (about 40 fields below), and every cold
# start imports this module.
import json
import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from chalicelib.errors import ConfigurationError, InvalidInput

# The default models `make models` builds (modelbuild/): paths relative to the project root.
# Deployed stages name s3:// URIs instead (the models are not in the Lambda zips).
DEFAULT_CLASSIFIER_MODEL = "models/classifier.json"
DEFAULT_DETECTOR_MODEL = "models/detector.json"
# The one size limit of every image this API decodes (predictions and
# uploads): a decompression bomb stops here, before a pixel is decoded.
DEFAULT_MAX_IMAGE_PIXELS = 16_000_000


class ResourceConfig(NamedTuple):
    """One entry of RESOURCES: a resource name and where its items live."""

    name: str
    backend: str  # "memory" or "dynamodb"
    table: str | None = None  # dynamodb: the table, hash key "id" (a string)
    items: tuple[dict[str, Any], ...] = ()  # memory: the items it starts with


class _Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str:
        value = self._environ.get(name, default)
        if value is None or value == "":
            raise ConfigurationError(f"environment variable {name} must be set")
        return value

    def integer(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigurationError(
                f"environment variable {name} must be >= {minimum}, got {value}")
        return value

    def number(self, name: str, default: float, minimum: float = float("-inf"),
               maximum: float = float("inf")) -> float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {name} must be a number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigurationError(
                f"environment variable {name} must be between {minimum} and {maximum}, "
                f"got {raw!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(
            f"environment variable {name} must be true or false, got {raw!r}")


LABELLERS = ("classifier", "rekognition")
LOG_FORMATS = ("json", "text")


class BlobSettings(NamedTuple):
    """The upload pipeline's resources and limits (see README, "Uploads")."""

    bucket: str
    table: str
    queue: str
    dead_letter_queue: str
    upload_url_expires: int
    max_upload_bytes: int
    labeller: str
    max_labels: int
    callback_secret_parameter: str
    callback_attempts: int
    callback_backoff_seconds: float
    callback_timeout_seconds: float
    report_batch_item_failures: bool

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "BlobSettings":
        """Build the upload settings; raises ConfigurationError naming the variable."""
        reader = _Reader(environ)
        labeller = reader.text("LABELLER", default="classifier")
        if labeller not in LABELLERS:
            raise ConfigurationError(
                f"environment variable LABELLER must be one of {list(LABELLERS)}, "
                f"got {labeller!r}")
        backoff = reader.number("CALLBACK_BACKOFF_SECONDS", default=0.5)
        timeout = reader.number("CALLBACK_TIMEOUT_SECONDS", default=5.0)
        if backoff < 0 or timeout <= 0:
            raise ConfigurationError("environment variables CALLBACK_BACKOFF_SECONDS "
                                     "must be >= 0 and CALLBACK_TIMEOUT_SECONDS > 0")
        return cls(
            bucket=reader.text("BLOBS_BUCKET"),
            table=reader.text("BLOBS_TABLE"),
            queue=blobs_queue_name(environ),
            dead_letter_queue=blobs_dead_letter_queue_name(environ),
            upload_url_expires=reader.integer("UPLOAD_URL_EXPIRES", default=300,
                                              minimum=1),
            max_upload_bytes=reader.integer("MAX_UPLOAD_BYTES", default=10 * 1024 * 1024,
                                            minimum=1),
            labeller=labeller,
            max_labels=reader.integer("MAX_LABELS", default=5, minimum=1),
            callback_secret_parameter=reader.text("CALLBACK_SECRET_PARAMETER"),
            callback_attempts=reader.integer("CALLBACK_ATTEMPTS", default=3, minimum=1),
            callback_backoff_seconds=backoff,
            callback_timeout_seconds=timeout,
            report_batch_item_failures=reader.flag("REPORT_BATCH_ITEM_FAILURES",
                                                   default=True),
        )


def blobs_queue_name(environ: Mapping[str, str] = os.environ) -> str:
    """The upload events queue, which app.py needs at import to register its handler.

    `chalice deploy/package --stage X` put the stage's variables into the
    environment before importing app.py, so this names the stage's queue.
    """
    return _Reader(environ).text("BLOBS_QUEUE")


def blobs_dead_letter_queue_name(environ: Mapping[str, str] = os.environ) -> str:
    """The upload events' dead-letter queue, whose handler app.py registers at import."""
    return _Reader(environ).text("BLOBS_DLQ")


class Settings(NamedTuple):
    stage: str
    stats_max_numbers: int
    blobs: BlobSettings
    resources: tuple[ResourceConfig, ...] = ()
    classifier_model: str = DEFAULT_CLASSIFIER_MODEL
    detector_model: str = DEFAULT_DETECTOR_MODEL
    # Image prediction (POST /predict, /object_detection).
    max_images: int = 16
    # What survives API Gateway's base64 encoding inside Lambda's 6 MB
    # synchronous payload, with room left for the event's headers.
    max_request_bytes: int = 4_400_000
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    url_fetch_max_bytes: int = 8_000_000
    # One deadline shared by a request's URL fetches (connect, headers, body).
    url_fetch_timeout_seconds: float = 5.0
    # What a request's decoded images and model inputs may hold at once.
    image_memory_budget_bytes: int = 384 * 1024 * 1024
    detection_threshold: float = 0.4
    allow_loopback_urls: bool = False
    cors_allow_origin: str | None = None
    # Operating (see docs/operating.md): JSON lines as in CloudWatch, or one
    # readable line per record (make run); the EMF namespace; X-Ray subsegments.
    log_format: str = "json"
    metrics_namespace: str = "ChaliceReferenceApi"
    tracing: bool = False
    # Where boto3 sends every call; None means AWS itself (see aws_endpoint_url).
    aws_endpoint_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Settings":
        """Build settings from environment variables; raises ConfigurationError."""
        reader = _Reader(environ)
        return cls(
            stage=stage_name(environ),
            stats_max_numbers=reader.integer("STATS_MAX_NUMBERS", default=1_000_000,
                                             minimum=1),
            resources=parse_resources(environ.get("RESOURCES")),
            classifier_model=reader.text("CLASSIFIER_MODEL", default=DEFAULT_CLASSIFIER_MODEL),
            detector_model=reader.text("DETECTOR_MODEL", default=DEFAULT_DETECTOR_MODEL),
            max_images=reader.integer("MAX_IMAGES", default=16, minimum=1),
            max_request_bytes=reader.integer("MAX_REQUEST_BYTES", default=4_400_000,
                                             minimum=1),
            max_image_pixels=reader.integer("MAX_IMAGE_PIXELS",
                                            default=DEFAULT_MAX_IMAGE_PIXELS, minimum=1),
            url_fetch_max_bytes=reader.integer("URL_FETCH_MAX_BYTES", default=8_000_000,
                                               minimum=1),
            url_fetch_timeout_seconds=reader.number("URL_FETCH_TIMEOUT_SECONDS", default=5.0,
                                                    minimum=0.1, maximum=20.0),
            image_memory_budget_bytes=image_memory_budget(environ),
            detection_threshold=reader.number("DETECTION_THRESHOLD", default=0.4,
                                              minimum=0.0, maximum=1.0),
            allow_loopback_urls=reader.flag("ALLOW_LOOPBACK_URLS", default=False),
            cors_allow_origin=environ.get("CORS_ALLOW_ORIGIN") or None,
            blobs=BlobSettings.from_environ(environ),
            log_format=_choice(reader, "LOG_FORMAT", LOG_FORMATS, default="json"),
            metrics_namespace=reader.text("METRICS_NAMESPACE", default="ChaliceReferenceApi"),
            tracing=reader.flag("TRACING", default=False),
            aws_endpoint_url=aws_endpoint_url(environ),
        )


# The share of the function's memory a request's images may take: the rest
# is the runtime, the models and a second request on the local server.
IMAGE_MEMORY_SHARE = 0.25
# The prod function's memory (lambda_memory_size), for processes outside Lambda.
DEFAULT_FUNCTION_MEMORY_MB = 1536


def image_memory_budget(environ: Mapping[str, str]) -> int:
    """Bytes a request's decoded images may hold: IMAGE_MEMORY_BUDGET_MB, or a
    quarter of the function's memory (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE).

    Raises ConfigurationError naming the variable.
    """
    reader = _Reader(environ)
    memory_mb = reader.integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                               default=DEFAULT_FUNCTION_MEMORY_MB, minimum=128)
    budget_mb = reader.integer("IMAGE_MEMORY_BUDGET_MB",
                               default=int(memory_mb * IMAGE_MEMORY_SHARE), minimum=1)
    return budget_mb * 1024 * 1024


def _choice(reader: _Reader, name: str, options: tuple[str, ...], default: str) -> str:
    value = reader.text(name, default=default)
    if value not in options:
        raise ConfigurationError(
            f"environment variable {name} must be one of {list(options)}, got {value!r}")
    return value


LOCAL_STAGE = "dev"
DEFAULT_AWS_PORT = 5050


def aws_endpoint_url(environ: Mapping[str, str]) -> str | None:
    """The AWS endpoint of the stage: in the local ``dev`` stage the emulator, at
    AWS_ENDPOINT_URL if set, else http://127.0.0.1:$AWS_PORT (default 5050);
    None (AWS itself) in every other stage.

    Read from the shell, never from .chalice/config.json: Chalice's stage
    variables override the shell's, so a port fixed there could not be moved.
    Raises ConfigurationError for an AWS_PORT that is not a port number.
    """
    if environ.get("APP_STAGE", LOCAL_STAGE) != LOCAL_STAGE:
        return None
    if environ.get("AWS_ENDPOINT_URL"):
        return environ["AWS_ENDPOINT_URL"]
    raw = environ.get("AWS_PORT") or str(DEFAULT_AWS_PORT)
    # int() would also read Arabic-Indic or fullwidth digits: a port is ASCII digits.
    if not (len(raw) <= 5 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise ConfigurationError(f"environment variable AWS_PORT must be a TCP port "
                                 f"(1-65535), got {raw!r}")
    return f"http://127.0.0.1:{int(raw)}"


def load_settings() -> "Settings":
    """Settings for the current process environment; raises ConfigurationError."""
    return Settings.from_environ(os.environ)


DEV_STAGE = "dev"


def stage_name(environ: Mapping[str, str] = os.environ) -> str:
    """APP_STAGE; dev when unset, except inside Lambda, where it must be set."""
    if "AWS_LAMBDA_FUNCTION_NAME" in environ:
        return _Reader(environ).text("APP_STAGE")
    return environ.get("APP_STAGE") or DEV_STAGE


def check_deployed_stage(environ: Mapping[str, str] = os.environ) -> None:
    """In any stage but dev, read and check every setting now; raises ConfigurationError.

    app.py calls this at import, so a deployed function with a missing or
    malformed variable fails its first invocation with Lambda's import error,
    which quotes the message naming the variable, and no request is half-served.
    """
    if stage_name(environ) != DEV_STAGE:
        Settings.from_environ(environ)


_RESOURCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}\Z")
_RESOURCE_KEYS = {"memory": {"backend", "items"}, "dynamodb": {"backend", "table"}}


def parse_resources(raw: str | None) -> tuple[ResourceConfig, ...]:
    """RESOURCES, a JSON object ``{name: {"backend": ..., ...}}``; raises
    ConfigurationError naming the variable and the entry."""
    if raw is None or raw.strip() == "":
        return ()
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"environment variable RESOURCES is not valid JSON: {error}") from None
    if not isinstance(entries, dict):
        raise ConfigurationError("environment variable RESOURCES must be a JSON object "
                                 "mapping resource names to backends")
    return tuple(_resource_config(name, entry) for name, entry in entries.items())


def _resource_config(name: str, entry: Any) -> ResourceConfig:
    where = f"environment variable RESOURCES, resource {name!r}"
    if not _RESOURCE_NAME.match(name):
        raise ConfigurationError(f"{where}: names use 1-64 letters, digits, - and _")
    if not isinstance(entry, dict) or entry.get("backend") not in _RESOURCE_KEYS:
        raise ConfigurationError(
            f"{where}: give {{\"backend\": \"memory\"}} or "
            f"{{\"backend\": \"dynamodb\", \"table\": \"...\"}}")
    unknown = sorted(set(entry) - _RESOURCE_KEYS[entry["backend"]])
    if unknown:
        raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} for backend "
                                 f"{entry['backend']!r}")
    if entry["backend"] == "dynamodb":
        table = entry.get("table")
        if not isinstance(table, str) or not _TABLE_NAME.match(table):
            raise ConfigurationError(f"{where}: \"table\" must be a DynamoDB table name")
        return ResourceConfig(name, "dynamodb", table=table)
    return ResourceConfig(name, "memory", items=_seed_items(where, entry.get("items", [])))


def _seed_items(where: str, items: Any) -> tuple[dict[str, Any], ...]:
    from chalicelib.resources.items import validate_new_item

    if not isinstance(items, list):
        raise ConfigurationError(f"{where}: \"items\" must be a list of objects")
    try:
        checked = tuple(validate_new_item(item) for item in items)
    except InvalidInput as error:
        raise ConfigurationError(f"{where}: an item is invalid: {error.message}") from None
    ids = [item["id"] for item in checked]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"{where}: two items have the same id")
    return checked
