"""The widget in Jupyter Notebook 7 (the `notebook` package's /notebooks/ page, served by
the same Jupyter server as JupyterLab): it renders, a layer chosen in the page reaches the
kernel, and a trait set in the kernel redraws the page."""

from __future__ import annotations

import pytest
from pagetools import canvas_digest
from test_jupyter_widget import run_widget_notebook, wait_for_kernel_value

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]


def test_widget_round_trip_in_notebook_7(page, jupyter_lab):
    pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install attnwidget[test])")
    # Notebook 7.6's own core throws once while it loads its settings ("reading 'schema'",
    # from static/notebook/notebook_core.*.js, not the widget's code): count the rest.
    ours: list[str] = []
    page.on("pageerror", lambda e: None if "/static/notebook/" in (e.stack or "") else ours.append(e.stack))
    lab = jupyter_lab
    run_widget_notebook(page, lab, "/notebooks/widget_e2e.ipynb")
    assert "/notebooks/" in page.url  # Notebook 7's single-document page, not JupyterLab
    assert page.is_visible(".aw-legend")

    kc = lab.kernel_client()
    try:
        # The page to the kernel: a layer chosen in the widget.
        page.select_option(".aw-root select.aw-layer", "3")
        wait_for_kernel_value(page, kc, "w.layer", "3")
        # The kernel to the page: traits set in Python redraw the view.
        before = canvas_digest(page)
        kc.execute_interactive("w.heads = [0, 3]; w.layer = 4", timeout=60)
        page.wait_for_function("() => document.querySelector('.aw-root').dataset.layer === '4'", timeout=20_000)
        page.wait_for_function("() => document.querySelector('.aw-status').textContent.includes('2/12 heads')")
        assert canvas_digest(page) != before
    finally:
        kc.stop_channels()
    assert ours == []
