"""The widget in a real marimo app (notebooks/marimo_app.py under `marimo run`, headless on
loopback): it draws, a layer chosen in the view re-runs the Python cell that reads it, and
a trait set from Python redraws the view.

marimo puts each anywidget in an open shadow root (`<marimo-anywidget>`), so
`document.querySelector('.aw-root')` finds nothing: Playwright's locators pierce open
shadow roots and are used throughout."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import CHROMIUM, REPO
from lab_server import free_port, stop_server, wait_until_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = REPO / "notebooks" / "marimo_app.py"


@pytest.fixture
def marimo_app(tmp_path):
    """`marimo run notebooks/marimo_app.py` on 127.0.0.1 at a free port; its URL."""
    pytest.importorskip("marimo", reason="marimo is not installed (pip install attnwidget[test])")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (scripts install it in CI)")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MARIMO_SKIP_UPDATE_CHECK": "1",
    }
    log_path = tmp_path / "marimo.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marimo",
                "run",
                str(APP),
                "--headless",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-token",
                "--no-sandbox",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, f"{url}/health", log_path, "marimo", 60)
        yield url
    finally:
        stop_server(proc, 20)


def draws(root) -> int:
    return int(root.get_attribute("data-draws") or 0)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_widget_renders_and_syncs_in_a_marimo_app(page, marimo_app):
    # Stay offline: only the local server may be reached.
    asked: list[str] = []

    def local_only(route):
        asked.append(route.request.url)
        if route.request.url.startswith(marimo_app):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", local_only)
    page.goto(marimo_app + "/")
    root = page.locator(".aw-root")
    root.wait_for(state="attached", timeout=240_000)  # the cell loads MiniLM and spaCy
    wait_for(lambda: draws(root) > 0, 60, "the first drawing")

    # Drawn: a canvas of the head view, the tokens as text, the status line.
    assert page.locator(".aw-root .aw-view:not([hidden]) canvas").first.is_visible()
    tokens = page.locator(".aw-root ol.aw-tokens li").all_text_contents()
    assert tokens[:3] == ["[CLS]", "The", "keys"] and "missing" in tokens
    assert "all-MiniLM-L6-v2" in page.locator(".aw-root .aw-status").inner_text()
    assert not page.evaluate("() => document.querySelector('.aw-root')")  # it is in a shadow root
    wait_for(lambda: root.get_attribute("data-decoder") == "worker", 10, "the decode worker")  # inside marimo too

    # The page to Python: a layer chosen in the view re-runs the cell that reads widget.value.
    page.get_by_text("selected layer: 0").wait_for(timeout=30_000)
    page.locator(".aw-root select.aw-layer").select_option("3")
    page.get_by_text("selected layer: 3").wait_for(timeout=30_000)

    # Python to the page: a cell sets attention.layer; the view redraws at the last layer.
    before = draws(root)
    page.get_by_role("button", name="show the last layer").click()
    wait_for(lambda: root.get_attribute("data-layer") == "5" and draws(root) > before, 30, "layer 5 in the view")
    assert page.locator(".aw-root select.aw-layer").input_value() == "5"
    # (marimo re-runs cells that read widget.value on changes made in the page, not on a
    # trait set from Python: the text above stays at layer 3.)

    assert page.errors == []
    assert all(u.startswith((marimo_app, "data:", "blob:")) for u in asked), asked
