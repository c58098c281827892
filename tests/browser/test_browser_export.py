"""The exported HTML file in a real Chromium with every network request refused."""

from __future__ import annotations

import numpy as np
import pytest
from pagetools import canvas_digest, goto_offline, wait_drawn

from attnwidget.text.syntax import Syntax
from attnwidget.widget.attention_widget import AttentionWidget

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__xss=1">'


def softmax(layers, heads, n, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(layers, heads, n, n)) * 3
    logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    a = np.exp(logits - logits.max(-1, keepdims=True))
    return (a / a.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    text = f"The cat {EVIL} sat ."
    words = ["The", "cat", EVIL, "sat", "."]
    spans, pos = [], 0
    for w in words:
        start = text.index(w, pos)
        spans.append((start, start + len(w)))
        pos = start + len(w)
    syntax = Syntax(
        text=text,
        words=words,
        spans=spans,
        upos=["DET", "NOUN", "X", "VERB", "PUNCT"],
        heads=[1, 3, 3, -1, 3],
        deprels=["det", "nsubj", "dep", "root", "punct"],
    )
    tokens = ["<s>", "The", " cat", " <img", ' src=x onerror="window.__xss=1">', " sat", " ."]
    token_word = [-1, 0, 1, 2, 2, 3, 4]
    w = AttentionWidget.from_attention(
        tokens, softmax(3, 4, len(tokens)), syntax=syntax, token_word=token_word, model_name="test-model"
    )
    return w.save_html(tmp_path_factory.mktemp("export") / "widget.html")


@pytest.fixture
def offline_page(page, exported):
    requests = goto_offline(page, exported)
    wait_drawn(page)
    page.requests = requests
    return page


def test_renders_offline_with_no_other_request(offline_page):
    page = offline_page
    assert page.requests == [page.url]
    assert page.errors == []
    assert "layer 0" in page.inner_text(".aw-status")


def test_markup_in_tokens_stays_text(offline_page):
    page = offline_page
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0
    tokens = page.locator(".aw-tokens li").all_text_contents()
    assert tokens[3:5] == [" <img", ' src=x onerror="window.__xss=1">']
    # word level shows the whole word, still as text
    page.select_option(".aw-level", "word")
    page.wait_for_function("document.querySelectorAll('.aw-tokens li').length === 6")
    assert EVIL in page.locator(".aw-tokens li").all_text_contents()
    assert page.evaluate("window.__xss") is None


def test_hover_isolates_lines(offline_page):
    page = offline_page
    before = canvas_digest(page)
    box = page.locator(".aw-view:not([hidden]) canvas").bounding_box()
    # a query token on the left: row 2 ("cat"), just left of the query column's edge
    y = box["y"] + 8 + 18 * 2.5
    x = box["x"] + 8 + 150 + 44 + 20  # arcs + upos + inside the token column
    page.mouse.move(x, y)
    page.wait_for_selector(".aw-tooltip:not([hidden])")
    assert "query 2" in page.inner_text(".aw-tooltip")
    hovered = canvas_digest(page)
    assert hovered != before
    assert "of" in page.inner_text(".aw-status")
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + 3)  # off the tokens
    page.wait_for_function("document.querySelector('.aw-tooltip').hidden")
    assert canvas_digest(page) == before


def test_click_locks_and_second_click_unlocks(offline_page):
    page = offline_page
    box = page.locator(".aw-view:not([hidden]) canvas").bounding_box()
    x, y = box["x"] + 8 + 150 + 44 + 20, box["y"] + 8 + 18 * 3.5
    plain = canvas_digest(page)
    page.mouse.click(x, y)
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + 3)
    locked = canvas_digest(page)
    assert locked != plain  # stays isolated after the pointer leaves
    page.mouse.click(x, y)
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + 3)
    page.wait_for_timeout(100)
    assert canvas_digest(page) == plain


def test_head_toggle_and_solo_change_the_drawing(offline_page):
    page = offline_page
    before = canvas_digest(page)
    draws = int(page.eval_on_selector(".aw-root", "r => r.dataset.draws"))
    page.click(".aw-chip[data-head='1']")
    draws = wait_drawn(page, draws)
    assert page.get_attribute(".aw-chip[data-head='1']", "aria-pressed") == "false"
    assert canvas_digest(page) != before
    page.dblclick(".aw-chip[data-head='2']")
    page.wait_for_function(
        "[...document.querySelectorAll('.aw-chip[data-head]')].filter(c => c.getAttribute('aria-pressed') === 'true').length === 1"
    )
    assert page.get_attribute(".aw-chip[data-head='2']", "aria-pressed") == "true"
    assert "1/4 heads" in page.inner_text(".aw-status")


def test_layer_switch_changes_the_drawing(offline_page):
    page = offline_page
    before = canvas_digest(page)
    page.select_option(".aw-layer", "2")
    page.wait_for_function("document.querySelector('.aw-root').dataset.layer === '2'")
    assert canvas_digest(page) != before
    assert "layer 2" in page.inner_text(".aw-status")


def test_model_and_matrix_views(offline_page):
    page = offline_page
    page.click(".aw-tab[data-view='model']")
    page.wait_for_function("document.querySelector('.aw-status').textContent.includes('click a head')")
    box = page.locator(".aw-view[data-view='model'] canvas").bounding_box()
    page.mouse.click(box["x"] + 36 + 10, box["y"] + 22 + 10)  # layer 0, head 0
    page.wait_for_function("document.querySelector('.aw-root').dataset.view === 'matrix'")
    assert "head 0" in page.inner_text(".aw-status")
    mbox = page.locator(".aw-view[data-view='matrix'] canvas").bounding_box()
    page.mouse.move(mbox["x"] + mbox["width"] - 40, mbox["y"] + mbox["height"] - 40)
    page.wait_for_selector(".aw-tooltip:not([hidden])")
    assert "→" in page.inner_text(".aw-tooltip")


def test_png_and_svg_downloads(offline_page):
    page = offline_page
    with page.expect_download() as png:
        page.click(".aw-download-png")
    assert png.value.suggested_filename.endswith(".png")
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.click(".aw-download-svg")
    text = open(svg.value.path(), encoding="utf-8").read()
    assert text.startswith("<svg") and "<img" not in text
    assert "&lt;img" in text


def test_theme_follows_the_page(page, exported):
    page.emulate_media(color_scheme="dark")
    page.goto(exported.as_uri())
    wait_drawn(page)
    assert page.get_attribute(".aw-root", "data-theme") == "dark"
    dark = canvas_digest(page)
    page.emulate_media(color_scheme="light")
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.theme === 'light'")
    page.wait_for_function("d => document.querySelector('.aw-root').dataset.draws > d", arg=1)
    assert canvas_digest(page) != dark


def test_a_window_of_a_long_text_says_which_part_it_shows(page, bert_small, tmp_path):
    text = " ".join(f"Sentence {k} says that the cat sat on mat number {k}." for k in range(60))
    w = AttentionWidget(text, model=bert_small, annotations=None, window=(200, 260))
    of = w._meta["window"]["of"]
    goto_offline(page, w.save_html(tmp_path / "window.html"))
    wait_drawn(page)
    assert f"text tokens 200–259 of {of}" in page.inner_text(".aw-status")
    assert page.errors == []
