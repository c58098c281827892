"""The widget in a real JupyterLab: it renders, a click in the page reaches the kernel,
and a trait set in the kernel changes the page."""

from __future__ import annotations

import pytest
from pagetools import canvas_digest, wait_drawn

from lab_server import run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]


def kernel_value(kc, expression: str) -> str:
    reply = kc.execute_interactive("", user_expressions={"v": expression}, timeout=60)
    result = reply["content"]["user_expressions"]["v"]
    assert result["status"] == "ok", result
    return result["data"]["text/plain"]


def wait_for_kernel_value(page, kc, expression: str, want: str, tries: int = 50) -> None:
    """Poll the kernel until `expression` reads `want` (a change made in the page reaches it)."""
    for _ in range(tries):
        if kernel_value(kc, expression) == want:
            return
        page.wait_for_timeout(100)
    assert kernel_value(kc, expression) == want


def run_widget_notebook(page, lab, path: str) -> None:
    """Open widget_e2e.ipynb at `path` (JupyterLab's or Notebook 7's page), run every cell
    from the Run menu, and wait until the widget has drawn; only the local server is reached."""
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab.url) else r.abort())
    run_all_cells(page, lab, path)

    wait_drawn(page, timeout=240_000)  # model + spaCy load in the kernel
    assert page.locator(".aw-root canvas").first.is_visible()
    # anywidget's ESM starts the decode worker from a Blob URL of its own text: layers inflate off the main thread
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.decoder === 'worker'", timeout=10_000)
    assert "all-MiniLM-L6-v2" in page.inner_text(".aw-status")


def test_widget_round_trip_in_jupyterlab(page, jupyter_lab):
    lab = jupyter_lab
    run_widget_notebook(page, lab, "/lab/tree/widget_e2e.ipynb")

    kc = lab.kernel_client()
    try:
        assert kernel_value(kc, "w.token") == "None"
        # Click a query token (row 3) in the head view: the kernel sees the locked token.
        box = page.locator(".aw-view:not([hidden]) canvas").bounding_box()
        page.mouse.click(box["x"] + 8 + 150 + 44 + 20, box["y"] + 8 + 18 * 3.5)
        wait_for_kernel_value(page, kc, "(w.token, w.token_role)", "(3, 'query')")

        # Set traits in the kernel: the page follows.
        before = canvas_digest(page)
        kc.execute_interactive("w.token = None; w.heads = [0, 3]; w.layer = 4", timeout=60)
        page.wait_for_function("() => document.querySelector('.aw-root').dataset.layer === '4'", timeout=20_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.aw-chip[data-head]')]"
            ".filter(c => c.getAttribute('aria-pressed') === 'true').map(c => c.dataset.head).join() === '0,3'"
        )
        assert canvas_digest(page) != before
        assert "2/12 heads" in page.inner_text(".aw-status")

        # A view change from the page reaches the kernel too.
        page.click(".aw-tab[data-view='model']")
        page.wait_for_function(
            "() => document.querySelector('.aw-status').textContent.includes('click a head')", timeout=20_000
        )
        assert kernel_value(kc, "w.view") == "'model'"

        # The neuron view asks the kernel for one head's query and key vectors; a layer
        # set in the kernel brings the vectors of that layer.
        page.click(".aw-tab[data-view='neuron']")
        summary = "document.querySelector('.aw-neuron-summary')?.textContent || ''"
        page.wait_for_function(f"() => ({summary}).startsWith('layer 4 · head')", timeout=120_000)
        assert page.is_visible(".aw-neuron-canvas")
        kc.execute_interactive("w.layer = 2", timeout=60)
        page.wait_for_function(f"() => ({summary}).startsWith('layer 2 · head')", timeout=60_000)
        assert kernel_value(kc, "w.view") == "'neuron'"

        # Running the widget's cell again closes the widget its last run made (JupyterLab
        # sends the cell's id with each run), so re-runs do not pile up copies in the kernel.
        kc.execute_interactive("old = w", timeout=60)
        page.locator(".jp-CodeCell .jp-InputArea-editor").nth(1).click()
        page.keyboard.press("Shift+Enter")
        for _ in range(300):
            if kernel_value(kc, "(old.closed, w is old)") == "(True, False)":
                break
            page.wait_for_timeout(200)
        assert kernel_value(kc, "(old.closed, w is old, w.closed)") == "(True, False, False)"
        assert kernel_value(kc, "old._kinds") == "{}"  # its attention is freed
    finally:
        kc.stop_channels()
