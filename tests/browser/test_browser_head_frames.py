"""The head view of a 512-token input in a real Chromium (software rendering): a layer
switch draws the strongest lines within the frame budget, and once the view is still the
picture is drawn again with more of them."""

from __future__ import annotations

import re

import pytest
from pagetools import canvas_digest, goto_offline, wait_drawn

from attnwidget.widget.attention_widget import AttentionWidget
from tiny_models import causal_softmax_attention

pytestmark = pytest.mark.browser

N = 512


@pytest.fixture(scope="module")
def long_page_file(tmp_path_factory):
    tokens = [f" tok{i}" for i in range(N)]
    w = AttentionWidget.from_attention(tokens, causal_softmax_attention(2, 4, N), model_name="t", heads=[0, 1, 2, 3])
    return w.save_html(tmp_path_factory.mktemp("frames") / "head.html")


def drawn_lines(page) -> tuple[int, bool]:
    status = page.inner_text(".aw-status")
    m = re.search(r"(\d+) of (\d+) kept lines drawn", status)
    assert m, status
    return int(m.group(1)), "the strongest" in status


def test_a_frame_cut_short_is_redrawn_fuller_when_the_view_is_still(page, long_page_file):
    goto_offline(page, long_page_file)
    draws = wait_drawn(page)
    page.select_option(".aw-layer", "1")
    draws = wait_drawn(page, draws)
    first, capped = drawn_lines(page)
    if not capped:
        pytest.skip("this browser drew every line in one frame: nothing to refine")
    before = canvas_digest(page)
    # The refinement follows REFINE.afterMs (250 ms) of stillness, and redraws once.
    draws = wait_drawn(page, draws, timeout=5_000)
    fuller, _ = drawn_lines(page)
    assert fuller > first
    assert canvas_digest(page) != before
    assert page.eval_on_selector(".aw-root", "r => r.dataset.layer") == "1"
    # Still: nothing more is drawn, and hovering then leaving brings the fuller picture back.
    page.wait_for_timeout(600)
    assert int(page.eval_on_selector(".aw-root", "r => r.dataset.draws")) == draws
    after = canvas_digest(page)
    box = page.locator(".aw-head").bounding_box()
    page.mouse.move(box["x"] + 12, box["y"] + 8 + 18 * 3.5)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 3)
    page.wait_for_timeout(100)
    assert canvas_digest(page) == after
    assert page.errors == []
