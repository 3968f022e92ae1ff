"""The documentation's code blocks as data: find them, run them, compare, rewrite.

Conventions every page follows (docs/maintaining.md explains them to writers):

* ```console (or sh/shell/bash) blocks are transcripts: a line starting with
  ``$ `` is a command (a line ending in ``\\`` continues it), the lines after
  it are the output it printed.  The commands run with bash in the project's
  root; the variables a page's commands set carry over to its next blocks.
* ```python blocks run with the project's interpreter in the project's root;
  their output, if any, is the ```text block right after, preceded by
  ``<!-- docs: output -->``.
* A runnable block preceded by ``<!-- docs: deployed-only: <reason> -->`` is
  not run (it needs a deployed AWS stage), nor one preceded by
  ``<!-- docs: not-run: <reason> -->`` (it cannot finish inside the suite:
  a server, the suite itself); the reason is required.
* Other languages (json, text, yaml, ...) are not run.  A block with no
  language at all is an error: the reader cannot tell whether it runs.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHELL_LANGUAGES = frozenset({"console", "sh", "shell", "bash"})
RUNNABLE_LANGUAGES = SHELL_LANGUAGES | {"python"}
SKIP_MARKERS = ("deployed-only", "not-run")

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)[^`]*$")
_MARKER = re.compile(r"^\s*<!--\s*docs:\s*(?P<kind>[a-z-]+)\s*(?::(?P<reason>.*?))?\s*-->\s*$")
PROMPT = "$ "
# The addresses the pages use: make run's defaults and the callback receiver's.
API_PORT, EMULATOR_PORT, RECEIVER_PORT = 8000, 5050, 9000
PAGE_WIDTH = 100


@dataclass
class Block:
    """One fenced code block of a page."""

    path: Path
    ordinal: int  # the n-th fenced block of its page
    line: int  # 1-based line of the opening fence
    language: str
    lines: list[str]  # the content, without the fence's own indentation
    marker: str | None = None
    reason: str = ""
    output: Block | None = None  # python: the expected output block

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE_LANGUAGES and self.marker not in SKIP_MARKERS

    def problem(self) -> str | None:
        """Why this block breaks the conventions, or None."""
        if not self.language:
            return "has no language: use console or python to run it, text or json if not"
        if self.marker in SKIP_MARKERS and not self.reason.strip():
            return f"is marked {self.marker} without a reason"
        if self.marker in SKIP_MARKERS and self.language not in RUNNABLE_LANGUAGES:
            return f"is marked {self.marker} but is {self.language}, which never runs"
        if self.marker is not None and self.marker not in (*SKIP_MARKERS, "output"):
            return f"has an unknown marker 'docs: {self.marker}'"
        if self.runnable and self.language in SHELL_LANGUAGES:
            try:
                commands = parse_transcript(self.lines)
            except ValueError as error:
                return str(error)
            if not commands:
                return ("has no command: start commands with '$ ', or mark it "
                        "deployed-only / not-run with a reason, or make it text")
        return None


@dataclass
class Command:
    """A command of a transcript and the output shown under it."""

    text: str
    expected: list[str] = field(default_factory=list)


def collect_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown page, with its marker."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        body = [_dedent(line, indent) for line in lines[index + 1:end]]
        block = Block(path, len(blocks), index + 1, opening["info"].lower(), body)
        marker = _marker_before(lines, index)
        if marker:
            block.marker, block.reason = marker["kind"], (marker["reason"] or "").strip()
        blocks.append(block)
        index = end + 1
    for previous, block in itertools.pairwise(blocks):
        if block.marker == "output" and previous.language == "python":
            previous.output = block
    return blocks


def parse_transcript(lines: list[str]) -> list[Command]:
    """The commands of a console block; raises ValueError on text before the first."""
    commands: list[Command] = []
    continuing = False
    for line in lines:
        if continuing:
            commands[-1].text += "\n" + line
            continuing = line.endswith("\\")
        elif line.startswith(PROMPT) or line == "$":
            commands.append(Command(line[len(PROMPT):]))
            continuing = line.endswith("\\")
        elif commands:
            commands[-1].expected.append(line)
        elif line.strip():
            raise ValueError(f"has output before its first '$ ' command: {line!r}")
    return commands


def assigned_variables(path: Path) -> set[str]:
    """The shell variables the commands of a page set (``NAME=...`` at a command's start)."""
    names: set[str] = set()
    for block in collect_blocks(path):
        if block.language in SHELL_LANGUAGES and block.problem() is None:
            for command in parse_transcript(block.lines):
                names.update(re.findall(r"^(?:export\s+)?([A-Za-z_]\w*)=", command.text))
    return names


def shell_script(commands: list[Command], marker: str) -> str:
    """One bash script running ``commands`` with ``marker`` lines between outputs."""
    parts = ["exec 2>&1"]
    for number, command in enumerate(commands):
        parts.append(f"printf '\\n{marker}{number}\\n'")
        parts.append(command.text)
    parts.append(f"printf '\\n{marker}end\\n'")
    return "\n".join(parts) + "\n"


def split_outputs(output: str, marker: str, count: int) -> list[str]:
    """The output of each command of a script made by shell_script."""
    pieces = re.split(rf"\n?{re.escape(marker)}(?:\d+|end)\n", output)
    outputs = pieces[1:count + 1]
    return outputs + [""] * (count - len(outputs))


# -- comparing ---------------------------------------------------------------

_VOLATILE = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"),
     "<timestamp>"),
    (re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"),
     "<http-date>"),
    (re.compile(r"\b\d{8}T\d{6}Z\b"), "<amz-date>"),
    (re.compile(r"\b\d{8}/[a-z0-9-]+/[a-z0-9-]+/aws4_request\b"), "<scope>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hex64>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex32>"),  # versions (ETag), request ids
    (re.compile(r"[A-Za-z0-9+/]{60,}={0,2}"), "<base64>"),
    (re.compile(r"\b1[6-9]\d{11}\b"), "<epoch-ms>"),
    (re.compile(r"\b1[6-9]\d{8}\b"), "<epoch>"),
    # The app's own log lines (chalicelib.observability): times and whether
    # the container was cold depend on the run.
    (re.compile(r'"(latency_ms|Latency|[a-z_]+_ms)":\s*[0-9.]+'), r'"\1":<ms>'),
    (re.compile(r'"cold_start":\s*(?:true|false)'), '"cold_start":<flag>'),
    (re.compile(r"\b\d+(?:\.\d+)? ?ms\b"), "<ms>"),
    (re.compile(r"\bPython/\d+\.\d+\.\d+"), "Python/<version>"),
)


def normalise_text(text: str) -> str:
    """``text`` with ids, timestamps, signatures and durations replaced by tags."""
    for pattern, tag in _VOLATILE:
        text = pattern.sub(tag, text)
    return text


def _normalise_value(value: Any) -> Any:
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and 1_600_000_000 <= value < 2_000_000_000:
        return "<epoch>"
    if isinstance(value, list):
        return [_normalise_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _normalise_value(item) for key, item in value.items()}
    return value


def _same_value(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return (isinstance(expected, (int, float)) and isinstance(actual, (int, float))
                and not isinstance(expected, bool) and not isinstance(actual, bool)
                and math.isclose(expected, actual, rel_tol=1e-4, abs_tol=1e-6))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same_value(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _same_value(expected[key], actual[key]) for key in expected)
    return type(expected) is type(actual) and expected == actual


def _as_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def _same_line(expected: str, actual: str) -> bool:
    if normalise_text(expected) == normalise_text(actual):
        return True
    expected_ok, expected_value = _as_json(expected)
    actual_ok, actual_value = _as_json(actual)
    return expected_ok and actual_ok and _same_value(
        _normalise_value(expected_value), _normalise_value(actual_value))


def _tidy(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def difference(expected: str, actual: str) -> str | None:
    """None when ``actual`` output matches the ``expected`` one, else a diff.

    Whole outputs that are JSON compare as values (key order and layout
    aside, floats within 1e-4); otherwise line by line, where a line that is
    JSON on both sides compares as a value.  Volatile parts compare as tags.
    """
    expected_lines, actual_lines = _tidy(expected), _tidy(actual)
    expected_ok, expected_value = _as_json("\n".join(expected_lines))
    actual_ok, actual_value = _as_json("\n".join(actual_lines))
    if expected_ok and actual_ok and expected_lines and actual_lines:
        if _same_value(_normalise_value(expected_value), _normalise_value(actual_value)):
            return None
    elif len(expected_lines) == len(actual_lines) and all(
            _same_line(e, a) for e, a in zip(expected_lines, actual_lines, strict=True)):
        return None
    return "\n".join(difflib.unified_diff(expected_lines, actual_lines, "shown in the docs",
                                          "printed by a real run", lineterm=""))


def rendered_output(expected: str, actual: str) -> list[str]:
    """``actual`` as the page should show it, in the style the page used.

    JSON shown or printed on several lines, or longer than a page line, is
    indented (pretty_json); anything else is written as printed.
    """
    actual_lines = _tidy(actual)
    expected_lines = _tidy(expected)
    actual_ok, actual_value = _as_json("\n".join(actual_lines))
    if actual_ok and (len(expected_lines) > 1 or len(actual_lines) > 1
                      or len(actual_lines[0]) > PAGE_WIDTH):
        return pretty_json(actual_value).splitlines()
    return actual_lines


def pretty_json(value: Any, level: int = 0) -> str:
    """JSON indented by two spaces, with any part that fits the page on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (list, dict)) or not value or len(flat) + 2 * level <= PAGE_WIDTH:
        return flat
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(key, ensure_ascii=False)}: {pretty_json(item, level + 1)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    items = [pad + pretty_json(item, level + 1) for item in value]
    return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"


# -- addresses ---------------------------------------------------------------

def translate(text: str, ports: Mapping[int, int]) -> str:
    """``text`` with every 127.0.0.1:<port> moved as ``ports`` says."""
    def move(match: re.Match[str]) -> str:
        port = int(match["port"])
        return f"{match['host']}:{ports.get(port, port)}"

    return re.sub(r"(?P<host>127\.0\.0\.1|localhost):(?P<port>\d+)\b", move, text)


# -- rewriting (update mode) ---------------------------------------------------

def rewrite_block(block: Block, new_lines: list[str]) -> None:
    """Replace the content of ``block`` in its page (found again by its ordinal)."""
    text = block.path.read_text(encoding="utf-8")
    lines = text.splitlines()
    current = collect_blocks(block.path)[block.ordinal]
    opening = _FENCE.match(lines[current.line - 1])
    assert opening is not None
    indent = opening["indent"]
    start, end = current.line, current.line + len(current.lines)
    lines[start:end] = [indent + line if line else line for line in new_lines]
    block.path.write_text("\n".join(lines) + ("\n" if text.endswith("\n") else ""),
                          encoding="utf-8")


def add_output_block(block: Block, output: list[str]) -> None:
    """Give a python block the output block it lacks, right after it."""
    lines = block.path.read_text(encoding="utf-8").splitlines(keepends=True)
    current = collect_blocks(block.path)[block.ordinal]
    opening = _FENCE.match(lines[current.line - 1].rstrip("\n"))
    assert opening is not None
    indent = opening["indent"]
    after = current.line + len(current.lines) + 1  # past the closing fence
    added = [f"{indent}<!-- docs: output -->", f"{indent}```text",
             *[indent + line if line else line for line in output], f"{indent}```"]
    lines[after:after] = [line + "\n" for line in added]
    block.path.write_text("".join(lines), encoding="utf-8")


def transcript_lines(commands: list[Command], outputs: list[list[str]]) -> list[str]:
    """A console block's content from its commands and their outputs."""
    lines: list[str] = []
    for command, output in zip(commands, outputs, strict=True):
        lines.append(PROMPT + command.text)
        lines.extend(output)
    return lines


# -- helpers -------------------------------------------------------------------

def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]})


def _dedent(line: str, indent: str) -> str:
    return line[len(indent):] if line.startswith(indent) else line.lstrip()


def _marker_before(lines: list[str], index: int) -> re.Match[str] | None:
    for line in reversed(lines[:index]):
        if line.strip():
            return _MARKER.match(line)
    return None


def pages(project_dir: Path) -> Iterator[Path]:
    """README.md and every page under docs/."""
    yield project_dir / "README.md"
    yield from sorted((project_dir / "docs").glob("**/*.md"))
