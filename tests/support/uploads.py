"""Helpers for the upload pipeline's tests: AWS clients, S3 events, waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import boto3


def aws(endpoint_url: str, service: str) -> Any:
    """A boto3 client on the emulator with the local credentials."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing",
        region_name="us-east-1").client(service, endpoint_url=endpoint_url)


def s3_event_body(bucket: str, key: str, size: int = 1) -> str:
    """An SQS message body as S3 sends it for a created object (key URL-encoded)."""
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket,
                                                    "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size}}}]})


def callback_secret(endpoint_url: str, name: str) -> bytes:
    """The stage's callback secret, read from the emulator's Parameter Store."""
    parameter = aws(endpoint_url, "ssm").get_parameter(Name=name, WithDecryption=True)
    return parameter["Parameter"]["Value"].encode("utf-8")


def wait_until(condition: Callable[[], Any], timeout: float = 5.0,
               interval: float = 0.05) -> Any:
    """The first truthy value of ``condition()``; raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {timeout}s: {condition}")
        time.sleep(interval)


def upload(client, data: bytes, content_type: str | None = "image/png",
           callback_url: str | None = None) -> str:
    """Create a blob through ``client`` (chalice.test.Client), PUT ``data`` to
    its presigned URL; returns the blob's id."""
    import requests

    body = {"content_type": content_type} if content_type else {}
    if callback_url:
        body["callback_url"] = callback_url
    created = client.http.post("/blobs", body=json.dumps(body),
                               headers={"Content-Type": "application/json"}).json_body
    requests.put(created["upload_url"], data=data, headers=created["headers"],
                 timeout=10).raise_for_status()
    return created["id"]
