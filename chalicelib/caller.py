"""Who called: the IAM principal API Gateway authenticated for an AWS_IAM route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IAM_IDENTITY_FIELDS = ("accessKey", "accountId", "caller", "user", "userArn")


def describe_caller(request_context: Mapping[str, Any]) -> dict[str, Any]:
    """The IAM identity fields of API Gateway's requestContext.identity (None when absent)."""
    identity = request_context.get("identity") or {}
    return {field: identity.get(field) for field in IAM_IDENTITY_FIELDS}
