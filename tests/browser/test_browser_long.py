"""A 2,048-token input in real Chromium, from its exported file: the matrix view zooms from
the whole matrix down to one cell whose value is what Python computes (to the
quantisation step), the head view scrolls to the last token, a file exported within a
small budget says plainly what it lacks when zoomed past it, switching through layers the
file holds in part never hangs, and decoding runs in a Web Worker under the page's own
Content-Security-Policy (on the main thread where a policy forbids workers)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from pagetools import goto_offline, wait_drawn

from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.payload import dequantise_sqrt, quantise_sqrt

pytestmark = pytest.mark.browser

T = 2048
PLOT_LEFT, PLOT_TOP, PLOT = 120, 120, 590  # long_matrix_view.ts: 718 px of stage less the margins


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


@pytest.fixture(scope="module")
def sink(tmp_path_factory):
    """One head whose rows put about half their mass on the first token."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(T, T)).astype(np.float32)
    logits[:, 0] += np.log(T)  # key 0 weighs about as much as all the others together
    logits[np.triu_indices(T, 1)] = -np.inf
    a = np.exp(logits - logits.max(-1, keepdims=True))
    a = (a / a.sum(-1, keepdims=True))[None, None]
    w = AttentionWidget.from_attention([f"w{i}" for i in range(T)], a, model_name="sink", view="matrix", heads=[0])
    try:
        return w.save_html(tmp_path_factory.mktemp("sink") / "sink.html"), a
    finally:
        w.close()


def test_hide_first_applies_to_the_tiles_as_to_the_short_views(page, sink):
    """With "hide first token" (renormalise on, the default) an exact cell reads its weight
    divided by the row's mass without key 0, as the 512-token views and the pictures show it."""
    path, weights = sink
    open_file(page, path)
    page.check(".aw-hide-first")
    page.wait_for_function("() => document.querySelector('.aw-status').innerText.includes('first token left out')")
    x, y = PLOT_LEFT + 400, PLOT_TOP + 500
    zoom_in_at(page, x, y, 10)
    page.wait_for_function(
        "() => { const z = JSON.parse(document.querySelector('.aw-root').dataset.zoom); "
        "return z.r === 1 && z.missing === 0; }",
        timeout=30_000,
    )
    canvas = page.query_selector(".aw-long-matrix").bounding_box()
    page.mouse.move(canvas["x"] + x + 2, canvas["y"] + y + 2)
    page.wait_for_function("() => !document.querySelector('.aw-tooltip').hidden", timeout=10_000)
    m = re.match(r"query (\d+) \"w\d+\" → key (\d+) \"w\d+\": ([0-9.]+)$", page.inner_text(".aw-tooltip"))
    assert m
    i, j, shown = int(m[1]), int(m[2]), float(m[3])
    held = dequantise_sqrt(quantise_sqrt(weights[0, 0, i, [0, j]]))  # what the file holds
    assert held[0] > 0.3 and j > 0
    assert shown == pytest.approx(float(held[1] / (1 - held[0])), abs=1e-5)
    assert page.errors == []


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


@pytest.fixture(scope="module")
def five_layers(tmp_path_factory):
    """Five layers in 2 MB: lines for the first layers only, overviews for every one."""
    folder = tmp_path_factory.mktemp("long5")
    tokens = [f"w{i}" for i in range(T)]
    w = AttentionWidget.from_attention(tokens, attention(layers=5, seed=1), model_name="long-test", view="head")
    try:
        return w.save_html(folder / "five.html", max_bytes=2_000_000)
    finally:
        w.close()


def switch_layer(page, layer: int) -> dict:
    """Choose `layer` and wait until its rows are drawn or refused; the head view's state."""
    page.select_option(".aw-layer", str(layer))
    page.wait_for_function(
        "l => { const r = document.querySelector('.aw-root'); const rows = r.dataset.rows && JSON.parse(r.dataset.rows);"
        " return r.dataset.layer === String(l) && rows && rows.waiting === 0 && (rows.lines > 0 || rows.notice); }",
        arg=layer,
        timeout=30_000,
    )
    return json.loads(page.eval_on_selector(".aw-root", "r => r.dataset.rows"))


def test_switching_through_layers_the_file_holds_in_part_never_hangs(page, five_layers):
    script = re.search(
        r"<script type=\"application/json\" data-attnwidget=[^>]*>(.*?)</script>", five_layers.read_text(), re.S
    )
    holds = json.loads(script[1])["long"]["holds"]
    with_lines = sorted(int(layer) for layer in holds["rows"])
    assert with_lines and len(with_lines) < 5  # the budget leaves some layers without lines
    open_file(page, five_layers)
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.rows", timeout=30_000)
    for layer in [1, 2, 3, 4, 0, 3]:
        rows = switch_layer(page, layer)
        status = page.inner_text(".aw-status")
        assert f"layer {layer} " in status, status
        if layer in with_lines:
            assert rows["lines"] > 0 and not rows.get("notice"), rows
        else:  # said plainly, on the view and in the status line, instead of loading for ever
            assert f"this file holds layer {layer} at" in rows["notice"], rows
            assert "open it in the notebook" in status
    # the view still scrolls to the last token of a layer it has lines for
    switch_layer(page, with_lines[0])
    page.eval_on_selector(".aw-stage", "s => { s.scrollTop = s.scrollHeight; }")
    page.wait_for_function(
        f"() => {{ const r = JSON.parse(document.querySelector('.aw-root').dataset.rows); return r.last === {T - 1} && r.waiting === 0; }}",
        timeout=30_000,
    )
    assert page.errors == []


def poll(page, expression: str, timeout: float = 60.0):
    """Wait for a truthy page expression without eval in the page (its CSP forbids it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = page.evaluate(expression)
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout} s: {expression}")


@pytest.mark.parametrize("policy", ["as exported", "without worker-src"])
def test_decoding_runs_in_a_worker_under_the_pages_own_policy(browser, files, tmp_path, policy):
    full, _ = files
    path = full
    if policy == "without worker-src":  # a host that forbids workers: the same page, decoded here
        path = tmp_path / "strict.html"
        html = full.read_text()
        assert "worker-src blob:" in html
        path.write_text(html.replace("; worker-src blob:", ""))
    context = browser.new_context(viewport={"width": 1200, "height": 900})  # the page's CSP applies
    try:
        page = context.new_page()
        errors, debug = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: debug.append(m.text) if m.type == "debug" else None)
        requests = goto_offline(page, path)
        poll(page, "() => document.querySelector('.aw-root')?.dataset.zoom")
        mode = poll(
            page,
            "() => { const d = document.querySelector('.aw-root').dataset.decoder; return d !== 'starting' && d; }",
        )
        # the overview came through the decoder: zoom in and the tiles come too
        zoom = poll(
            page,
            "() => { const z = JSON.parse(document.querySelector('.aw-root').dataset.zoom); return z.missing === 0 && z; }",
        )
        assert zoom["notice"] == ""
        assert errors == []
        assert requests == [path.as_uri()]  # nothing fetched: the worker is the page's own text
        if policy == "as exported":
            assert mode == "worker"
            assert not any("main thread" in d for d in debug), debug
        else:
            assert mode == "main"
            assert any("attnwidget: decoding on the main thread" in d for d in debug), debug
    finally:
        context.close()
