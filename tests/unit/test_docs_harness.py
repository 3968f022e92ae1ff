"""The docs harness itself: it must notice a wrong output, and only a wrong one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.docs import (
    add_output_block,
    collect_blocks,
    difference,
    parse_transcript,
    rendered_output,
    rewrite_block,
    shell_script,
    split_outputs,
    transcript_lines,
    translate,
)

PAGE = """# A page

```console
$ echo one \\
    two
one two
$ true
```

<!-- docs: deployed-only: needs a real stage -->
```console
$ aws s3 ls
```

<!-- docs: not-run:   -->
```sh
$ make run
```

```
no language
```

```python
print(2)
```
<!-- docs: output -->
```text
2
```

- a list item:

  ```console
  $ echo indented
  indented
  ```
"""


@pytest.fixture
def page(tmp_path: Path) -> Path:
    path = tmp_path / "page.md"
    path.write_text(PAGE)
    return path


def test_blocks_are_found_with_their_markers_and_outputs(page: Path) -> None:
    blocks = collect_blocks(page)

    assert [block.language for block in blocks] == [
        "console", "console", "sh", "", "python", "text", "console"]
    assert [block.runnable for block in blocks] == [
        True, False, False, False, True, False, True]
    assert blocks[1].reason == "needs a real stage"
    assert blocks[4].output is blocks[5]
    assert blocks[6].lines == ["$ echo indented", "indented"]


def test_blocks_that_break_the_conventions_say_why(page: Path) -> None:
    problems = [block.problem() for block in collect_blocks(page)]

    assert problems[0] is None and problems[1] is None and problems[4] is None
    assert "without a reason" in problems[2]
    assert "no language" in problems[3]


def test_a_transcript_without_commands_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("```sh\nmake run   # starts the stack\n```\n")

    assert "before its first '$ ' command" in collect_blocks(path)[0].problem()


def test_commands_continue_over_backslashes_and_keep_their_output() -> None:
    commands = parse_transcript(["$ echo a \\", "  b", "a b", "$ true"])

    assert [command.text for command in commands] == ["echo a \\\n  b", "true"]
    assert [command.expected for command in commands] == [["a b"], []]


def test_a_script_keeps_each_commands_output_apart() -> None:
    commands = parse_transcript(["$ X=1", "$ printf 'no newline'", "$ echo $X; echo err >&2"])
    marker = "@@test-marker@"
    printed = subprocess.run(["bash", "-c", shell_script(commands, marker)],
                             capture_output=True, text=True, check=True).stdout

    assert split_outputs(printed, marker, 3) == ["", "no newline", "1\nerr\n"]


@pytest.mark.parametrize("shown, printed", [
    ('{"id": "3f0c8a52-0d1e-4c57-9a43-2b1f0e9d7c11", "n": 1}',
     '{"n":1,"id":"8d3c1e55-7a40-4a36-b6ad-3e1bc2b1f0aa"}'),
    ('{"created_at": "2026-01-01T00:00:00.000001Z", "expires_at": 1795290188}',
     '{"created_at": "2027-05-03T10:11:12.123456Z", "expires_at": 1795299999}'),
    ('{\n  "score": 0.912345\n}', '{"score": 0.9123451}'),
    ("took 12.5 ms", "took 3 ms"),
    ("http://127.0.0.1:5050/b/k?X-Amz-Signature=" + "a" * 64,
     "http://127.0.0.1:5050/b/k?X-Amz-Signature=" + "b" * 64),
])
def test_volatile_parts_do_not_count(shown: str, printed: str) -> None:
    assert difference(shown, printed) is None


@pytest.mark.parametrize("shown, printed", [
    ('{"label": "tabby"}', '{"label": "3"}'),
    ('{"score": 0.91}', '{"score": 0.95}'),
    ('{"nobs": 2}', '{"nobs": 2, "mean": 5.5}'),
    ("ok", "ok\nand more"),
    ("", "something"),
    ('{"n": 1}', '{"n": true}'),
])
def test_real_differences_are_reported(shown: str, printed: str) -> None:
    diff = difference(shown, printed)

    assert diff is not None and "printed by a real run" in diff


def test_ports_move_both_ways() -> None:
    ports = {8000: 41234, 5050: 41235}
    text = "curl http://127.0.0.1:8000/x and 127.0.0.1:5050, not 127.0.0.1:9999"

    moved = translate(text, ports)

    assert moved == "curl http://127.0.0.1:41234/x and 127.0.0.1:41235, not 127.0.0.1:9999"
    assert translate(moved, {live: shown for shown, live in ports.items()}) == text


def test_update_mode_rewrites_only_the_output_in_the_pages_style(page: Path) -> None:
    block = collect_blocks(page)[6]
    commands = parse_transcript(block.lines)

    rewrite_block(block, transcript_lines(commands, [["changed"]]))

    text = page.read_text()
    assert "  $ echo indented\n  changed\n  ```" in text
    assert text.replace("  changed\n", "  indented\n") == PAGE
    assert rendered_output('{\n  "a": 1\n}', '{"a": 2}') == ['{"a": 2}']
    assert rendered_output('{\n  "a": 1\n}', '{"a": [1, 2], "b": "%s"}' % ("x" * 90)) == [
        "{", '  "a": [1, 2],', f'  "b": "{"x" * 90}"', "}"]
    assert rendered_output('{"a": 1}', '{"a": 2}') == ['{"a": 2}']


def test_update_mode_gives_a_python_block_its_output(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("Text.\n\n```python\nprint(3)\n```\n\nMore text.\n")
    block = collect_blocks(path)[0]

    add_output_block(block, ["3"])

    assert path.read_text() == ("Text.\n\n```python\nprint(3)\n```\n<!-- docs: output -->\n"
                                "```text\n3\n```\n\nMore text.\n")
    assert collect_blocks(path)[0].output is not None
