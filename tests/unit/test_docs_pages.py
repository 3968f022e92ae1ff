"""The pages themselves: every block runs or says why, links resolve, named
files exist, and the settings they quote are the configuration's."""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.docs import (
    API_PORT,
    EMULATOR_PORT,
    RECEIVER_PORT,
    RUNNABLE_LANGUAGES,
    SHELL_LANGUAGES,
    collect_blocks,
    pages,
    parse_transcript,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
PAGES = list(pages(PROJECT_DIR))
# Written on other branches at the same time as these pages; linked from here.
# Once every branch is merged each exists, and this list can go.
# Made by make targets, never committed: a page may name them.
GENERATED = ("build/", "vendor/", ".venv/", "test-artifacts/", ".chalice/deployed/",
             "bench/results.json")
DATA_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                 ".onnx", ".json", ".yaml", ".yml", ".py", ".md"}
MAINTAINING_TASKS = ("add a route", "add a resource", "add a model", "add a setting",
                     "add an aws call", "add a dependency", "layout")


def _page_id(page: Path) -> str:
    return str(page.relative_to(PROJECT_DIR))


def test_readme_is_a_front_page() -> None:
    lines = (PROJECT_DIR / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


def test_maintaining_answers_each_change() -> None:
    text = (PROJECT_DIR / "docs" / "maintaining.md").read_text(encoding="utf-8").lower()
    missing = [task for task in MAINTAINING_TASKS if task not in text]
    assert not missing, f"docs/maintaining.md does not say how to: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_block_runs_or_says_why(page: Path) -> None:
    problems = [f"{block.name} {problem}" for block in collect_blocks(page)
                if (problem := block.problem())]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_blocks_that_are_not_run_still_parse(page: Path) -> None:
    broken = []
    for block in collect_blocks(page):
        if block.runnable or block.problem() or block.language not in RUNNABLE_LANGUAGES:
            continue
        if block.language == "python":
            try:
                compile("\n".join(block.lines), block.name, "exec")
            except SyntaxError as error:
                broken.append(f"{block.name}: {error}")
            continue
        script = "\n".join(command.text for command in parse_transcript(block.lines))
        # <api-id>, <your-bucket>: placeholders the reader replaces, not redirections.
        script = re.sub(r"<[\w.-]+>", "PLACEHOLDER", script)
        checked = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
        if checked.returncode != 0:
            broken.append(f"{block.name}: {checked.stderr.strip()}")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_links_resolve(page: Path) -> None:
    text = _without_code(page.read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        relative = _relative(linked)
        if not linked.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {relative}")
    assert not broken, f"{_page_id(page)}:\n" + "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_named_files_exist(page: Path) -> None:
    missing = sorted({name for name in _named_files(page)
                      if not (PROJECT_DIR / name).exists()})
    assert not missing, (f"{_page_id(page)} names files that do not exist: {missing}"
                         " (models/ comes from `make models`)")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_quoted_settings_are_the_configuration(page: Path) -> None:
    stages = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    values = _setting_values(stages)
    text = page.read_text(encoding="utf-8")
    wrong = []
    for match in _QUOTED_SETTING.finditer(text):
        name = match["name"] or match["name2"]
        quoted = _in_base_units(match["number"] or match["number2"], match["unit"])
        if name in values and not any(_same(quoted, value) for value in values[name]):
            wrong.append(f"{match[0]!r}: the configuration says {values[name]}")
    for row in _stage_table_rows(text):
        names, by_stage = row
        for stage, cell in by_stage.items():
            cells = [part.strip().strip("`") for part in cell.split(",")]
            if len(cells) != len(names):
                continue
            for name, shown in zip(names, cells, strict=True):
                actual = _stage_value(stages, stage, name)
                if actual is not None and "[" not in shown and not _same(shown, actual):
                    wrong.append(f"{name} in {stage}: shown {shown}, configured {actual}")
    assert not wrong, f"{_page_id(page)}:\n" + "\n".join(wrong)


def test_the_pages_ports_are_the_tools_defaults() -> None:
    from examples import callback_receiver

    makefile = (PROJECT_DIR / "Makefile").read_text()
    defaults = dict(re.findall(r"^(PORT|AWS_PORT)\s*\?=\s*(\d+)\s*$", makefile, flags=re.M))
    assert defaults == {"PORT": str(API_PORT), "AWS_PORT": str(EMULATOR_PORT)}
    assert callback_receiver.LOCAL_ENDPOINT == f"http://127.0.0.1:{EMULATOR_PORT}"
    assert callback_receiver.LOCAL_PORT == RECEIVER_PORT


def test_benchmark_table_quotes_the_benchmarks_goals() -> None:
    goals = _bench_goals(PROJECT_DIR / "bench" / "run.py")
    wrong = []
    text = (PROJECT_DIR / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name, value, goal, met in re.findall(
            r"^\|\s*`(\w+)`\s*\|\s*([\d.]+)\s*\|[^|]*\|\s*([^|]+?)\s*\|\s*(\S+)\s*\|\s*$",
            text, flags=re.M):
        shown = re.sub(r"\s*\(.*\)$", "", goal).replace("≤", "<=").replace("≥", ">=")
        if name in goals and shown != goals[name]:
            wrong.append(f"{name}: the page says {goal}, bench/run.py {goals[name]}")
        operator, _, bound = shown.partition(" ")
        if operator in ("<=", ">=") and bound:
            holds = float(value) <= float(bound) if operator == "<=" else (
                float(value) >= float(bound))
            if met != ("yes" if holds else "no"):
                wrong.append(f"{name}: {value} {shown} is {holds}, the page says {met}")
    assert not wrong, "\n".join(wrong)


# -- helpers ---------------------------------------------------------------------

def _bench_goals(source: Path) -> dict[str, str]:
    """Each benchmark row's goal, where bench/run.py writes name and goal literally."""
    goals = {}
    for node in ast.walk(ast.parse(source.read_text())):
        if not isinstance(node, ast.Call):
            continue
        literals = [arg.value for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        names = [text for text in literals if re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)+", text)]
        targets = [text for text in literals if re.fullmatch(r"(?:<=|>=) [\d.]+|report", text)]
        if len(names) == 1 and len(targets) == 1:
            goals[names[0]] = targets[0]
    return goals


# `NAME` (16), `NAME` (4.4 MB), `NAME` is 900 s, `NAME=3`: a setting and its value.
_QUOTED_SETTING = re.compile(
    r"`(?P<name>[A-Za-z_][A-Za-z0-9_]*)`\s*(?:\(|is\s+|=)\s*(?P<number>-?\d[\d,_]*(?:\.\d+)?)"
    r"(?:\s*(?P<unit>KB|MB|GB|KiB|MiB|GiB|s|seconds|bytes)\b)?"
    r"|`(?P<name2>[A-Za-z_][A-Za-z0-9_]*)=(?P<number2>-?\d[\d_]*(?:\.\d+)?)`")
_UNITS = {None: 1, "s": 1, "seconds": 1, "bytes": 1, "KB": 10**3, "MB": 10**6,
          "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def _in_base_units(number: str, unit: str | None) -> str:
    value = float(number.replace(",", "").replace("_", "")) * _UNITS[unit]
    return str(int(value)) if value == int(value) else str(value)


def _without_code(text: str) -> str:
    text = re.sub(r"^\s*(```|~~~).*?^\s*\1\s*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_DIR))
    except ValueError:
        return str(path)


def _anchors(page: Path) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*$", page.read_text(encoding="utf-8"),
                              flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _named_files(page: Path) -> set[str]:
    names: set[str] = set()
    text = page.read_text(encoding="utf-8")
    for span in re.findall(r"`([^`\s]+)`", _without_fences(text)):
        # Prose may name paths inside other things (a package, a bucket) under
        # models/; examples may not, so only examples are held to models/.
        if _looks_like_repo_path(span) and not span.startswith("models/"):
            names.add(span.rstrip("/") or span)
    for block in collect_blocks(page):
        if block.language in SHELL_LANGUAGES:
            try:
                commands = parse_transcript(block.lines)
            except ValueError:
                continue
            words = []
            for command in commands:
                try:
                    words += shlex.split(command.text.replace("\\\n", " "), comments=True)
                except ValueError:
                    words += command.text.split()
            pieces = [piece for word in words for piece in word.split()]
            names |= {piece for piece in map(_argument_path, pieces) if piece}
        elif block.language in RUNNABLE_LANGUAGES:
            literals = re.findall(r"""["']([^"'\s]+)["']""", "\n".join(block.lines))
            names |= {word for word in map(_argument_path, literals) if word}
    return {name for name in names if not f"{name}/".startswith(GENERATED)}


def _without_fences(text: str) -> str:
    return re.sub(r"^\s*(```|~~~).*?^\s*\1\s*$", "", text, flags=re.S | re.M)


def _argument_path(word: str) -> str | None:
    candidate = re.split(r"=@|@|=", word)[-1]
    if not candidate or re.search(r"[<>*{}$…|]|\.\.\.", candidate) or "://" in candidate:
        return None
    if _looks_like_repo_path(candidate):
        return candidate.rstrip("/")
    if "/" not in candidate and Path(candidate).suffix.lower() in DATA_SUFFIXES:
        return candidate
    return None


def _looks_like_repo_path(span: str) -> bool:
    if "/" not in span or re.search(r"[<>*{}$…|:]|\.\.\.", span) or span.startswith("/"):
        return False
    first = span.split("/")[0]
    return (PROJECT_DIR / first).exists() or f"{first}/" in GENERATED or first == "models"


def _setting_values(config: dict) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    scopes = [config, *config.get("stages", {}).values()]
    for scope in scopes:
        for name, value in scope.get("environment_variables", {}).items():
            values.setdefault(name, []).append(str(value))
        for name, value in scope.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(name, []).append(str(value))
    return values


def _stage_value(config: dict, stage: str, name: str) -> str | None:
    settings = config.get("stages", {}).get(stage)
    if settings is None:
        return None
    variables = {**config.get("environment_variables", {}),
                 **settings.get("environment_variables", {})}
    if name in variables:
        return str(variables[name])
    value = settings.get(name, config.get(name))
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _stage_table_rows(text: str) -> list[tuple[list[str], dict[str, str]]]:
    """Rows of tables whose header is | variable | dev | prod | ...: names and cells."""
    rows = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = [cell.lower() for cell in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        if not header or header[0] not in ("variable", "setting"):
            continue
        names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0])
        by_stage = {stage: cells[index] for index, stage in enumerate(header)
                    if stage in ("dev", "prod") and index < len(cells)}
        if names and by_stage:
            rows.append((names, by_stage))
    return rows


def _same(shown: str, actual: str) -> bool:
    if shown == actual:
        return True
    try:
        return float(shown.replace("_", "")) == float(actual)
    except ValueError:
        return False
