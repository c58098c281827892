"""A 2,048-token input in real Chromium, from its exported file: the matrix view zooms from
the whole matrix down to one cell whose value is what Python computes (to the
quantisation step), the head view scrolls to the last token, and a file exported within a
small budget says plainly what it lacks when zoomed past it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from pagetools import goto_offline, wait_drawn

from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.payload import dequantise_sqrt, quantise_sqrt

pytestmark = pytest.mark.browser

T = 2048
PLOT_LEFT, PLOT_TOP, PLOT = 120, 120, 640  # long_matrix_view.ts


def attention(layers=2, heads=4, n=T, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((layers, heads, n, n), np.float32)
    causal = np.triu(np.ones((n, n), bool), 1)
    for layer in range(layers):
        logits = rng.normal(size=(heads, n, n)).astype(np.float32) * 3
        logits[..., 0] += 3.0
        logits[:, causal] = -np.inf
        logits -= logits.max(-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(-1, keepdims=True)
        out[layer] = logits
    return out


@pytest.fixture(scope="module")
def weights():
    return attention()


@pytest.fixture(scope="module")
def files(weights, tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    tokens = [f"w{i}" for i in range(T)]
    w = AttentionWidget.from_attention(tokens, weights, model_name="long-test", view="matrix", heads=[1], layer=1)
    try:
        full = w.save_html(folder / "full.html")
        small = w.save_html(folder / "small.html", max_bytes=3_000_000)
    finally:
        w.close()
    return full, small


def open_file(page, path):
    goto_offline(page, path)
    wait_drawn(page, timeout=60_000)


def zoom_state(page) -> dict:
    return json.loads(page.eval_on_selector(".aw-root", "r => r.dataset.zoom || '{}'"))


def zoom_in_at(page, x: float, y: float, times: int):
    canvas = page.query_selector(".aw-long-matrix").bounding_box()
    page.mouse.move(canvas["x"] + x, canvas["y"] + y)
    for _ in range(times):
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)


def test_zoom_to_one_cell_shows_the_value_python_computes(page, files, weights):
    full, _ = files
    open_file(page, full)
    assert page.errors == []
    assert zoom_state(page)["tokensPerPx"] == pytest.approx(T / PLOT)
    size = page.evaluate("() => document.documentElement.outerHTML.length")
    assert size < 25_000_000
    x, y = PLOT_LEFT + 400, PLOT_TOP + 500  # the lower triangle
    zoom_in_at(page, x, y, 10)
    page.wait_for_function(
        "() => { const z = JSON.parse(document.querySelector('.aw-root').dataset.zoom); "
        "return z.r === 1 && z.missing === 0; }",
        timeout=30_000,
    )
    state = zoom_state(page)
    assert 1 / state["tokensPerPx"] >= 10  # cells of 10 px and more: labels are drawn
    assert state["notice"] == ""
    canvas = page.query_selector(".aw-long-matrix").bounding_box()
    page.mouse.move(canvas["x"] + x + 2, canvas["y"] + y + 2)
    page.wait_for_function("() => !document.querySelector('.aw-tooltip').hidden", timeout=10_000)
    text = page.inner_text(".aw-tooltip")
    m = re.match(r"query (\d+) \"w\d+\" → key (\d+) \"w\d+\": ([0-9.]+)$", text)
    assert m, text
    i, j, shown = int(m[1]), int(m[2]), float(m[3])
    assert j <= i
    want = float(dequantise_sqrt(quantise_sqrt(weights[1, 1, i, j])))  # what the file holds
    assert shown == pytest.approx(want, abs=1e-6)
    assert abs(shown - weights[1, 1, i, j]) <= 2 * np.sqrt(weights[1, 1, i, j]) / 255 + 1e-6
    assert "1 token per cell (exact)" in page.inner_text(".aw-status")


def test_head_view_scrolls_to_the_last_token(page, files):
    full, _ = files
    open_file(page, full)
    page.click(".aw-tab[data-view='head']")
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.rows", timeout=30_000)
    page.eval_on_selector(".aw-stage", "s => { s.scrollTop = s.scrollHeight; }")
    page.wait_for_function(
        "() => { const r = JSON.parse(document.querySelector('.aw-root').dataset.rows); "
        f"return r.last === {T - 1} && r.waiting === 0 && r.lines > 0; }}",
        timeout=30_000,
    )
    status = page.inner_text(".aw-status")
    assert f"of {T}" in status and "share of the row's mass" in status
    assert page.errors == []


def test_a_file_past_its_budget_says_what_it_lacks(page, files):
    _, small = files
    assert small.stat().st_size <= 3_000_000
    open_file(page, small)
    zoom_in_at(page, PLOT_LEFT + 300, PLOT_TOP + 500, 8)
    page.wait_for_function(
        "() => JSON.parse(document.querySelector('.aw-root').dataset.zoom).notice !== ''", timeout=30_000
    )
    notice = zoom_state(page)["notice"]
    assert re.search(r"this file holds layer 1 at \d+ tokens per cell", notice), notice
    assert "open it in the notebook" in notice and "3 MB" in notice
    assert "open it in the notebook" in page.inner_text(".aw-status")
