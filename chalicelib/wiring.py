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
    from chalicelib.uploads.labelling import Labeller
    from chalicelib.uploads.processing import Processor
    from chalicelib.uploads.records import BlobRecords
    from chalicelib.uploads.storage import BlobStorage


@functools.cache
def get_settings() -> Settings:
    """The validated stage settings; raises ConfigurationError."""
    return load_settings()


def _client_config(service: str) -> Any:
    from botocore.config import Config

    # A slow or unreachable endpoint must end in a 503 within a request's
    # time, not after botocore's default 60-second timeouts and retries.
    return Config(connect_timeout=3, read_timeout=20,
                  retries={"mode": "standard", "max_attempts": 3},
                  # Presigned S3 URLs must be SigV4 (SigV2 is refused by newer regions).
                  signature_version="s3v4" if service == "s3" else None)


@functools.cache
def _aws_client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=_client_config(service),
                                          endpoint_url=get_settings().aws_endpoint_url)


def get_dynamodb_client() -> Any:
    """The DynamoDB client (endpoint and region from the environment)."""
    return _aws_client("dynamodb")


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


def get_s3_client() -> Any:
    """The S3 client (built on first use; in the dev stage it talks to the emulator)."""
    return _aws_client("s3")


@functools.cache
def get_classifier() -> ImageClassifier:
    """The stage's image classifier (CLASSIFIER_MODEL); raises ModelConfigError or
    ModelUnavailable (not cached: the next request tries again)."""
    from chalicelib.prediction.models import load_classifier

    return load_classifier(get_settings().classifier_model, get_s3_client)


@functools.cache
def get_detector() -> ObjectDetector:
    """The stage's object detector (DETECTOR_MODEL); raises as get_classifier."""
    from chalicelib.prediction.models import load_detector

    settings = get_settings()
    return load_detector(settings.detector_model, get_s3_client,
                         fallback_threshold=settings.detection_threshold)


@functools.cache
def get_blob_records() -> BlobRecords:
    """The blobs table adapter."""
    import boto3

    from chalicelib.uploads.records import BlobRecords

    dynamodb = boto3.session.Session().resource(
        "dynamodb", config=_client_config("dynamodb"),
        endpoint_url=get_settings().aws_endpoint_url)
    table = dynamodb.Table(get_settings().blobs.table)
    return BlobRecords(table)


@functools.cache
def get_blob_storage() -> BlobStorage:
    """The uploads bucket adapter."""
    from chalicelib.uploads.storage import BlobStorage

    return BlobStorage(get_s3_client(), get_settings().blobs.bucket)


@functools.cache
def get_labeller() -> Labeller:
    """The stage's labeller (LABELLER=classifier|rekognition)."""
    from chalicelib.uploads.labelling import ClassifierLabeller, RekognitionLabeller

    settings = get_settings()
    if settings.blobs.labeller == "rekognition":
        return RekognitionLabeller(_aws_client("rekognition"),
                                   max_pixels=settings.max_image_pixels)
    return ClassifierLabeller(max_pixels=settings.max_image_pixels)


@functools.cache
def get_callback_secret() -> bytes:
    """The callback signing secret, read from SSM once per container."""
    from chalicelib.uploads.callbacks import read_secret

    return read_secret(_aws_client("ssm"), get_settings().blobs.callback_secret_parameter)


@functools.cache
def get_blob_processor() -> Processor:
    """The upload events handler's logic, with its parts."""
    from chalicelib.uploads import callbacks
    from chalicelib.uploads.processing import CallbackSettings, Processor

    settings = get_settings()
    blobs = settings.blobs
    return Processor(
        get_blob_records(), get_blob_storage(),
        # Looked up per use, so the labeller and secret load only when needed.
        labeller=lambda: get_labeller(), load_secret=lambda: get_callback_secret(),
        max_upload_bytes=blobs.max_upload_bytes, max_labels=blobs.max_labels,
        callback=CallbackSettings(attempts=blobs.callback_attempts,
                                  backoff=blobs.callback_backoff_seconds,
                                  timeout=blobs.callback_timeout_seconds,
                                  allow_loopback=settings.allow_loopback_urls),
        deliver=callbacks.deliver)


def reset() -> None:
    """Forget every cached component (tests and the local stack use this)."""
    for accessor in (get_settings, _aws_client, _build_resource_stores, get_classifier,
                     get_detector, get_blob_records, get_blob_storage, get_labeller,
                     get_callback_secret, get_blob_processor):
        accessor.cache_clear()
