"""The stage's configuration, read from the environment and validated once.

`.chalice/config.json` sets these variables per stage; locally `make run` and
the test fixtures pass the same file.  A missing or malformed value raises
ConfigurationError naming the variable, at first use, instead of a confusing
failure deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    stage: str
    stats_max_numbers: int
    blobs: BlobSettings = field(default_factory=lambda: BlobSettings.from_environ({}))
    allow_loopback_urls: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raises ConfigurationError."""
        reader = _Reader(environ)
        return cls(
            stage=reader.text("APP_STAGE", default="dev"),
            stats_max_numbers=reader.integer("STATS_MAX_NUMBERS", default=1_000_000,
                                             minimum=1),
            blobs=BlobSettings.from_environ(environ),
            allow_loopback_urls=reader.flag("ALLOW_LOOPBACK_URLS", default=False),
        )


LABELLERS = ("classifier", "rekognition")


@dataclass(frozen=True)
class BlobSettings:
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
    def from_environ(cls, environ: Mapping[str, str]) -> BlobSettings:
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
            bucket=reader.text("BLOBS_BUCKET", default="chalice-ref-dev-blobs"),
            table=reader.text("BLOBS_TABLE", default="chalice-ref-dev-blobs"),
            queue=blobs_queue_name(environ),
            dead_letter_queue=reader.text("BLOBS_DLQ",
                                          default="chalice-ref-dev-blob-events-dlq"),
            upload_url_expires=reader.integer("UPLOAD_URL_EXPIRES", default=300,
                                              minimum=1),
            max_upload_bytes=reader.integer("MAX_UPLOAD_BYTES", default=10 * 1024 * 1024,
                                            minimum=1),
            labeller=labeller,
            max_labels=reader.integer("MAX_LABELS", default=5, minimum=1),
            callback_secret_parameter=reader.text(
                "CALLBACK_SECRET_PARAMETER", default="/chalice-ref-dev/callback-secret"),
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
    return _Reader(environ).text("BLOBS_QUEUE", default="chalice-ref-dev-blob-events")


def load_settings() -> Settings:
    """Settings for the current process environment; raises ConfigurationError."""
    return Settings.from_environ(os.environ)


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

    def number(self, name: str, default: float) -> float:
        raw = self._environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigurationError(
                f"environment variable {name} must be a number, got {raw!r}") from None

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
