"""The real local stack (`python -m stack run`, what `make run` starts) in a
subprocess on free ports; tests talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.emulator import free_port, wait_for_port

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class LocalStack:
    process: subprocess.Popen
    base_url: str
    aws_endpoint: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0, signum: int = signal.SIGINT) -> int:
        """Ctrl-C the stack, as a user would (or send ``signum``); returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_local_stack(log_path: Path, extra_env: dict[str, str] | None = None,
                      ignore_sigint: bool = False) -> LocalStack:
    """`python -m stack run` on free ports; ``ignore_sigint`` starts it the way
    nohup or a background job would, with SIGINT ignored."""
    port, aws_port = free_port(), free_port()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("AWS_")}
    environment.update(extra_env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stack", "run", "--port", str(port),
             "--aws-port", str(aws_port)],
            cwd=PROJECT_DIR, stdout=log, stderr=subprocess.STDOUT, env=environment,
            preexec_fn=_ignore_sigint if ignore_sigint else None)
    stack = LocalStack(process, f"http://127.0.0.1:{port}",
                       f"http://127.0.0.1:{aws_port}", log_path)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
    except TimeoutError:
        stack.stop()
        raise RuntimeError(f"the local stack did not start:\n{stack.log()}") from None
    return stack


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = start_local_stack(tmp_path_factory.mktemp("stack") / "stack.log")
    yield stack
    stack.stop()
