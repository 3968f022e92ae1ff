"""pytest plugin: keep every log line the app writes during the run, audit them last.

In-process lines (functional tests) are copied, formatted exactly as in
AWS, to a file from before the first test; each local stack an e2e test
starts registers its console log and its secrets (see
``tests/e2e/conftest.py``).  ``tests/test_log_audit.py`` (``after_all``)
checks every EMF record against the specification and every line for secrets.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.observability.logs import JsonFormatter

APP_LOGGERS = ("chalicelib", "chalice-reference-api")
_IN_PROCESS = pytest.StashKey[Path]()


@dataclass(frozen=True)
class AuditedLog:
    path: Path
    secrets: tuple[str, ...]


_STACK_LOGS: list[AuditedLog] = []


def pytest_configure(config: pytest.Config) -> None:
    path = Path(tempfile.mkdtemp(prefix="app-log-")) / "in-process.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    for name in APP_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    config.stash[_IN_PROCESS] = path


def register_stack_log(path: Path, secrets: tuple[str, ...]) -> None:
    """Audit the console log at ``path`` at the end of the run, for ``secrets`` too."""
    _STACK_LOGS.append(AuditedLog(path, tuple(secret for secret in secrets if secret)))


def stack_logs() -> list[AuditedLog]:
    return list(_STACK_LOGS)


@pytest.fixture(scope="session")
def in_process_log(request: pytest.FixtureRequest) -> Path:
    """The file every in-process app log line of this session went to."""
    return request.config.stash[_IN_PROCESS]
