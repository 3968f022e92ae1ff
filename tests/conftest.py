"""Fixtures shared by every layer: the emulator and the stage as tests see it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.emulator import LOCAL_CREDENTIALS, LOCAL_REGION, Emulator

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Records every AWS call made during the run; tests/test_app_aws_calls.py
# checks the app's calls against the generated IAM policy, last.
# Keeps every app log line of the run; tests/test_log_audit.py audits them, last.
pytest_plugins = ("tests.support.policy_check", "tests.support.log_audit")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One moto server on a free loopback port for the whole session."""
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    with Emulator() as server:
        # The dev stage reads the emulator's port from the shell, as with
        # `AWS_PORT=... chalice local`; config.json does not fix it.
        os.environ["AWS_PORT"] = str(server.port)
        yield server


@pytest.fixture(scope="session")
def stage_environment(emulator: Emulator) -> dict[str, str]:
    """The dev stage's environment pointed at this session's emulator."""
    from stack.run import local_environment, provision_local, stage_config

    environment = stage_config("dev", local_environment(emulator.endpoint_url)
                               ).environment_variables
    provision_local(environment)
    return environment


@pytest.fixture(scope="session")
def project_dir(tmp_path_factory: pytest.TempPathFactory,
                stage_environment: dict[str, str]) -> Path:
    """A copy of the project's Chalice config (the dev stage finds the emulator
    through AWS_PORT, set by the emulator fixture)."""
    root = tmp_path_factory.mktemp("project")
    (root / ".chalice").mkdir()
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    return root


def _enter_dev_stage() -> None:
    # app.py reads its stage's variables at import (the queue its handler
    # polls), as Lambda and `chalice local` provide them: the test process is
    # the dev stage.  Its endpoint and credentials come from the emulator fixture.
    from tests.support.stage import dev_stage_settings

    for name, value in dev_stage_settings().items():
        os.environ.setdefault(name, value)


_enter_dev_stage()
