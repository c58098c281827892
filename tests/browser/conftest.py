"""Real-browser fixtures: Debian's Chromium driven by Playwright (it cannot download its
own browser here), and a JupyterLab server started for the test and killed after it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab_server import running_lab

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts install it in CI)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    # bypass_csp: the exported page forbids eval, which Playwright's wait_for_function(str) uses
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True, bypass_csp=True)
    pg = context.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


@pytest.fixture
def jupyter_lab(tmp_path):
    """JupyterLab on 127.0.0.1 at a random free port, token auth, temporary root dir."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts install it in CI)")
    if shutil.which("jupyter") is None:
        pytest.skip("jupyter is not installed")
    (tmp_path / "root").mkdir()
    shutil.copy(REPO / "notebooks" / "widget_e2e.ipynb", tmp_path / "root")
    with running_lab(tmp_path) as server:
        yield server
