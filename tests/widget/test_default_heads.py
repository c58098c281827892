"""The widget opens on a few readable heads chosen by a stated rule, not on all of them."""

from __future__ import annotations

import numpy as np

from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.default_heads import RULE, default_heads, sharpness


def patterns(n: int = 6) -> np.ndarray:
    """Five heads of one causal layer: the first-token sink, uniform, previous token,
    half on the previous token, and the diagonal (each token on itself)."""
    heads = np.zeros((5, n, n), np.float32)
    for i in range(n):
        heads[0, i, 0] = 1.0
        heads[1, i, : i + 1] = 1.0 / (i + 1)
        heads[2, i, max(i - 1, 0)] = 1.0
        heads[3, i, max(i - 1, 0)] += 0.5
        heads[3, i, : i + 1] += 0.5 / (i + 1)
        heads[4, i, i] = 1.0
    return heads


def test_sharpness_skips_the_first_token_and_masked_rows():
    s = sharpness(patterns())
    # The sink head puts nothing elsewhere; the causal first row (all on token 0) is left out.
    assert s[0] == 0.0
    # Row 1 of the previous-token head attends to token 0 only, so it is left out too.
    assert s[4] == 1.0 and s[2] == 1.0
    assert s[1] < s[3] < s[4]


def test_the_sharpest_heads_are_chosen_in_head_order():
    assert default_heads(patterns()) == [2, 3, 4]
    assert default_heads(patterns(), count=1) == [2]  # a tie (2 and 4) goes to the lower head
    assert default_heads(patterns()[:2]) == [0, 1]  # fewer heads than the count: all of them


def test_the_widget_opens_on_the_default_heads_and_says_why():
    att = np.stack([patterns(), patterns()[::-1]])  # layer 1 holds the heads reversed
    tokens = ["<s>", "a", "b", "c", "d", "e"]
    w = AttentionWidget.from_attention(tokens, att)
    assert w.heads == [2, 3, 4]
    assert w._meta["default_heads"] == {"layer": 0, "heads": [2, 3, 4], "of": 5, "rule": RULE}
    # Opened on another layer: that layer's sharpest heads.
    assert AttentionWidget.from_attention(tokens, att, layer=1).heads == [0, 1, 2]
    # Heads the caller chose are kept, and no rule is claimed for them.
    mine = AttentionWidget.from_attention(tokens, att, heads=[1])
    assert mine.heads == [1] and mine._meta["default_heads"] is None
