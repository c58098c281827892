"""Syntax in the long views, in real Chromium, from an exported file of 2,048+ tokens parsed
by spaCy: the head view tags tokens, dashes the line from a token to its head word and draws
the arcs beside the queries; the matrix view, zoomed in, outlines exactly the dependency
pairs in view (counted again here from the parse) and tags the labels; hovers say the relation.

The attention is made so that each token looks hardest at its head word's first token, so a
known dependency line is among each row's strongest lines."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from pagetools import goto_offline, wait_drawn

from attnwidget import annotate
from attnwidget.widget.attention_widget import AttentionWidget
from tests.tiny_models import gpt2_tokenizer

pytestmark = pytest.mark.browser

T = 2100  # tokens asked for; the sentence has at least 2,048
PLOT = 550  # long_matrix_view.ts: with syntax, 718 px of stage less the margins
MARGIN = 160  # long_matrix_view.ts: the plot's left and top margins with syntax
ROW = 18  # long_head_view.ts


@pytest.fixture(scope="module")
def sentence():
    from attnwidget.data import sample_corpus

    tok = copy.deepcopy(gpt2_tokenizer())
    tok.model_max_length = 4096
    text = tok.decode(tok(" ".join(sample_corpus() * 4))["input_ids"][:T])
    s = annotate(text, tok, annotations="spacy")
    assert len(s.tokens) >= 2048 and s.syntax is not None
    return s


def first_tokens(s) -> dict[int, int]:
    first: dict[int, int] = {}
    for k, w in enumerate(s.token_word.tolist()):
        if w >= 0:
            first.setdefault(w, k)
    return first


def head_token(s, i: int) -> int | None:
    """The first token of token i's head word, when it is before i."""
    w = int(s.token_word[i])
    h = s.syntax.heads[w] if w >= 0 else -1
    t = first_tokens(s).get(h) if h >= 0 else None
    return t if t is not None and t < i else None


def related(s, a: int, b: int) -> bool:
    """SPEC's 'attention edge coincides with a dependency': either way, never one word."""
    wa, wb = int(s.token_word[a]), int(s.token_word[b])
    heads = s.syntax.heads
    return wa >= 0 and wb >= 0 and wa != wb and (heads[wa] == wb or heads[wb] == wa)


@pytest.fixture(scope="module")
def exported(sentence, tmp_path_factory):
    n = len(sentence.tokens)
    rng = np.random.default_rng(0)
    att = np.zeros((1, 2, n, n), np.float32)
    for i in range(n):
        att[0, :, i, : i + 1] = rng.random((2, i + 1)) * 0.3 / (i + 1)
        h = head_token(sentence, i)
        att[0, 0, i, h if h is not None else max(0, i - 1)] += 0.7
    att /= att.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention(sentence, att, model_name="long-syntax", view="head", heads=[0], layer=0)
    try:
        path = w.save_html(tmp_path_factory.mktemp("long_syntax") / "syntax.html")
    finally:
        w.close()
    return path


def known_pair(s) -> tuple[int, int]:
    """A token past the middle whose head word starts 2-20 tokens before it."""
    for i in range(1500, len(s.tokens)):
        h = head_token(s, i)
        if h is not None and 2 <= i - h <= 20:
            return i, h
    raise AssertionError("no dependency pair to look at")


def state(page, name: str) -> dict:
    return json.loads(page.eval_on_selector(".aw-root", f"r => r.dataset.{name} || '{{}}'"))


def legend_keys(page) -> list[str]:
    return page.eval_on_selector_all(".aw-legend-item", "items => items.map((i) => i.dataset.key)")


def test_head_view_tags_tokens_and_dashes_the_line_to_the_head_word(page, sentence, exported):
    i, h = known_pair(sentence)
    goto_offline(page, exported)
    wait_drawn(page, timeout=60_000)
    page.eval_on_selector(".aw-stage", f"s => {{ s.scrollTop = {i * ROW - 100}; }}")
    page.wait_for_function(
        "() => { const r = JSON.parse(document.querySelector('.aw-root').dataset.rows || '{}'); "
        f"return r.first <= {i} && r.last >= {i} && r.waiting === 0 && r.lines > 0; }}",
        timeout=30_000,
    )
    rows = state(page, "rows")
    assert rows["dashed"] >= 1 and rows["arcs"] >= 1 and rows["found"] >= 1
    assert rows["tags"] == rows["last"] - rows["first"] + 1 - sum(
        int(sentence.token_word[k]) < 0 for k in range(rows["first"], rows["last"] + 1)
    )
    assert {"related", "arc", "upos", "head-found", "coverage"} <= set(legend_keys(page))
    # hover the query: its tag, its own relation, and the dependency line among its drawn lines
    canvas = page.query_selector(".aw-long-head").bounding_box()
    top = page.eval_on_selector(".aw-stage", "s => s.scrollTop")
    page.mouse.move(canvas["x"] + 300, canvas["y"] + i * ROW + ROW / 2 - top)
    page.wait_for_function("() => !document.querySelector('.aw-tooltip').hidden", timeout=10_000)
    text = page.inner_text(".aw-tooltip")
    w = int(sentence.token_word[i])
    head_word = sentence.syntax.heads[w]
    words = sentence.syntax.words
    relation = f"{json.dumps(words[w])} is {sentence.syntax.deprels[w]} of {json.dumps(words[head_word])}"
    assert text.startswith(f"query {i}: {json.dumps(sentence.tokens[i])} {sentence.token_pos[i]}"), text
    assert f"dependency lines: {h} {json.dumps(sentence.tokens[h])}" in text and relation in text, text
    assert "its head word is among them" in text
    assert page.errors == []


def test_matrix_view_outlines_the_dependency_pairs_in_view(page, sentence, exported):
    i, h = known_pair(sentence)
    n = len(sentence.tokens)
    goto_offline(page, exported)
    wait_drawn(page, timeout=60_000)
    page.click(".aw-tab[data-view='matrix']")
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.zoom", timeout=30_000)
    assert state(page, "zoom")["related"] == 0  # whole matrix: no outlines at 0.3 px a token
    canvas = page.query_selector(".aw-long-matrix").bounding_box()
    assert canvas["height"] <= 718 and state(page, "zoom")["plot"] == {"left": MARGIN, "top": MARGIN, "side": PLOT}
    stage = page.eval_on_selector(".aw-stage", "s => [s.scrollHeight, s.clientHeight]")
    assert stage[0] <= stage[1]  # the whole canvas in the 720 px stage: nothing to scroll
    x = canvas["x"] + MARGIN + (h + 0.5) * PLOT / n
    y = canvas["y"] + MARGIN + (i + 0.5) * PLOT / n
    page.mouse.move(x, y)
    for _ in range(10):  # 550 / n px a token x 1.5^10: 15 px, labels and tags drawn
        page.mouse.wheel(0, -120)
        page.wait_for_timeout(30)
    page.wait_for_function(
        "() => { const z = JSON.parse(document.querySelector('.aw-root').dataset.zoom); return z.r === 1 && z.missing === 0; }",
        timeout=30_000,
    )
    z = state(page, "zoom")
    scale = 1 / z["tokensPerPx"]
    assert scale >= 10 and z["tags"] > 0
    span = PLOT / scale
    rows = range(math.floor(z["y0"]), min(n, math.ceil(z["y0"] + span)))
    cols = range(math.floor(z["x0"]), min(n, math.ceil(z["x0"] + span)))
    assert i in rows and h in cols
    want = sum(related(sentence, r, c) for r in rows for c in cols if c <= r)
    assert z["related"] == want > 0
    assert {"related", "upos"} <= set(legend_keys(page)) and "arc" not in legend_keys(page)
    # hover the cell (i, h): the tooltip names the relation
    page.mouse.move(
        canvas["x"] + MARGIN + (h + 0.5 - z["x0"]) * scale, canvas["y"] + MARGIN + (i + 0.5 - z["y0"]) * scale
    )
    page.wait_for_function(
        "() => document.querySelector('.aw-tooltip').innerText.includes('dependency')", timeout=10_000
    )
    text = page.inner_text(".aw-tooltip")
    assert text.startswith(f"query {i} {json.dumps(sentence.tokens[i])} {sentence.token_pos[i]} → key {h} "), text
    w = int(sentence.token_word[i])
    assert f"is {sentence.syntax.deprels[w]} of" in text
    assert page.errors == []
