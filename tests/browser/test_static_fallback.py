"""A tutorial executed, converted by nbconvert to HTML and opened in Chromium with the
network off: every widget output shows its static picture, and the head view's picture
on the page looks like the one drawn in Python (``w.figure`` / ``save_png``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from pagetools import goto_offline

from tutorial_copies import executed_tutorials

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_explore_a_sentence.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The tutorial executed without stored widget state (its copy that the docs site shows,
    docs/_site/executed.py), and its HTML."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed_tutorials.executed(NOTEBOOK), as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    page = tmp_path_factory.mktemp("tutorial") / "tutorial.html"
    page.write_text(html, encoding="utf-8")
    return nb, page


def widget_outputs(nb) -> list[dict]:
    """The outputs of attnwidget's widgets (tqdm's progress widgets are not ours)."""
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {}) and o["data"].get("text/plain", "").startswith("AttentionWidget(")
    ]


def test_every_widget_output_carries_a_picture(converted):
    nb, _ = converted
    outputs = widget_outputs(nb)
    assert len(outputs) >= 2  # the sentence's widget and the one from attention weights
    for output in outputs:
        assert {"image/svg+xml", "image/png"} & set(output["data"]), list(output["data"])
        assert len(json.dumps(output["data"])) < 700_000  # stored in every saved notebook


def test_the_page_shows_the_attention_offline(converted, page, minilm, nlp):
    from PIL import Image

    from attnwidget import AttentionWidget
    from attnwidget.pictures import draw, fallback
    from attnwidget.pictures.files import figure_bytes

    _, html = converted
    requests = goto_offline(page, html)  # the template's CDN scripts are refused; the picture needs none
    page.wait_for_load_state("load")
    picture = page.locator(".jp-OutputArea-output img").first  # the first widget's output
    picture.wait_for(state="visible", timeout=10_000)
    assert picture.get_attribute("src").startswith("data:image/")
    raw = picture.screenshot()
    shot = np.asarray(Image.open(io.BytesIO(raw)).convert("L"), dtype=float)
    assert not [u for u in requests if "jupyter-widgets" in u]  # no widget manager: no state was stored

    # Not blank: the lines and labels cover a fair share of the picture.
    h, w = shot.shape
    assert h > 200 and w > 300
    drawn = (shot < 235).mean()
    assert drawn > 0.04, f"only {drawn:.1%} of the picture is drawn"

    # Like the picture drawn in Python from the same sentence and state.
    text = "The keys that the man left on the kitchen table were gone by the morning."
    widget = AttentionWidget(text, model=minilm, annotations=nlp)
    try:
        fig = draw(widget, fit_in=fallback.FIT_IN, line_budget=fallback.LINES)
        reference = Image.open(io.BytesIO(figure_bytes(fig, "png", 150))).convert("L").resize((w, h), Image.LANCZOS)
    finally:
        widget.close()
    ref = np.asarray(reference, dtype=float)
    similarity = _similarity(shot, ref)
    assert similarity > 0.8, f"the page's picture differs from the Python drawing (similarity {similarity:.2f})"
    # A different view of the same sentence is less alike: the measure tells pictures apart.
    other = Image.open(io.BytesIO(figure_bytes(_matrix_of(text, minilm, nlp), "png", 150))).convert("L")
    assert _similarity(shot, np.asarray(other.resize((w, h), Image.LANCZOS), dtype=float)) < similarity - 0.2


def _matrix_of(text, model, nlp):
    from attnwidget import AttentionWidget
    from attnwidget.pictures import draw, fallback

    widget = AttentionWidget(text, model=model, annotations=nlp)
    try:
        return draw(widget, "matrix", fit_in=fallback.FIT_IN)
    finally:
        widget.close()


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two grey pictures after a 4x4 box blur (antialiasing and font
    hinting differ between Chromium's SVG renderer and matplotlib's Agg)."""

    def blur(x):
        h, w = (x.shape[0] // 4) * 4, (x.shape[1] // 4) * 4
        return x[:h, :w].reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))

    a, b = blur(a), blur(b)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
