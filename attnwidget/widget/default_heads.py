"""The heads a widget opens on: a few readable ones, not all of them at once.

Every head of a layer drawn together is a blur (12 heads of a 20-token sentence draw
thousands of lines). The widget opens on the heads whose tokens attend most sharply to
one token other than the first, since attention parked on the first token ([CLS], <s>,
BOS) draws a fan of lines into one spot and says little; the view says which rule chose them.
"""

from __future__ import annotations

import numpy as np

#: How many heads the widget opens on.
DEFAULT_COUNT = 3

RULE = "attend most sharply to one token other than the first"


def sharpness(layer: np.ndarray) -> np.ndarray:
    """Per head of ``layer`` (``[heads, T, S]``): the mean over rows of the row's largest
    weight on a key other than the first. Rows with no other key to attend to (a causal
    model's first row: all weight exactly 0) are left out."""
    if layer.shape[-1] < 2:
        return np.zeros(layer.shape[0], dtype=np.float64)
    scores = np.empty(layer.shape[0], dtype=np.float64)
    for h in range(layer.shape[0]):  # one head at a time: no [heads, T, S] temporary
        best = layer[h, :, 1:].max(axis=-1)
        best = best[best > 0]  # exactly 0 only where masked
        scores[h] = float(best.mean()) if best.size else 0.0
    return scores


def summary_sharpness(top: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`sharpness` from a long input's summary: each row's strongest keys ``top``
    (``[heads, T, k]``, -1 where a row has fewer) and their ``weights``. Exact: a row's
    largest weight off the first key is among its k strongest whenever k >= 2."""
    off_first = np.where(top > 0, weights, 0.0).max(axis=-1)  # [heads, T]
    counted = off_first > 0
    totals = np.where(counted, off_first, 0.0).sum(axis=-1, dtype=np.float64)
    rows = counted.sum(axis=-1)
    return np.divide(totals, rows, out=np.zeros(len(rows), np.float64), where=rows > 0)


def layer_sharpness(data, layer: int) -> np.ndarray:
    """:func:`sharpness` of one layer of an AttentionData: from its weights, or from its
    store's summary when a long input keeps no weights."""
    if data.attention is not None:
        return sharpness(data.attention[layer])
    rows = data.store.rows(layer, list(range(data.num_heads)), 0, data.num_tokens)
    return summary_sharpness(rows["top"], rows["weights"])


def default_heads(layer: np.ndarray | None = None, count: int = DEFAULT_COUNT, *, scores=None) -> list[int]:
    """The ``count`` sharpest heads of ``layer`` (see :func:`sharpness`; or given ``scores``),
    in head order; ties go to the lower head."""
    scores = sharpness(np.asarray(layer)) if scores is None else np.asarray(scores)
    order = sorted(range(len(scores)), key=lambda h: (-scores[h], h))
    return sorted(order[:count])


def default_heads_note(layer_index: int, heads: list[int], num_heads: int) -> dict:
    """What the view shows beside the head chips while these heads are selected."""
    return {"layer": layer_index, "heads": heads, "of": num_heads, "rule": RULE}
