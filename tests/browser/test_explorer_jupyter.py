"""The HeadExplorer in a real JupyterLab with a model in the kernel: a head clicked in the
page is seen by Python, an exemplar opens with attention computed by the kernel, another
layer of it is fetched on demand, its neuron view gets query/key vectors from the kernel,
and a metric set in Python changes the page."""

from __future__ import annotations

import json

import nbformat
import pytest

from lab_server import run_all_cells

pytestmark = [pytest.mark.browser, pytest.mark.jupyter, pytest.mark.slow]

SETUP = """import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
from attnwidget import HeadExplorer, OFFLINE_MODEL, analyze, load_model
model = load_model(OFFLINE_MODEL, device='cpu')
stats = analyze({corpus!r}, model=model, max_sentences=8, progress=False)
ex = HeadExplorer(stats, model=model)
ex"""


def kernel_value(kc, expression: str) -> str:
    reply = kc.execute_interactive("", user_expressions={"v": expression}, timeout=60)
    result = reply["content"]["user_expressions"]["v"]
    assert result["status"] == "ok", result
    return result["data"]["text/plain"]


def wait_kernel(page, kc, expression: str, expected: str):
    for _ in range(100):
        if kernel_value(kc, expression) == expected:
            return
        page.wait_for_timeout(100)
    assert kernel_value(kc, expression) == expected


@pytest.fixture
def own_workspace(tmp_path, monkeypatch):
    """A JupyterLab workspace of this test's own: the shared default one would reopen
    other tests' notebooks (and start their kernels) and remember this one for them."""
    monkeypatch.setenv("JUPYTERLAB_WORKSPACES_DIR", str(tmp_path / "workspaces"))


def test_explorer_round_trip_in_jupyterlab(own_workspace, page, jupyter_lab, ewt_path):
    lab = jupyter_lab
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP.format(corpus=str(ewt_path)))])
    nbformat.write(notebook, lab.root / "explorer_e2e.ipynb")
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab.url) else r.abort())
    run_all_cells(page, lab, "/lab/tree/explorer_e2e.ipynb")
    page.wait_for_selector(".ax-root[data-ready]", timeout=240_000)

    kc = lab.kernel_client()
    try:
        canvas = page.locator(".ax-grid").first
        box = canvas.bounding_box()
        d = canvas.evaluate("c => ({left: +c.dataset.left, top: +c.dataset.top, cell: +c.dataset.cell})")
        page.mouse.click(box["x"] + d["left"] + 4.5 * d["cell"], box["y"] + d["top"] + 1.5 * d["cell"])
        wait_kernel(page, kc, "(ex.layer, ex.head)", "(1, 4)")
        page.locator(".ax-exemplar").first.click()
        wait_kernel(page, kc, "ex.exemplar", "0")
        page.wait_for_selector(".ax-attention .aw-root[data-draws]", timeout=60_000)
        assert page.locator(".ax-attention .aw-root").get_attribute("data-layer") == "1"
        tokens = page.eval_on_selector_all(".ax-attention .aw-tokens li", "lis => lis.map(li => li.textContent)")
        expected = kernel_value(kc, "__import__('json').dumps(ex.selected_exemplars()[0]['tokens'])")
        assert expected == repr(json.dumps(tokens))

        # A layer that was not sent yet comes from the kernel.
        page.locator(".ax-attention select").first.select_option("4")
        page.wait_for_function(
            "() => document.querySelector('.ax-attention .aw-root').dataset.layer === '4'", timeout=60_000
        )

        # The neuron view reads query and key vectors the kernel captures for this sentence.
        page.click(".ax-attention .aw-tab[data-view='neuron']")
        page.wait_for_function(
            "() => document.querySelector('.ax-attention .aw-neuron-summary')?.textContent.startsWith('layer 4 · head 4')",
            timeout=60_000,
        )
        assert page.is_visible(".ax-attention .aw-neuron-canvas")
        assert page.is_hidden(".ax-attention .aw-neuron-note")

        # Python drives the page.
        kc.execute_interactive("ex.metric = 'pos_to'; ex.key = 'NOUN'", timeout=60)
        page.wait_for_function("() => document.querySelector('.ax-key').value === 'NOUN'", timeout=20_000)
        assert "Attention to NOUN" in page.locator(".ax-panel h3").first.text_content()
    finally:
        kc.stop_channels()
