"""Pictures of long inputs (past 1,024 tokens), drawn from the widget's store: a real pass of
a Llama-shaped model over 1,200-2,048 tokens (queries and keys only) and dense attention
given with from_attention; every view to PNG and SVG, the matrix view's cells against the
store's overview and exact values, the head view's rows, the static fallback, and no
T x T array on the way."""

from __future__ import annotations

import base64
import tracemalloc
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from attnwidget import AttentionWidget
from attnwidget.errors import AttnWidgetError
from attnwidget.pictures import fallback
from attnwidget.pictures.long_cells import HEAD_ROWS, TILE, row_lines
from attnwidget.widget.quantise import dequantise_sqrt
from tests.tiny_models import llama_long
from tests.widget.test_long_widget import long_text

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def model():
    return llama_long(n_layer=2, n_head=4, n_kv_head=2, window=2048)


@pytest.fixture(scope="module")
def widget(model):
    w = AttentionWidget(long_text(model[1], 1200), model=model, annotations=None)
    yield w
    w.close()


@pytest.fixture
def dense():
    """from_attention past 1,024 tokens: a DenseStore answers (1 layer, 2 heads, 1,100 tokens)."""
    rng = np.random.default_rng(4)
    n = 1100
    logits = rng.normal(size=(1, 2, n, n)).astype(np.float32) * 3
    logits[..., np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] = -np.inf
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"t{k}" for k in range(n)], att, is_causal=True, heads=[0])
    yield w, att
    w.close()


def svg_texts(svg: bytes | str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def heat_map(fig) -> np.ma.MaskedArray:
    (image,) = fig.axes[0].images
    return image.get_array()


@pytest.mark.parametrize("view", ["matrix", "head", "model", "neuron"])
def test_each_view_of_a_long_input_saves_png_and_svg(widget, view, tmp_path):
    png = widget.save_png(tmp_path / f"{view}.png", view=view, dpi=100)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    texts = svg_texts(widget.save_svg(tmp_path / f"{view}.svg", view=view).read_bytes())
    assert any("LlamaModel" in t for t in texts)
    if view == "head":  # the first rows' tokens, as text
        assert {widget.tokens[k].strip() for k in range(5)} - {""} <= {t.strip() for t in texts}
    if view == "model":
        assert {"L0", "L1", "0", "3"} <= set(texts)


def test_matrix_picture_is_the_overview_with_its_strongest_cell(widget):
    store = widget.store
    for heads in ([2], [0, 3]):
        values = heat_map(widget.figure(view="matrix", layer=1, heads=heads))
        expected = dequantise_sqrt(store.overview(1)[heads].max(axis=0))
        assert values.shape == expected.shape == (store.cells, store.cells)
        assert np.array_equal(values.data, expected)
        shown = np.where(values.mask, -1, values.data)
        assert np.unravel_index(np.argmax(shown), shown.shape) == np.unravel_index(np.argmax(expected), expected.shape)
        assert values.mask[0, 1] and not values.mask[1, 0]  # the causal mask, by whole blocks


def test_a_region_is_exact_cells_of_the_store(widget):
    store = widget.store
    values = heat_map(widget.figure(view="matrix", layer=1, heads=[3], rows=(1000, 1010), cols=(995, 1005)))
    assert values.shape == (10, 10)
    for i, j in [(0, 0), (3, 7), (9, 9), (9, 2)]:
        assert values[i, j] == pytest.approx(store.value(1, 3, 1000 + i, 995 + j), abs=1e-6)
    assert values.mask[0, 6] and not values.mask[0, 5]  # key 1001 is after query 1000
    both = heat_map(widget.figure(view="matrix", layer=1, heads=[0, 3], rows=(1000, 1010), cols=(995, 1005)))
    mean = (store.value(1, 0, 1004, 998) + store.value(1, 3, 1004, 998)) / 2
    assert both[4, 3] == pytest.approx(mean, abs=1e-6)  # one token a cell: the heads' mean


def test_a_tall_region_pools_keeping_each_blocks_largest(widget):
    store = widget.store
    values = heat_map(widget.figure(view="matrix", layer=0, heads=[1], rows=(0, 1200), cols=(0, 40)))
    assert values.shape == (400, 40)  # 3 query tokens x 1 key token a cell
    exact = store.window(0, 1, 600, 0, 40, 1)[:3]  # queries 600..602, keys 0..39
    assert np.allclose(values[200], exact.max(axis=0), atol=1e-6)


def test_hidden_first_token_in_a_region(widget):
    widget.hide_first, widget.renormalise = True, True
    try:
        values = heat_map(widget.figure(view="matrix", layer=1, heads=[2], rows=(1100, 1104), cols=(0, 4)))
    finally:
        widget.hide_first, widget.renormalise = False, False
    store = widget.store
    first = store.value(1, 2, 1102, 0)
    assert values[2, 0] == 0.0
    assert values[2, 3] == pytest.approx(store.value(1, 2, 1102, 3) / (1 - first), rel=1e-4)


def test_region_tiles_are_bounded(widget, monkeypatch):
    store = widget.store
    asked = []
    window = store.window
    monkeypatch.setattr(store, "window", lambda *a: asked.append(a[4]) or window(*a))
    widget.figure(view="matrix", layer=0, heads=[0, 1], rows=(0, 1200), cols=(0, 700))
    assert asked and max(asked) <= TILE
    asked.clear()
    widget.figure(view="matrix", layer=0, heads=[0])  # the whole matrix: the overview, no tile
    assert asked == []


def test_head_picture_draws_a_window_of_rows_with_their_share(widget):
    widget.token = 700
    try:
        texts = svg_texts(_svg(widget.figure(view="head", layer=1, heads=[1])))
    finally:
        widget.token = None
    r0 = 700 - HEAD_ROWS // 2
    assert any(f"queries {r0:,}\u2013{r0 + HEAD_ROWS - 1:,} of 1,200" in t for t in texts)
    lines = row_lines(widget.store, 1, [1], r0, r0 + HEAD_ROWS, widget.prune, widget.threshold, False, False)
    assert f"{lines.covered[0]:.0%}" in texts
    texts = svg_texts(_svg(widget.figure(view="head", layer=1, heads=[1], rows=(1100, 1110))))
    assert any("queries 1,100\u20131,109" in t for t in texts)
    assert any(t.startswith("\u2191") for t in texts)  # keys before the window, gathered above it


def test_row_lines_follow_the_stores_strongest_keys(widget):
    rows = widget.store.rows(0, [2], 900, 905)
    lines = row_lines(widget.store, 0, [2], 900, 905, 1.0, 0.0, False, False)
    got = lines.weight[lines.row == 903]
    kept = rows["weights"][0, 3][rows["top"][0, 3] >= 0]
    assert np.allclose(np.sort(got), np.sort(kept))
    assert lines.covered[3] == pytest.approx(kept.sum(), abs=1e-5)


def test_neuron_picture_lists_a_choice_of_keys(widget):
    texts = svg_texts(_svg(widget.figure(view="neuron", layer=0, heads=[1])))
    assert any("strongest of 1,200 keys" in t for t in texts)
    texts = svg_texts(_svg(widget.figure(view="neuron", layer=0, heads=[1], cols=(10, 20))))
    assert any("keys 10\u201319 of 1,200" in t for t in texts)


def test_bad_regions_say_what_to_do(widget):
    with pytest.raises(AttnWidgetError, match=r"rows must be a \(start, stop\)"):
        widget.figure(view="matrix", rows=(20, 10))
    with pytest.raises(AttnWidgetError, match="cols must be"):
        widget.figure(view="matrix", cols=(0, 5000))
    with pytest.raises(AttnWidgetError, match="the model view shows every head"):
        widget.figure(view="model", rows=(0, 10))
    with pytest.raises(AttnWidgetError, match="at most 1,024"):
        widget.figure(view="head", rows=(0, 1200))


def test_dense_store_pictures(dense):
    w, att = dense
    values = heat_map(w.figure(view="matrix", rows=(1090, 1100), cols=(1080, 1090)))
    assert np.allclose(values.data, att[0, 0, 1090:1100, 1080:1090], atol=1e-6)
    whole = heat_map(w.figure(view="matrix"))
    assert np.array_equal(whole.data, dequantise_sqrt(w.store.overview(0)[[0]].max(axis=0)))
    assert svg_texts(_svg(w.figure(view="head")))


def test_short_inputs_take_a_region_too():
    rng = np.random.default_rng(1)
    att = rng.random((1, 2, 6, 6)).astype(np.float32)
    att /= att.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"w{k}" for k in range(6)], att, heads=[1])
    try:
        values = heat_map(w.figure(view="matrix", rows=(2, 4), cols=(1, 6)))
        assert np.allclose(values, att[0, 1, 2:4, 1:6])
    finally:
        w.close()


# ------------------------------------------------------------------ static fallback


def bundle_data(widget) -> dict:
    bundle = widget._repr_mimebundle_()
    return bundle[0] if isinstance(bundle, tuple) else bundle


def test_a_long_input_output_carries_a_picture(widget):
    for view in ("matrix", "head", "model"):
        widget.view = view
        data = bundle_data(widget)
        picture = data.get("image/svg+xml") or base64.b64decode(data["image/png"])
        assert len(picture) <= fallback.MAX_BYTES, view
        assert fallback.NO_PICTURE not in data["text/plain"]
    widget.view = "head"


def test_fallback_of_the_model_view_waits_for_every_layer(widget, monkeypatch):
    widget.view = "model"
    try:
        monkeypatch.setattr(widget.store, "progress", lambda: (1, 2))  # layer 1 not summarised yet
        assert fallback.view_for(widget) == "matrix"  # the shown layer's overview, not every layer now
        monkeypatch.setattr(widget.store, "progress", lambda: (2, 2))
        assert fallback.view_for(widget) is None
    finally:
        widget.view = "head"


def test_a_missing_picture_says_why_in_the_text(widget, monkeypatch):
    from attnwidget import pictures

    def fails(*a, **k):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(pictures, "draw", fails)
    data = bundle_data(widget)
    assert "image/png" not in data and "image/svg+xml" not in data
    assert data["text/plain"].startswith("AttentionWidget(")
    assert f"{fallback.NO_PICTURE} RuntimeError: no fonts)" in data["text/plain"]


def test_no_picture_of_2048_tokens_allocates_a_whole_matrix(model):
    w = AttentionWidget(long_text(model[1], 2048), model=model, annotations=None)
    try:
        n = w._data.num_tokens
        assert n == 2048
        w.store.summarise_all(progress=False)
        budget = n * n * 4  # one head's float32 T x T
        for options in (
            {"view": "matrix"},
            {"view": "matrix", "rows": (0, 2048), "cols": (0, 900)},
            {"view": "head", "rows": (1000, 1040)},  # ~12 kB a text: rows cost, not T
            {"view": "model"},
            {"view": "neuron"},
        ):
            w.figure(**options)  # compiled kernels, font and glyph caches: outside the measure
            tracemalloc.start()
            try:
                w.figure(**options)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < budget / 4, (options, peak)
    finally:
        w.close()


def _svg(fig) -> bytes:
    from attnwidget.pictures.files import figure_bytes

    return figure_bytes(fig, "svg", 72)
