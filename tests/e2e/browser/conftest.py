"""Headless Chromium (Debian's package) driven by Playwright against the local stack.

Playwright cannot download its own browser offline, so the tests launch the
system's Chromium. Without it they fail with instructions: a browser test
that silently does not run would let the demo page break unnoticed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[3]
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MISSING_CHROMIUM = (
    f"The browser tests did not run: no Chromium at {CHROMIUM}.\n"
    "Install Debian's package (what .ci/run does):\n"
    "    sudo apt-get update && sudo apt-get install -y chromium\n"
    "or point CHROMIUM=/path/to/chromium at another Chromium build, then run "
    "`make test` again.")


@pytest.fixture(scope="session")
def chromium() -> Iterator:
    """The system Chromium, headless.

    Without one the browser tests do not run, and say so with instructions:
    in CI (``CI`` set, as .ci/run and GitHub set it) that is a failure, since
    CI installs Chromium first; on a developer's machine it is a skip that
    pytest's summary prints.
    """
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(MISSING_CHROMIUM, pytrace=False)
        pytest.skip(MISSING_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, local_stack, request) -> Iterator:
    """A fresh page on the local stack; its script errors land in ``page.script_errors``."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900},
                                   base_url=local_stack.base_url + "/")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.script_errors = errors
    yield tab
    context.close()


def save_screenshot(page, name: str) -> Path:
    """Keep what the page looked like under test-artifacts/ (git-ignored)."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
