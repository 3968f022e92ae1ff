"""Uploaded objects in S3: presigned uploads, bounded reads, deletes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import iam
from chalicelib.transient import error_code, transient_as_unavailable

# s3:PutObject is what the presigned PUT exercises: the URL carries the
# function role's signature.  s3:ListBucket (on the bucket) makes a missing
# key answer 404 rather than 403, so a vanished object is told from a denial.
IAM_GRANTS = (
    iam.Grant(("s3:PutObject", "s3:GetObject", "s3:DeleteObject"),
              iam.s3_objects("BLOBS_BUCKET", prefix="uploads/")),
    iam.Grant(("s3:ListBucket",), iam.s3_bucket("BLOBS_BUCKET")),
)
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str]


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str
    content: bytes | None  # None when the object is larger than the read allowed


class BlobStorage:
    """One bucket, given a built boto3 S3 client (signature version 4)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def presign_upload(self, key: str, content_type: str | None,
                       expires_in: int) -> PresignedUpload:
        """A PUT URL for ``key``; the headers listed must be sent as given."""
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        headers: dict[str, str] = {}
        if content_type:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        url = self._s3.generate_presigned_url("put_object", Params=params,
                                              ExpiresIn=expires_in, HttpMethod="PUT")
        return PresignedUpload(url=url, method="PUT", headers=headers)

    def presign_post(self, key: str, content_type: str | None, max_bytes: int,
                     expires_in: int) -> PresignedPost:
        """A browser-form POST for ``key`` whose policy lets S3 refuse larger uploads."""
        fields: dict[str, str] = {}
        conditions: list = [["content-length-range", 1, max_bytes]]
        if content_type:
            fields["Content-Type"] = content_type
            conditions.append({"Content-Type": content_type})
        post = self._s3.generate_presigned_post(self.bucket, key, Fields=fields,
                                                Conditions=conditions, ExpiresIn=expires_in)
        return PresignedPost(url=post["url"], fields=dict(post["fields"]))

    def read(self, key: str, max_bytes: int) -> StoredObject | None:
        """The object, its body only if at most ``max_bytes``; None if it is gone.

        Raises Unavailable for throttling or connection failures.
        """
        from botocore.exceptions import ClientError

        try:
            with transient_as_unavailable("reading the upload"):
                response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise
        body = response["Body"]
        size = int(response.get("ContentLength", 0))
        content_type = response.get("ContentType", "")
        try:
            if size > max_bytes:
                return StoredObject(size=size, content_type=content_type, content=None)
            with transient_as_unavailable("reading the upload"):
                # One byte more than allowed tells an object that grew apart.
                content = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(content) > max_bytes:
            return StoredObject(size=len(content), content_type=content_type, content=None)
        return StoredObject(size=len(content), content_type=content_type, content=content)

    def delete(self, key: str) -> None:
        """Delete the object (nothing happens if it is already gone); raises Unavailable."""
        with transient_as_unavailable("deleting the upload"):
            self._s3.delete_object(Bucket=self.bucket, Key=key)
