import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chalicelib.errors import Unavailable
from chalicelib.transient import as_unavailable, transient_as_unavailable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem")


@pytest.mark.parametrize("error", [
    client_error("ThrottlingException"), client_error("ProvisionedThroughputExceededException"),
    client_error("SlowDown", 503), client_error("Whatever", 500),
    client_error("ServiceUnavailable", 503),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
])
def test_throttling_unreachable_and_timeouts_are_unavailable(error):
    with pytest.raises(Unavailable, match="storing an item failed for now"):
        with transient_as_unavailable("storing an item"):
            raise error


@pytest.mark.parametrize("error", [
    client_error("ConditionalCheckFailedException"), client_error("AccessDeniedException"),
    client_error("ResourceNotFoundException"), client_error("ValidationException"),
    KeyError("x"), ValueError("y"),
])
def test_everything_else_passes_unchanged(error):
    assert as_unavailable(error) is None
    with pytest.raises(type(error)):
        with transient_as_unavailable("storing an item"):
            raise error
