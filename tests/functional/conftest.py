from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib import wiring
from stack.gateway import IAMEnforcingClient
from stack.sigv4 import LocalCaller


@pytest.fixture
def client(project_dir: Path, stage_environment: dict[str, str]) -> Iterator[Client]:
    """chalice.test's client on the dev stage, backed by the session's emulator;
    AWS_IAM routes demand a SigV4 signature made with the stage's credentials,
    as API Gateway would."""
    from app import app

    wiring.reset()
    caller = LocalCaller.from_environ(stage_environment)
    with IAMEnforcingClient(app, caller, stage_name="dev",
                            project_dir=str(project_dir)) as test_client:
        yield test_client
    wiring.reset()
