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

from stack.emulator import LOCAL_CREDENTIALS, free_port, wait_for_port
from tests.support.log_audit import register_stack_log

PROJECT_DIR = Path(__file__).resolve().parents[2]
CALLBACK_SECRET_PARAMETER = "/chalice-ref-dev/callback-secret"


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
    # Records as AWS gets them, so that the log audit checks each one's EMF.
    environment["LOG_FORMAT"] = "json"
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
    register_stack_log(log_path, stack_secrets(stack, environment))
    return stack


def stack_secrets(stack: LocalStack, environment: dict[str, str]) -> tuple[str, ...]:
    """What must never appear in the stack's log: its callback secret and AWS secret key.

    The emulator's default secret key is also its access key id, which logs
    may name; a stack started with a secret key of its own has it checked.
    """
    from tests.support.uploads import callback_secret

    secrets = [callback_secret(stack.aws_endpoint, CALLBACK_SECRET_PARAMETER).decode()]
    secret_key = environment.get("AWS_SECRET_ACCESS_KEY")
    if secret_key and secret_key != LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        secrets.append(secret_key)
    return tuple(secrets)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = start_local_stack(tmp_path_factory.mktemp("stack") / "stack.log")
    yield stack
    stack.stop()
