"""Every runnable example of README.md and docs/ runs against the local stack,
and prints what the page shows.

The pages talk to make run's default addresses: the API at 127.0.0.1:8000,
the emulator at 127.0.0.1:5050, and the example callback receiver
(examples/callback_receiver.py) at 127.0.0.1:9000.  The suite starts all three
on free ports and moves the addresses both ways.  The commands run in the
project's root, in a shell without the suite's AWS variables; the variables a
page's commands set are there for its next blocks, as in a reader's terminal.

    DOCS_UPDATE=1 .venv/bin/python -m pytest tests/e2e/test_docs_examples.py

rewrites every shown output from a real run (`make docs` does the same):
review the diff, then commit it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.emulator import free_port, wait_for_port
from tests.e2e.conftest import LocalStack
from tests.support.docs import (
    API_PORT,
    EMULATOR_PORT,
    RECEIVER_PORT,
    SHELL_LANGUAGES,
    Block,
    add_output_block,
    assigned_variables,
    collect_blocks,
    difference,
    pages,
    parse_transcript,
    rendered_output,
    rewrite_block,
    shell_script,
    split_outputs,
    transcript_lines,
    translate,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 60
UPDATING = os.environ.get("DOCS_UPDATE") == "1"

BLOCKS = [block for page in pages(PROJECT_DIR) for block in collect_blocks(page)
          if block.problem() is None]
RUNNABLE = [block for block in BLOCKS if block.runnable]
# Servers the suite itself runs: a page showing how one starts shows its first lines.
SERVER_COMMANDS = ("make run", ".venv/bin/python examples/callback_receiver.py")
SERVERS = [block for block in BLOCKS
           if block.marker == "not-run" and block.language in SHELL_LANGUAGES
           and len(commands := parse_transcript(block.lines)) == 1
           and commands[0].text.startswith(SERVER_COMMANDS) and commands[0].expected]


@dataclass
class Receiver:
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def receiver(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Receiver]:
    """examples/callback_receiver.py, started as its docs say, on a free port."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("receiver") / "receiver.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "examples/callback_receiver.py", "--port", str(port),
             "--aws-endpoint", local_stack.aws_endpoint],
            cwd=PROJECT_DIR, env=_user_environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
    except TimeoutError:
        process.kill()
        raise RuntimeError(f"the receiver did not start:\n{log_path.read_text()}") from None
    yield Receiver(port, log_path)
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def ports(local_stack: LocalStack, receiver: Receiver) -> dict[int, int]:
    """The pages' ports and the live ones standing in for them."""
    return {API_PORT: _port_of(local_stack.base_url),
            EMULATOR_PORT: _port_of(local_stack.aws_endpoint),
            RECEIVER_PORT: receiver.port}


@pytest.fixture(scope="module")
def shell_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each page keeps the variables its commands set, for its next block."""
    return tmp_path_factory.mktemp("shell-state")


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda block: block.name)
def test_example_prints_what_the_page_shows(block: Block, ports: dict[int, int],
                                            shell_state: Path) -> None:
    _require_inputs(block)
    if block.language in SHELL_LANGUAGES:
        _check_transcript(block, ports, shell_state / f"{block.path.stem}.sh")
    else:
        _check_python(block, ports)


@pytest.mark.parametrize("block", SERVERS, ids=lambda block: block.name)
def test_a_server_prints_what_the_page_shows(block: Block, local_stack: LocalStack,
                                             receiver: Receiver, ports: dict[int, int]
                                             ) -> None:
    """The start-up lines shown under `make run` and the receiver are theirs:
    the suite runs both servers, so it compares the head of their logs."""
    command = parse_transcript(block.lines)[0]
    log = local_stack.log() if command.text.startswith("make run") else receiver.log()
    shown = "\n".join(command.expected)
    printed = "\n".join(_back(log, ports).splitlines()[:len(command.expected)])
    diff = difference(shown, printed)
    if diff is not None and UPDATING:
        rewrite_block(block, transcript_lines([command], [printed.splitlines()]))
        return
    assert diff is None, f"{block.name}:\n{diff}"


def _check_transcript(block: Block, ports: dict[int, int], state: Path) -> None:
    """Run the block as the next commands of its page's shell session."""
    commands = parse_transcript(block.lines)
    marker = f"@@docs-{uuid.uuid4().hex}@"
    names = " ".join(sorted(assigned_variables(block.path)))
    script = (f"[ -f {state} ] && . {state} 2>/dev/null\n"
              + translate(shell_script(commands, marker), ports)
              + (f"declare -p {names} > {state} 2>/dev/null\n" if names else ""))
    printed = _run(["bash", "-c", script], block, ports).stdout
    outputs = split_outputs(_back(printed, ports), marker, len(commands))
    failures = []
    for command, output in zip(commands, outputs, strict=True):
        diff = difference("\n".join(command.expected), output)
        if diff is not None:
            failures.append(f"$ {command.text}\n{diff}")
    if failures and UPDATING:
        rewrite_block(block, transcript_lines(commands, [
            rendered_output("\n".join(command.expected), output)
            for command, output in zip(commands, outputs, strict=True)]))
        return
    assert not failures, f"{block.name}:\n" + "\n\n".join(failures)


def _check_python(block: Block, ports: dict[int, int]) -> None:
    result = _run([sys.executable, "-c", translate("\n".join(block.lines), ports)], block,
                  ports)
    printed = _back(result.stdout, ports)
    shown = "\n".join(block.output.lines) if block.output else ""
    diff = difference(shown, printed)
    if diff is not None and UPDATING and result.returncode == 0:
        if block.output is None:
            add_output_block(block, rendered_output(shown, printed))
        else:
            rewrite_block(block.output, rendered_output(shown, printed))
        return
    assert result.returncode == 0, f"{block.name} failed:\n{printed}"
    assert diff is None, (
        f"{block.name}:\n{diff}" if block.output else
        f"{block.name} printed output the page does not show (add a ```text block "
        f"after it, preceded by <!-- docs: output -->):\n{printed}")


def _run(argv: list[str], block: Block, ports: dict[int, int]
         ) -> subprocess.CompletedProcess[str]:
    # make's targets and the dev stage's settings find the emulator through
    # AWS_PORT (5050 beside `make run`); here it is the suite's emulator.
    environment = {**_user_environment(), "AWS_PORT": str(ports[EMULATOR_PORT])}
    try:
        return subprocess.run(argv, cwd=PROJECT_DIR, env=environment,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"{block.name} did not finish in {BLOCK_TIMEOUT} s; it printed:\n"
                    f"{timeout.stdout!r}")


def _require_inputs(block: Block) -> None:
    text = "\n".join(block.lines)
    if re.search(r"\bjq\b", text) and shutil.which("jq") is None:
        pytest.fail(f"{block.name} uses jq, which is not installed: "
                    "`sudo apt-get install -y jq` (or `brew install jq`)")
    if "models/photos/" in text and not (PROJECT_DIR / "models" / "photos").is_dir():
        pytest.fail(f"{block.name} needs the photos of `make models` (models/photos/): "
                    "run `make models` first")


def _user_environment() -> dict[str, str]:
    """A shell as a user has it beside `make run`: no AWS variables of the suite."""
    # Nor make's own variables: under `make test`, a page's `make ...` would
    # run as a sub-make and print "Entering directory" lines a reader never sees.
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("AWS_", "DOCS_", "PYTEST_"))
                   and key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    environment["LC_ALL"] = "C.UTF-8"
    return environment


def _back(text: str, ports: dict[int, int]) -> str:
    return translate(text, {live: shown for shown, live in ports.items()})


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
