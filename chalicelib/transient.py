"""Transient failures of the services the app calls: throttled, unreachable, slow.

One rule for every adapter: a failure that may pass on its own becomes
:class:`Unavailable` (503 with Retry-After at the edge); anything else (a
missing table, a denied action, a validation error) is an operator's or a
programmer's error and propagates as it is.  Adapters wrap their calls in
:func:`transient_as_unavailable`; the HTTP edge applies :func:`as_unavailable`
to whatever still escapes a view, so a new adapter cannot skip the rule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from chalicelib.errors import Unavailable

# Error codes AWS documents as "slow down / try again"; anything else (a
# missing table, a denied action) is an operator's error and must surface.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
    "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "SlowDown", "RequestTimeout", "RequestTimeoutException", "InternalError",
    "InternalServerError", "InternalFailure", "ServiceUnavailable",
    "ServiceUnavailableException", "LimitExceededException",
    "TransactionInProgressException",
})


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for other errors)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def as_unavailable(error: BaseException, operation: str = "a call to AWS"
                   ) -> Unavailable | None:
    """The Unavailable that ``error`` stands for, or None when it is not transient.

    Transient: a throttling or 5xx ClientError, an unreachable endpoint, a
    connect or read timeout (botocore raises these after its own retries).
    """
    import sys

    # Nothing but botocore raises botocore's errors: when it was never
    # imported, the error cannot be one of them (and /health stays lean).
    if "botocore" not in sys.modules:
        return None
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if error_code(error) in TRANSIENT_CODES or status in (500, 502, 503, 504):
            return Unavailable(f"{operation} failed for now ({error_code(error)}); "
                               "try again", operation=operation)
        return None
    if isinstance(error, (ConnectionError, HTTPClientError)):
        return Unavailable(f"{operation} failed for now ({type(error).__name__}); "
                           "try again", operation=operation)
    return None


@contextlib.contextmanager
def transient_as_unavailable(operation: str) -> Iterator[None]:
    """Raise Unavailable for throttling, 5xx, unreachable endpoints and timeouts
    inside the block; every other error passes unchanged."""
    try:
        yield
    except Exception as error:
        unavailable = as_unavailable(error, operation)
        if unavailable is None:
            raise
        raise unavailable from error
