"""`make upload-model`: put a local model into the running emulator's model bucket.

    python -m stack upload-model MANIFEST [--endpoint URL] [--bucket B] [--prefix P]

Copies MANIFEST and the .onnx file it names (both checked first) to
s3://B/P/, creating the bucket when missing, and prints the manifest's URI:
the value for CLASSIFIER_MODEL or DETECTOR_MODEL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_MODEL_BUCKET = "chalice-ref-dev-models"


def upload_model(manifest: Path, s3: Any, bucket: str, prefix: str) -> str:
    """Put ``manifest`` and its model file into ``bucket`` under ``prefix``; returns the
    manifest's s3:// URI.  Raises ModelConfigError for an invalid manifest or missing file."""
    from chalicelib.prediction.manifest import ModelConfigError, load_manifest

    parsed = load_manifest(str(manifest))
    model_file = manifest.parent / parsed.model
    if not model_file.is_file():
        raise ModelConfigError(f"{manifest}: its model file {model_file} does not exist")
    if bucket not in {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)
    folder = prefix.strip("/")
    folder = f"{folder}/" if folder else ""
    # The model first: a manifest never points at a file not yet there.
    for path in (model_file, manifest):
        s3.upload_file(str(path), bucket, f"{folder}{path.name}")
    return f"s3://{bucket}/{folder}{manifest.name}"


def main(argv: list[str]) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.errors import ConfigurationError
    from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION

    parser = argparse.ArgumentParser(prog="python -m stack upload-model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--endpoint", default="http://127.0.0.1:5050",
                        help="the emulator (make run's AWS_PORT)")
    parser.add_argument("--bucket", default=DEFAULT_MODEL_BUCKET)
    parser.add_argument("--prefix", default=None,
                        help="key prefix (default: the manifest's name without .json)")
    args = parser.parse_args(argv)
    s3 = boto3.session.Session(
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION).client("s3", endpoint_url=args.endpoint)
    prefix = args.manifest.stem if args.prefix is None else args.prefix
    try:
        print(upload_model(args.manifest, s3, args.bucket, prefix))
        return 0
    except ConfigurationError as error:
        print(f"upload-model: {error}", file=sys.stderr)
    except (BotoCoreError, ClientError) as error:
        print(f"upload-model: cannot reach the emulator at {args.endpoint} ({error}); "
              "is `make run` running?", file=sys.stderr)
    return 1
