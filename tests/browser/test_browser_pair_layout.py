"""Issue 6: a sentence pair's A/B filter lays the views out to the block, as bertviz does.

A real BERT-family encoder (all-MiniLM-L6-v2) reads a sentence pair; the exported page
runs in a real Chromium with every other request refused. With "A->B" the head view's
left column lists only sentence A's tokens and the right column only sentence B's, and
hovering or clicking a shown token still reports its original index.
"""

from __future__ import annotations

import pytest
from pagetools import canvas_digest, goto_offline, wait_drawn

from attnwidget.widget.attention_widget import AttentionWidget

pytestmark = pytest.mark.browser

TEXT_A = "The keys to the cabinet are on the table."
TEXT_B = "Nobody had moved them."
STATUS = "document.querySelector('.aw-status').textContent"
# Geometry of the head view without syntax (js/src/draw/layout.ts headLayout): an 8 px margin,
# the query labels, a 260 px gap, the key labels, a 12 px margin; rows of 18 px from y = 8.
MARGIN_LEFT, GAP, MARGIN_RIGHT, TOP, ROW = 8, 260, 12, 8, 18
# The matrix view: cells of at most 28 px, 16 px right of and below the grid.
CELL, MATRIX_MARGIN = 28, 16


@pytest.fixture(scope="module")
def pair(tmp_path_factory, minilm):
    w = AttentionWidget.from_pair(TEXT_A, TEXT_B, model=minilm, layer=2)
    tokens = list(w.tokens)
    at = w._meta["split"]["at"]
    assert tokens[0] == "[CLS]" and tokens[at - 1] == "[SEP]" and 0 < at < len(tokens)
    path = w.save_html(tmp_path_factory.mktemp("pair") / "pair.html")
    return {"path": path, "tokens": tokens, "at": at}


@pytest.fixture
def opened(page, pair):
    requests = goto_offline(page, pair["path"])
    wait_drawn(page)
    assert requests == [page.url]
    assert page.errors == []
    return page


def set_filter(page, which: str):
    draws = int(page.eval_on_selector(".aw-root", "r => r.dataset.draws"))
    page.select_option(".aw-pair-filter", which)
    wait_drawn(page, draws)
    if which == "all":
        page.wait_for_function(f"!{STATUS}.includes('pair block')")
    else:
        page.wait_for_function(f"{STATUS}.includes('pair block {which.replace('->', ' → ')}')")


def shown(page, role: str) -> list[tuple[int, str]]:
    """The units the view lays out on one axis, in order: (original index, label)."""
    pairs = page.eval_on_selector_all(
        f".aw-shown[data-role='{role}'] li", "lis => lis.map(li => [Number(li.dataset.unit), li.textContent])"
    )
    return [(u, label) for u, label in pairs]


def head_columns(page):
    """Pointer x of the query and key columns, and the canvas box, of the head view."""
    box = page.locator(".aw-view[data-view='head'] canvas").bounding_box()
    label_w = (box["width"] - MARGIN_LEFT - GAP - MARGIN_RIGHT) / 2
    query_x = box["x"] + MARGIN_LEFT + label_w / 2
    key_x = box["x"] + MARGIN_LEFT + label_w + GAP + label_w / 2
    return query_x, key_x, box


def hover_row(page, x: float, box, row: int) -> str:
    page.mouse.move(x, box["y"] + TOP + ROW * (row + 0.5))
    page.wait_for_selector(".aw-tooltip:not([hidden])")
    return page.inner_text(".aw-tooltip")


def spacer_height(page) -> float:
    return page.eval_on_selector(".aw-view[data-view='head'] .aw-spacer", "s => parseFloat(s.style.height)")


def test_a_to_b_lists_a_on_the_left_and_b_on_the_right(opened, pair):
    page, tokens, at = opened, pair["tokens"], pair["at"]
    n = len(tokens)
    # "all": every token in place on both sides
    assert shown(page, "query") == list(enumerate(tokens))
    assert shown(page, "key") == list(enumerate(tokens))
    assert spacer_height(page) == 2 * TOP + n * ROW
    full = canvas_digest(page)

    set_filter(page, "A->B")
    assert f"pair block A → B: {at} query × {n - at} key tokens" in page.inner_text(".aw-status")
    assert shown(page, "query") == [(i, tokens[i]) for i in range(at)]
    assert shown(page, "key") == [(i, tokens[i]) for i in range(at, n)]
    # the block fills the view: as tall as sentence A, not the whole pair
    assert spacer_height(page) == 2 * TOP + max(at, n - at) * ROW
    assert canvas_digest(page) != full
    assert page.errors == []


def test_hover_and_click_report_original_tokens(opened, pair):
    page, tokens, at = opened, pair["tokens"], pair["at"]
    set_filter(page, "A->B")
    query_x, key_x, box = head_columns(page)
    plain = canvas_digest(page)
    # the first row of the right column is sentence B's first token, not token 0
    assert hover_row(page, key_x, box, 0) == f'key {at}: "{tokens[at]}"'
    assert canvas_digest(page) != plain  # its lines isolated
    assert hover_row(page, key_x, box, 2).startswith(f"key {at + 2}: ")
    assert hover_row(page, query_x, box, 3) == f'query 3: "{tokens[3]}"'
    # below B's last key (B is shorter than A here) there is nothing on the right any more
    n_b = len(tokens) - at
    assert n_b < at
    page.mouse.move(key_x, box["y"] + TOP + ROW * (n_b + 0.5))
    page.wait_for_function("document.querySelector('.aw-tooltip').hidden")

    # a click locks the original index (what the widget syncs back to Python)
    page.mouse.click(key_x, box["y"] + TOP + ROW * 1.5)
    page.wait_for_function(f"document.querySelector('.aw-root').dataset.token === 'key {at + 1}'")
    page.mouse.click(key_x, box["y"] + TOP + ROW * 1.5)
    page.wait_for_function("document.querySelector('.aw-root').dataset.token === ''")

    # the other way round: B's tokens are the queries
    set_filter(page, "B->A")
    assert [u for u, _ in shown(page, "query")] == list(range(at, len(tokens)))
    assert [u for u, _ in shown(page, "key")] == list(range(at))
    query_x, key_x, box = head_columns(page)
    assert hover_row(page, query_x, box, 0).startswith(f"query {at}: ")
    assert hover_row(page, key_x, box, at - 1).startswith(f"key {at - 1}: ")
    assert page.errors == []


def kept_lines(page) -> str:
    """'of N kept lines' from the status: how many lines the block has (drawn or not)."""
    status = page.inner_text(".aw-status")
    return status[status.index(" of ") : status.index(" kept lines")]


def test_all_restores_the_full_layout(opened, pair):
    page, tokens = opened, pair["tokens"]
    before, lines = canvas_digest(page), kept_lines(page)
    width = page.locator(".aw-view[data-view='head'] canvas").bounding_box()["width"]
    set_filter(page, "B->B")
    assert canvas_digest(page) != before
    assert kept_lines(page) != lines
    set_filter(page, "all")
    assert shown(page, "query") == list(enumerate(tokens))
    assert shown(page, "key") == list(enumerate(tokens))
    assert spacer_height(page) == 2 * TOP + len(tokens) * ROW
    assert page.locator(".aw-view[data-view='head'] canvas").bounding_box()["width"] == width
    # (not the same pixels: the head view's line budget adapts to the measured frame time)
    assert kept_lines(page) == lines


def test_matrix_shows_only_the_block(opened, pair):
    page, tokens, at = opened, pair["tokens"], pair["at"]
    n = len(tokens)
    page.click(".aw-tab[data-view='matrix']")
    page.wait_for_function("document.querySelector('.aw-root').dataset.view === 'matrix'")
    full = page.locator(".aw-view[data-view='matrix'] canvas").bounding_box()
    set_filter(page, "A->B")
    assert f"{at} query × {n - at} key tokens" in page.inner_text(".aw-status")
    box = page.locator(".aw-view[data-view='matrix'] canvas").bounding_box()
    assert box["width"] < full["width"] and box["height"] < full["height"]
    left = box["x"] + box["width"] - MATRIX_MARGIN - (n - at) * CELL
    top = box["y"] + box["height"] - MATRIX_MARGIN - at * CELL
    # top-left cell: A's first token attending to B's first token
    page.mouse.move(left + CELL / 2, top + CELL / 2)
    page.wait_for_selector(".aw-tooltip:not([hidden])")
    assert page.inner_text(".aw-tooltip").startswith(f'"{tokens[0]}" → "{tokens[at]}": ')
    # bottom-right cell: A's last token ([SEP]) to B's last token
    page.mouse.move(left + (n - at - 0.5) * CELL, top + (at - 0.5) * CELL)
    page.wait_for_function(
        f"document.querySelector('.aw-tooltip').textContent.startsWith('\"{tokens[at - 1]}\" → \"{tokens[-1]}\"')"
    )
    # a click locks the original query index
    page.mouse.click(left + CELL / 2, top + 4.5 * CELL)
    page.wait_for_function("document.querySelector('.aw-root').dataset.token === 'query 4'")
    assert page.errors == []


def test_model_view_and_svg_export_follow_the_block(opened, pair):
    page, tokens, at = opened, pair["tokens"], pair["at"]
    n = len(tokens)
    page.click(".aw-tab[data-view='model']")
    page.wait_for_function(f"{STATUS}.includes('click a head')")
    page.wait_for_timeout(100)
    full = canvas_digest(page)
    set_filter(page, "A->B")
    assert f"{at} query × {n - at} key tokens" in page.inner_text(".aw-status")
    assert canvas_digest(page) != full

    page.click(".aw-tab[data-view='head']")
    page.wait_for_function("document.querySelector('.aw-root').dataset.view === 'head'")
    with page.expect_download() as svg:
        page.click(".aw-download-svg")
    assert svg.value.suggested_filename == "attnwidget-head-layer2-AtoB.svg"
    text = open(svg.value.path(), encoding="utf-8").read()
    assert f'height="{2 * TOP + max(at, n - at) * ROW}"' in text.split(">", 1)[0]
    # each token once: A's on the left only, B's on the right only ("all" draws both columns)
    assert text.count(">cabinet<") == 1 and text.count(">Nobody<") == 1
