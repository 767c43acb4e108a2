"""The browser tests drive Debian's Chromium through Playwright (never a downloaded browser). Without
/usr/bin/chromium they are skipped, saying how to get it; `.ci/run` installs it where it can.

Each test gets a fresh page; `shot(page, name)` saves a screenshot under test-artifacts/screenshots/ (the CI keeps
that directory as the run's artifacts)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.server import REPO

CHROMIUM = os.environ.get("CRMCTL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("CRMCTL_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium here: `apt-get install chromium` (Debian) to run the browser tests; .ci/run does")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


@pytest.fixture
def shot() -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(target), full_page=True)
        return target

    return take
