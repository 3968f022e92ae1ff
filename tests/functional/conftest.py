from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib import wiring


@pytest.fixture
def client(project_dir: Path) -> Iterator[Client]:
    """chalice.test's client on the dev stage, backed by the session's emulator."""
    from app import app

    wiring.reset()
    with Client(app, stage_name="dev", project_dir=str(project_dir)) as test_client:
        yield test_client
    wiring.reset()
