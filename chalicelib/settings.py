"""The stage's configuration, read from the environment and validated once.

`.chalice/config.json` sets these variables per stage; locally `make run` and
the test fixtures pass the same file.  A missing or malformed value raises
ConfigurationError naming the variable, at first use, instead of a confusing
failure deep inside a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from chalicelib.errors import ConfigurationError


class Settings(NamedTuple):
    stage: str
    stats_max_numbers: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from environment variables; raises ConfigurationError."""
        reader = _Reader(environ)
        return cls(
            stage=reader.text("APP_STAGE", default="dev"),
            stats_max_numbers=reader.integer("STATS_MAX_NUMBERS", default=1_000_000,
                                             minimum=1),
        )


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
