"""The exported HeadExplorer in a real Chromium, every network request refused: hover a
head, click it, read its exemplars, open one in the embedded AttentionWidget; and the
report page with its figures."""

from __future__ import annotations

import pytest
from pagetools import goto_offline

from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.definitions import DEFINITIONS
from attnwidget.explorer.head_explorer import HeadExplorer
from attnwidget.explorer.report import report_html

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def stats(minilm, ewt_path):
    return analyze(ewt_path, model=minilm, max_sentences=12, progress=False)


@pytest.fixture(scope="module")
def exported(stats, minilm, tmp_path_factory):
    folder = tmp_path_factory.mktemp("explorer")
    with_model = HeadExplorer(stats, model=minilm).save_html(folder / "explorer.html")
    text_only = HeadExplorer(stats).save_html(folder / "text-only.html")
    return with_model, text_only


def open_offline(page, path):
    requests = goto_offline(page, path)
    page.wait_for_selector(".ax-root[data-ready]", timeout=15_000)
    page.requests = requests
    return page


def cell_point(page, layer: int, head: int, panel: int = 0) -> tuple[float, float]:
    """Page coordinates of a head's cell, from the geometry the grid canvas publishes."""
    canvas = page.locator(".ax-grid").nth(panel)
    box = canvas.bounding_box()
    d = canvas.evaluate("c => ({left: +c.dataset.left, top: +c.dataset.top, cell: +c.dataset.cell})")
    return box["x"] + d["left"] + (head + 0.5) * d["cell"], box["y"] + d["top"] + (layer + 0.5) * d["cell"]


def test_click_a_head_read_its_exemplars_and_open_one(page, exported, stats):
    page = open_offline(page, exported[0])
    x, y = cell_point(page, 2, 3)
    page.mouse.move(x, y)
    tooltip = page.locator(".ax-tooltip").text_content()
    value = stats.values("dep_align", "either")[2, 3]
    assert "layer 2, head 3" in tooltip and f"{value:.3f}" in tooltip and "rank" in tooltip
    page.mouse.click(x, y)

    expected = stats.exemplars(2, 3)
    items = page.locator(".ax-exemplar")
    items.first.wait_for()
    assert items.count() == len(expected) > 0
    for k, row in enumerate(expected):
        item = items.nth(k)
        assert item.locator("b").text_content() == row["tokens"][row["i"]].strip()
        assert item.locator("u").text_content() == row["tokens"][row["j"]].strip()
        assert f"sentence {row['sentence']}" in item.locator(".ax-exemplar-head").text_content()

    items.nth(1).click()
    page.wait_for_function(
        "() => { const r = document.querySelector('.ax-attention .aw-root'); return r && Number(r.dataset.draws || 0) > 0; }",
        timeout=15_000,
    )
    row = expected[1]
    widget = page.locator(".ax-attention .aw-root")
    assert widget.get_attribute("data-layer") == "2"
    assert page.locator(".ax-attention .aw-chip[aria-pressed=true]").text_content().strip() == "3"
    assert (
        f"Sentence {row['sentence']} · layer 2, head 3 · token {row['i']} "
        in page.locator(".ax-attention h3").text_content()
    )
    # this file holds some layers of the sentence and no query/key vectors: no model or neuron tab
    assert page.locator(".ax-attention .aw-tab[data-view=matrix]").is_visible()
    assert not page.locator(".ax-attention .aw-tab[data-view=model]").is_visible()
    assert not page.locator(".ax-attention .aw-tab[data-view=neuron]").is_visible()
    assert page.requests == [exported[0].as_uri()]
    assert page.errors == []


def test_a_layer_the_file_lacks_is_refused_with_a_reason(page, exported, stats):
    page = open_offline(page, exported[0])
    x, y = cell_point(page, 1, 0)
    page.mouse.click(x, y)
    page.locator(".ax-exemplar").first.click()
    page.wait_for_selector(".ax-attention .aw-root[data-draws]")
    layers_here = {r["layer"] for r in stats.exemplar_rows() if r["sentence"] == stats.exemplars(1, 0)[0]["sentence"]}
    missing = next(layer for layer in range(stats.num_layers) if layer not in layers_here)
    page.locator(".ax-attention select").first.select_option(str(missing))
    note = page.locator(".ax-attention .ax-note")
    note.wait_for()
    assert f"Layer {missing} of this sentence is not in this file" in note.text_content()
    page.wait_for_function("() => document.querySelector('.ax-attention select').value === '1'")  # sprang back
    assert page.errors == []


def test_without_a_model_exemplars_are_text_and_the_page_says_why(page, exported):
    page = open_offline(page, exported[1])
    page.mouse.click(*cell_point(page, 0, 0))
    page.locator(".ax-exemplar").first.wait_for()
    assert page.locator(".ax-exemplar[role=button]").count() == 0
    assert "No model was given" in page.locator(".ax-exemplars .ax-note").text_content()
    assert page.errors == []


def test_arrow_keys_move_the_selected_head(page, exported, stats):
    page = open_offline(page, exported[1])
    page.mouse.click(*cell_point(page, 0, 0))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    title = page.locator(".ax-exemplars h3")
    page.wait_for_function("() => document.querySelector('.ax-exemplars h3').textContent.startsWith('Layer 2, head 1')")
    assert page.locator(".ax-exemplar").count() == len(stats.exemplars(2, 1))
    assert title.is_visible()


def test_metric_selector_and_side_by_side(page, exported, stats):
    page = open_offline(page, exported[1])
    page.locator(".ax-metric").first.select_option("pos_to")
    page.locator(".ax-key").first.select_option("NOUN")
    page.wait_for_function("() => document.querySelector('.ax-panel h3').textContent === 'Attention to NOUN'")
    page.mouse.move(*cell_point(page, 4, 5))
    assert f"{stats.values('pos_to', 'NOUN')[4, 5]:.3f}" in page.locator(".ax-tooltip").text_content()
    page.locator(".ax-tab[data-mode=side_by_side]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.ax-panel h3')[1]?.textContent === 'Attention to the first token'"
    )
    # under each title, the metric in one sentence (docs/metrics.md in full)
    assert page.locator(".ax-panel .ax-definition").all_text_contents() == [
        DEFINITIONS["pos_to"],
        DEFINITIONS["first_token"],
    ]
    page.mouse.move(*cell_point(page, 4, 5, panel=1))
    assert f"{stats.values('first_token')[4, 5]:.3f}" in page.locator(".ax-tooltip").text_content()
    assert page.errors == []


def test_token_markup_stays_text(page, minilm, tmp_path):
    evil = analyze(
        [f"The cat {EVIL} sat on the mat.", "A dog barked at the cat."],
        model=minilm,
        annotations="spacy",
        progress=False,
    )
    path = HeadExplorer(evil, model=minilm).save_html(tmp_path / "evil.html")
    page = open_offline(page, path)
    page.mouse.click(*cell_point(page, 0, 0))  # two sentences: both are every head's exemplars
    item = page.locator(".ax-exemplar", has_text="onerror")
    assert "<img" in item.text_content()
    item.click()
    page.wait_for_selector(".ax-attention .aw-root[data-draws]")
    assert page.locator("img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert page.errors == []


def test_report_page_offline(page, stats, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(report_html(stats), encoding="utf-8")
    page = open_offline(page, path)
    sizes = page.eval_on_selector_all(".figures img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) >= 8 and all(w > 100 for w in sizes)
    assert page.locator("table.head-accuracy tr").count() > 2
    page.mouse.click(*cell_point(page, 0, 1))
    page.locator(".ax-exemplar").first.wait_for()
    assert page.requests == [path.as_uri()]
    assert page.errors == []


def test_the_grid_has_axis_titles(page, exported):
    """ "head →" over the head numbers, "← layer" left of the layer numbers (drawn on the
    canvas: dark pixels in the bands outside the numbers)."""
    page = open_offline(page, exported[1])
    ink = page.locator(".ax-grid").first.evaluate("""c => {
        const d = c.dataset, r = c.width / c.clientWidth, ctx = c.getContext('2d');
        const dark = (x, y, w, h) => {
            const px = ctx.getImageData(x * r, y * r, w * r, h * r).data;
            let n = 0;
            for (let i = 0; i < px.length; i += 4) if (px[i] + px[i + 1] + px[i + 2] < 450) n++;
            return n;
        };
        return {head: dark(+d.left, 0, +d.heads * +d.cell, 12), layer: dark(0, +d.top, 12, +d.layers * +d.cell)};
    }""")
    assert ink["head"] > 20 and ink["layer"] > 20, ink
