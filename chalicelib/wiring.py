"""The composition root: the one place that reads configuration and builds
clients, sessions and backends -- lazily, once per Lambda container.

Heavy libraries (boto3, onnxruntime, ...) are imported inside the accessors
so that a cold start pays only for what the first request needs.
"""

from __future__ import annotations

import functools

from chalicelib.settings import Settings, load_settings


@functools.cache
def get_settings() -> Settings:
    """The validated stage settings; raises ConfigurationError."""
    return load_settings()


def reset() -> None:
    """Forget every cached component (tests and the local stack use this)."""
    for accessor in (get_settings,):
        accessor.cache_clear()
