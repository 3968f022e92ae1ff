"""The composition root: the one place that reads configuration and builds
clients, sessions and backends -- lazily, once per Lambda container.

Heavy libraries (boto3, onnxruntime, ...) are imported inside the accessors
so that a cold start pays only for what the first request needs.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from chalicelib.settings import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.prediction.models import ImageClassifier, ObjectDetector
    from chalicelib.resources.contract import ResourceStore


@functools.cache
def get_settings() -> Settings:
    """The validated stage settings; raises ConfigurationError."""
    return load_settings()


@functools.cache
def get_dynamodb_client() -> Any:
    """A boto3 DynamoDB client (endpoint and region from the environment)."""
    import boto3

    return boto3.client("dynamodb")


# In-memory stores hold data: two threads of the local server must not each
# build their own on the first requests, so building is serialised.
_STORES_LOCK = threading.Lock()


def get_resource_stores() -> dict[str, ResourceStore]:
    """Each configured resource's ResourceStore, by name; raises ConfigurationError."""
    with _STORES_LOCK:
        return _build_resource_stores()


@functools.cache
def _build_resource_stores() -> dict[str, ResourceStore]:
    stores: dict[str, ResourceStore] = {}
    for resource in get_settings().resources:
        if resource.backend == "memory":
            from chalicelib.resources.memory import MemoryStore

            stores[resource.name] = MemoryStore(resource.items)
        elif resource.backend == "dynamodb":
            from chalicelib.resources.dynamodb import DynamoStore

            stores[resource.name] = DynamoStore(get_dynamodb_client(), resource.table)
    return stores


@functools.cache
def get_s3_client() -> Any:
    """The S3 client (built on first use; AWS_ENDPOINT_URL points it at the emulator)."""
    import boto3

    return boto3.client("s3")


@functools.cache
def get_classifier() -> ImageClassifier:
    """The stage's image classifier (CLASSIFIER_MODEL); raises ModelConfigError."""
    from chalicelib.prediction.models import load_classifier

    return load_classifier(get_settings().classifier_model, get_s3_client)


@functools.cache
def get_detector() -> ObjectDetector:
    """The stage's object detector (DETECTOR_MODEL); raises ModelConfigError."""
    from chalicelib.prediction.models import load_detector

    return load_detector(get_settings().detector_model, get_s3_client)


def reset() -> None:
    """Forget every cached component (tests and the local stack use this)."""
    for accessor in (get_settings, get_dynamodb_client, _build_resource_stores,
                     get_s3_client, get_classifier, get_detector):
        accessor.cache_clear()
