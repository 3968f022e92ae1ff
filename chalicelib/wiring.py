"""The composition root: the one place that reads configuration and builds
clients, sessions and backends -- lazily, once per Lambda container.

Heavy libraries (boto3, onnxruntime, ...) are imported inside the accessors
so that a cold start pays only for what the first request needs.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from chalicelib.settings import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.uploads.labelling import Labeller
    from chalicelib.uploads.processing import Processor
    from chalicelib.uploads.records import BlobRecords
    from chalicelib.uploads.storage import BlobStorage


@functools.cache
def get_settings() -> Settings:
    """The validated stage settings; raises ConfigurationError."""
    return load_settings()


@functools.cache
def _aws_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Presigned S3 URLs must be SigV4 (SigV2 is refused by newer regions).
    config = Config(signature_version="s3v4") if service == "s3" else None
    return boto3.session.Session().client(service, config=config)


@functools.cache
def get_blob_records() -> BlobRecords:
    """The blobs table adapter."""
    import boto3

    from chalicelib.uploads.records import BlobRecords

    table = boto3.session.Session().resource("dynamodb").Table(get_settings().blobs.table)
    return BlobRecords(table)


@functools.cache
def get_blob_storage() -> BlobStorage:
    """The uploads bucket adapter."""
    from chalicelib.uploads.storage import BlobStorage

    return BlobStorage(_aws_client("s3"), get_settings().blobs.bucket)


@functools.cache
def get_labeller() -> Labeller:
    """The stage's labeller (LABELLER=classifier|rekognition)."""
    from chalicelib.uploads.labelling import ClassifierLabeller, RekognitionLabeller

    if get_settings().blobs.labeller == "rekognition":
        return RekognitionLabeller(_aws_client("rekognition"))
    return ClassifierLabeller()


@functools.cache
def get_callback_secret() -> bytes:
    """The callback signing secret, read from SSM once per container."""
    from chalicelib.uploads.callbacks import read_secret

    return read_secret(_aws_client("ssm"), get_settings().blobs.callback_secret_parameter)


@functools.cache
def get_blob_processor() -> Processor:
    """The upload events handler's logic, with its parts."""
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
                                  allow_loopback=settings.allow_loopback_urls))


def reset() -> None:
    """Forget every cached component (tests and the local stack use this)."""
    for accessor in (get_settings, _aws_client, get_blob_records, get_blob_storage,
                     get_labeller, get_callback_secret, get_blob_processor):
        accessor.cache_clear()
