"""Where model files come from: a path inside the package, or an S3 object cached in /tmp.

An ``s3://`` object is kept under a folder named after its version (the
object's VersionId in a versioned bucket, else its ETag), so a container
asks S3 once per cold start which version is current and downloads only
what changed.  Older versions of the same key are removed from the cache.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalicelib import iam
from chalicelib.errors import Unavailable
from chalicelib.prediction.manifest import ModelConfigError

IAM_GRANTS = (
    iam.Grant(("s3:GetObject",), iam.s3_uri_objects("CLASSIFIER_MODEL", "DETECTOR_MODEL"),
              why="models configured as s3:// URIs are fetched at cold start (HEAD, then "
                  "GET when the cached version is not the current one)"),
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

S3ClientFactory = Callable[[], Any]

_CHUNK_BYTES = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_REASONS = {"404": "does not exist", "NoSuchKey": "does not exist",
            "NoSuchBucket": "names a bucket that does not exist",
            "403": "is forbidden or missing (S3 answers 403 for a missing object when the "
                   "role may not list the bucket; check s3:GetObject)",
            "AccessDenied": "is forbidden (check s3:GetObject)",
            "PreconditionFailed": "changed while it was being fetched (try again)",
            "412": "changed while it was being fetched (try again)"}


class ModelUnavailable(Unavailable):
    """The configured model cannot be fetched now (missing, forbidden, S3 unreachable)."""


def locate(model_uri: str, get_s3_client: S3ClientFactory | None = None) -> Path:
    """A local path to the file ``model_uri`` names, fetched first if it is on S3.

    Relative paths are inside the package (the project root).  Raises
    ModelConfigError for a location that cannot name a model, and
    ModelUnavailable (naming the URI and the reason) when S3 cannot serve it.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise ModelConfigError("the model location is empty")
    if model_uri.startswith("s3://"):
        return fetch_s3_object(model_uri, get_s3_client)
    if "://" in model_uri:
        raise ModelConfigError(f"{model_uri}: a model location is a path inside the package "
                               "or an s3://bucket/key URI")
    path = Path(model_uri)
    return path if path.is_absolute() else PROJECT_ROOT / path


def sibling(model_uri: str, name: str) -> str:
    """The ``s3://`` URI of the file ``name`` in the same folder as ``model_uri``."""
    bucket, key = split_s3_uri(model_uri)
    folder = key.rpartition("/")[0]
    return f"s3://{bucket}/{folder}/{name}" if folder else f"s3://{bucket}/{name}"


def model_cache_dir() -> Path:
    """Where S3 models are kept for the container's life (``/tmp/model-cache`` on Lambda).

    Not ``/tmp/models``: an older layout kept files there that would stand in
    the way of this one's folders on a reused machine.
    """
    return Path(tempfile.gettempdir()) / "model-cache"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of ``s3://bucket/key``; raises ModelConfigError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key or key.endswith("/"):
        raise ModelConfigError(f"{uri} is not an s3://bucket/key URI of a file")
    return bucket, key


def fetch_s3_object(uri: str, get_s3_client: S3ClientFactory | None) -> Path:
    """The local copy of the current version of ``uri``; raises ModelUnavailable."""
    bucket, key = split_s3_uri(uri)
    if get_s3_client is None:
        raise ModelConfigError(f"{uri}: no S3 client was given to fetch the model")
    from botocore.exceptions import BotoCoreError, ClientError

    client = get_s3_client()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        # Pinned to the version HEAD saw, so a replacement mid-download
        # cannot be cached under the old version's name.
        pin = ({"VersionId": head["VersionId"]} if head.get("VersionId")
               else {"IfMatch": head["ETag"]})
        versions = model_cache_dir() / bucket / key
        version = _UNSAFE.sub("_", next(iter(pin.values())).strip('"'))
        target = versions / version / Path(key).name
        if not target.is_file():
            _download(client, bucket, key, pin, target)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "error"))
        raise ModelUnavailable(f"cannot fetch the model file {uri}: it "
                               f"{_REASONS.get(code, code)}", model=uri, reason=code) from None
    except BotoCoreError as error:
        raise ModelUnavailable(f"cannot fetch the model file {uri}: {error}", model=uri,
                               reason=type(error).__name__) from None
    _forget_other_versions(versions, keep=target.parent)
    return target


def _download(client: Any, bucket: str, key: str, pin: dict[str, str], target: Path
              ) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        body = client.get_object(Bucket=bucket, Key=key, **pin)["Body"]
        with partial.open("wb") as file, body:
            shutil.copyfileobj(body, file, _CHUNK_BYTES)
        # A rename is atomic: a concurrent reader never sees a half-written model.
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _forget_other_versions(versions: Path, keep: Path) -> None:
    # /tmp is small (512 MB by default on Lambda): older versions go.
    for folder in versions.iterdir():
        if folder != keep and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
