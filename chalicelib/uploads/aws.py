"""Telling transient AWS failures (retry later) from everything else."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from chalicelib.errors import Unavailable

# Error codes AWS documents as "slow down / try again"; anything else (a
# missing table, a denied action) is an operator's error and must surface.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
    "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "SlowDown", "RequestTimeout", "InternalError", "InternalServerError",
    "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
})


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for other errors)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def transient_as_unavailable(operation: str) -> Iterator[None]:
    """Raise Unavailable for throttling, 5xx and connection failures inside the block."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    try:
        yield
    except ClientError as error:
        if error_code(error) in TRANSIENT_CODES:
            raise Unavailable(f"{operation} failed for now ({error_code(error)}); "
                              "try again", operation=operation) from error
        raise
    except (ConnectionError, HTTPClientError) as error:
        raise Unavailable(f"{operation} failed for now ({type(error).__name__}); "
                          "try again", operation=operation) from error
