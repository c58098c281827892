"""Exact and pooled tiles (``summary_kernel.qk_window``: the compiled loop at r = 1, BLAS
scores in row chunks pooled compiled at r > 1) against dense softmax in numpy, over windows
wide enough to take many chunks."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget.widget.summary_kernel import qk_window

T, D = 1500, 16


def dense(causal: bool):
    rng = np.random.default_rng(3)
    q = rng.normal(size=(T, D)).astype(np.float32)
    k = rng.normal(size=(T, D)).astype(np.float32)
    scale = np.float32(0.7)
    s = (q * scale) @ k.T
    if causal:
        s[np.triu_indices(T, 1)] = -np.inf
    m = s.max(1)
    w = np.exp(s - m[:, None])
    z = w.sum(1)
    return q, np.ascontiguousarray(k.T), scale, m.astype(np.float32), z.astype(np.float32), w / z[:, None]


def pooled(weights: np.ndarray, r0: int, c0: int, cells: int, r: int) -> np.ndarray:
    """Each r x r block's largest weight, zeros past the matrix."""
    out = np.zeros((cells, cells), np.float32)
    part = weights[r0 : r0 + cells * r, c0 : c0 + cells * r]
    for a in range(0, part.shape[0], r):
        for b in range(0, part.shape[1], r):
            out[a // r, b // r] = part[a : a + r, b : b + r].max()
    return out


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(
    ("r0", "c0", "cells", "r"), [(0, 0, 256, 4), (700, 100, 256, 2), (1300, 0, 256, 1), (37, 11, 100, 3)]
)
def test_tiles_equal_dense_softmax(causal, r0, c0, cells, r):
    q, kt, scale, m, z, weights = dense(causal)
    out = np.empty((cells, cells), np.float32)
    qk_window(q, kt, scale, causal, m, z, r0, c0, cells, r, False, out)
    assert np.abs(out - pooled(weights, r0, c0, cells, r)).max() < 2e-5


def test_skip_first_reads_key_zero_as_nothing():
    q, kt, scale, m, z, weights = dense(True)
    out = np.empty((64, 64), np.float32)
    qk_window(q, kt, scale, True, m, z, 200, 0, 64, 4, True, out)
    without = weights.copy()
    without[:, 0] = 0
    assert np.abs(out - pooled(without, 200, 0, 64, 4)).max() < 2e-5
