"""What is particular to the CPU's compiled pass (attnwidget/corpus/compiled.py). That its sums are
SPEC's is checked with the tensor code in test_metrics.py, test_analysis.py and
test_spec_crosscheck.py (the ``metrics_code`` fixture runs them with both)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from test_metrics import random_items

from attnwidget.corpus import compiled as fused
from attnwidget.corpus.metrics import BASELINE_OFFSETS, ENTROPY_MIN_MASS, VARIABILITY_WINDOW, HeadSums


def test_row_sums_match_float64_arithmetic():
    rng = np.random.default_rng(0)
    # Whole range of float32 weights: exact 0 and 1, subnormals, both sides of √2 in the
    # mantissa, powers of two, long and short rows.
    special = np.array(
        [0.0, 1.0, 0.5, 0.25, 1e-45, 1e-40, 1e-30, 0.7071067, 0.7071068, 0.9999999, 1e-3], dtype=np.float32
    )
    rows = [
        special,
        rng.random(7, dtype=np.float32),
        rng.random(300, dtype=np.float32) ** 8,
        rng.dirichlet(np.full(40, 0.1)).astype(np.float32),
    ]
    for row in rows:
        counted = (rng.random(len(row)) < 0.8).astype(np.float32)
        position = np.arange(len(row), dtype=np.float32)
        for theta in (-1.0, 0.05):
            total, plogm, reach = fused.row_sums(
                row, row.view(np.int32), counted, position, 0, len(row), 3, np.float32(theta)
            )
            m = row.astype(np.float64) * counted
            m = m * (m > theta)
            with np.errstate(divide="ignore", invalid="ignore"):
                want_plogm = np.sum(np.where(m > 0, m * np.log(np.where(m > 0, m, 1.0)), 0.0))
            assert total == pytest.approx(m.sum(), rel=1e-6, abs=1e-12)
            assert plogm == pytest.approx(want_plogm, rel=1e-6, abs=1e-9)
            assert reach == pytest.approx(np.sum(m * np.abs(np.arange(len(row)) - 3)), rel=1e-6, abs=1e-9)
            assert math.isfinite(plogm)


def _batch(items, L, H):
    T = max(len(s) for s, _ in items)
    att = torch.zeros(len(items), L, H, T, T)
    for b, (s, a) in enumerate(items):
        att[b, :, :, : len(s), : len(s)] = torch.from_numpy(a)
    sums = HeadSums(L, H, causal=False)
    features = sums.features([s for s, _ in items]).widen(T)
    return att, torch.tensor([len(s) for s, _ in items]), features, sums


def _sums(att, lengths, features, sums, threads, min_attention=None):
    return fused.batch_sums(
        att,
        lengths,
        features,
        len(sums.pos_vocab),
        len(sums.deprel_vocab),
        False,
        min_attention,
        ENTROPY_MIN_MASS,
        VARIABILITY_WINDOW,
        BASELINE_OFFSETS,
        threads=threads,
    )


@pytest.mark.parametrize("min_attention", [None, 0.2])
def test_thread_count_does_not_change_a_bit(min_attention):
    # Each head's sums are added by one thread in one order, however the heads are split.
    att, lengths, features, sums = _batch(random_items(3, 12, L=3, H=5), 3, 5)
    one = _sums(att, lengths, features, sums, 1, min_attention)
    for threads in (2, 4, 15):
        many = _sums(att, lengths, features, sums, threads, min_attention)
        for name, value in one.sums.items():
            assert torch.equal(value, many.sums[name]), name
        assert torch.equal(one.cell_values, many.cell_values) and torch.equal(one.cell_ids, many.cell_ids)
        assert torch.equal(one.best, many.best) and torch.equal(one.best_i, many.best_i)
        assert torch.equal(one.best_j, many.best_j)


def test_lengths_past_the_attention_are_refused():
    # The compiled loops do not check indices: a bad length must stop before them.
    att, lengths, features, sums = _batch(random_items(4, 3), 2, 3)
    with pytest.raises(ValueError, match="do not fit"):
        _sums(att, lengths + 1, features, sums, 1)
    with pytest.raises(ValueError, match="do not fit"):
        _sums(att[:, :, :, :-1, :-1], lengths, features, sums, 1)


def test_padding_may_hold_junk_even_nan():
    # Weights past each sentence are never read (the forward pass leaves padded rows as the
    # model made them).
    items = random_items(5, 6)
    att, lengths, features, sums = _batch(items, 2, 3)
    clean = _sums(att, lengths, features, sums, 1)
    for b, n in enumerate(lengths.tolist()):
        att[b, :, :, n:, :] = float("nan")
        att[b, :, :, :, n:] = float("nan")
    junk = _sums(att, lengths, features, sums, 1)
    for name, value in clean.sums.items():
        assert torch.equal(value, junk.sums[name]), name


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_fresh_worker_threads():
    # The parent's pool is started first; the child must not hand work to its dead threads.
    import multiprocessing

    att, lengths, features, sums = _batch(random_items(6, 5), 2, 3)
    want = _sums(att, lengths, features, sums, 2).sums["mass"]
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        got = pool.apply_async(
            _mass_in_child, (att, lengths, features, len(sums.pos_vocab), len(sums.deprel_vocab))
        ).get(timeout=60)
    assert torch.equal(got, want)


def _mass_in_child(att, lengths, features, n_pos, n_rel):
    return fused.batch_sums(
        att,
        lengths,
        features,
        n_pos,
        n_rel,
        False,
        None,
        ENTROPY_MIN_MASS,
        VARIABILITY_WINDOW,
        BASELINE_OFFSETS,
        threads=2,
    ).sums["mass"]


def test_without_numba_the_tensor_code_does_the_work(monkeypatch, minilm):
    # numba missing (or unable to compile or cache here): a warning that says what to do,
    # and the same numbers from the tensor code.
    import sys

    from attnwidget.corpus import metrics
    from attnwidget.corpus.analysis import analyze

    texts = ["The cat sat on the mat.", "Dogs bark at night."]
    with_numba = analyze(texts, model=minilm, progress=False).to_frame()
    monkeypatch.setitem(sys.modules, "attnwidget.corpus.compiled", None)  # the import now fails
    metrics._fused_available.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="pip install numba"):
            without = analyze(texts, model=minilm, progress=False).to_frame()
    finally:
        metrics._fused_available.cache_clear()
    np.testing.assert_allclose(
        without.value.to_numpy(dtype=float), with_numba.value.to_numpy(dtype=float), rtol=1e-5, atol=1e-6
    )
