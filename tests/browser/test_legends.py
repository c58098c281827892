"""The views explain themselves in a real Chromium: a legend under each view names its
marks and colours, the head chips say which rule chose the opening heads, and a token's
tooltip gives its dependency relation (arc labels that would overlap are left out)."""

from __future__ import annotations

import numpy as np
import pytest
from pagetools import goto_offline, wait_drawn

from attnwidget.text.syntax import Syntax
from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.default_heads import RULE

pytestmark = pytest.mark.browser

EVIL = "<b>bold</b>"


def attention(layers: int, heads: int, n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.exp(rng.normal(size=(layers, heads, n, n)) * 3)
    return (a / a.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    words = ["The", "old", "man", EVIL, "gave", "his", "grandson", "a", "boat", "."]
    text = " ".join(words)
    spans, pos = [], 0
    for w in words:
        start = text.index(w, pos)
        spans.append((start, start + len(w)))
        pos = start + len(w)
    syntax = Syntax(
        text=text,
        words=words,
        spans=spans,
        upos=["DET", "ADJ", "NOUN", "X", "VERB", "PRON", "NOUN", "DET", "NOUN", "PUNCT"],
        heads=[2, 2, 4, 2, -1, 6, 4, 8, 4, 4],
        deprels=["det", "amod", "nsubj", "appos", "root", "poss", "dative", "det", "dobj", "punct"],
    )
    tokens = ["[CLS]", *words, "[SEP]"]
    token_word = [-1, *range(len(words)), -1]
    w = AttentionWidget.from_attention(
        tokens, attention(2, 6, len(tokens)), syntax=syntax, token_word=token_word, model_name="test-model"
    )
    assert len(w.heads) == 3
    return w.save_html(tmp_path_factory.mktemp("legends") / "widget.html"), w.heads


def legend(page) -> dict[str, str]:
    items = page.locator(".aw-legend .aw-legend-item")
    return {items.nth(k).get_attribute("data-key"): items.nth(k).inner_text() for k in range(items.count())}


def test_each_view_has_a_legend_of_its_marks(page, exported):
    path, heads = exported
    goto_offline(page, path)
    drawn = wait_drawn(page)

    # Head view: head colours, weights, the dashed relation mark, arcs, UPOS tags.
    assert page.is_visible(".aw-legend")
    items = legend(page)
    assert list(items)[:5] == ["head-colour", "weight", "related", "arc", "upos"]
    assert "syntactic head or dependent" in items["related"] and "gold (treebank)" in items["arc"]
    assert page.locator(".aw-legend [data-key=related] svg line[stroke-dasharray]").count() == 1
    assert page.locator(".aw-legend [data-key=head-colour] svg line").count() == len(heads)
    # The opening heads, and the rule that chose them, beside the chips.
    note = page.inner_text(".aw-heads-note")
    assert note.startswith(f"showing heads {', '.join(map(str, heads))} of 6") and RULE in note

    # Matrix view: the colour scale with its ticks, and the boxed cells.
    page.click(".aw-tab[data-view='matrix']")
    drawn = wait_drawn(page, drawn)
    items = legend(page)
    assert list(items)[:2] == ["scale", "related"] and "mean of 3 heads" in items["scale"]
    ticks = page.locator(".aw-legend [data-key=scale] .aw-legend-tick").all_inner_texts()
    assert ticks == ["0", ".05", ".25", ".5", "1"]
    assert "outlined cell" in items["related"]

    # Model view: what a square is and what the outlines mean.
    page.click(".aw-tab[data-view='model']")
    page.wait_for_function("() => document.querySelector('.aw-legend [data-key=thumbnail]')")
    assert "grid rows: layers" in legend(page)["thumbnail"]

    # The neuron view keeps its own legend.
    page.click(".aw-tab[data-view='neuron']")
    page.wait_for_function("() => document.querySelector('.aw-legend').hidden")

    # Picking every head: the note about the opening heads goes.
    page.click(".aw-tab[data-view='head']")
    page.click(".aw-chip-all")
    page.wait_for_function("() => document.querySelector('.aw-heads-note').hidden")
    assert "6 heads shown" not in legend(page)["head-colour"]  # 6 colours fit the sample
    assert page.errors == []


def test_a_tokens_tooltip_gives_its_relation_and_tokens_stay_text(page, exported):
    path, _ = exported
    goto_offline(page, path)
    wait_drawn(page)
    # Hover the query token "man" (row 3): the tooltip names its relation and its dependents.
    box = page.locator(".aw-view:not([hidden]) canvas").bounding_box()
    page.mouse.move(box["x"] + 8 + 150 + 44 + 20, box["y"] + 8 + 18 * 3.5)
    page.wait_for_function("() => !document.querySelector('.aw-tooltip').hidden")
    tip = page.inner_text(".aw-tooltip")
    assert tip.startswith('query 3: "man"  NOUN')
    assert 'nsubj of "gave"' in tip and 'head of: det "The", amod "old", appos "<b>bold</b>"' in tip
    # Markup in a token stays text everywhere: no <b> element was made from it.
    assert page.evaluate("() => document.querySelectorAll('.aw-root b').length") == 0
