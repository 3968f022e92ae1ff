"""pytest plugin: record the app's AWS calls for the whole session, check them last.

Recording starts before any test (and so before any client exists); the
check, ``tests/test_app_aws_calls.py``, is marked ``after_all`` and moved to
the end of the run, after the e2e stack has served its requests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.support import aws_calls

CANARY = {"Bucket": "aws-calls-recorder-canary", "Key": "canary"}
_LOG = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_all: run after every other test")
    log = Path(tempfile.mkdtemp(prefix="aws-calls-")) / "calls.jsonl"
    config.stash[_LOG] = log
    aws_calls.enable(log)
    # A presigned URL goes through the same hook as every call, offline:
    # proof that recording is live, so an empty record cannot pass silently.
    import boto3

    boto3.session.Session(aws_access_key_id="canary", aws_secret_access_key="canary",
                          region_name="us-east-1").client("s3").generate_presigned_url(
        "get_object", Params=CANARY)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture(scope="session")
def aws_calls_log(request: pytest.FixtureRequest) -> Path:
    """The JSON-lines file every recorded AWS call of this session went to."""
    return request.config.stash[_LOG]

