"""SPEC §3–§5 per-head sums of one CPU batch in a single compiled pass over its attention.

The tensor code of :class:`attnwidget.corpus.metrics.HeadSums` (used on accelerators) reads the
``[B, L, H, T, T]`` attention a dozen times over in eager torch operations, and for EWT's
short sentences each of those costs more than its arithmetic: on the CPU the metrics were
~15% of a corpus pass. Here a numba-compiled loop visits each weight once and keeps one
sentence's word-pair sums (W×W) in a small scratch array while it works out everything
that needs them (tags, relations, Clark's predictions).

Heads are split across threads (the loop releases the GIL); each head's sums are added
by one thread in one fixed order, so the result does not depend on the thread count.
A row's own sums are float32, as in the tensor code; everything beyond a row is float64.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from numba import njit

#: Columns of the per-head scalar sums the kernel fills.
SCALARS = ("first_token", "mass", "distance", "entropy", "entropy_rows", "var_mass")

#: float32 constants of :func:`row_sums`' logarithm: ln 2, one unit of a float32
#: mantissa (2⁻²³), √2, and the atanh series' 1/3, 1/5, 1/7, 1/9.
_LN2, _MANTISSA_UNIT, _SQRT2 = np.float32(math.log(2.0)), np.float32(2.0**-23), np.float32(math.sqrt(2.0))
_THIRD, _FIFTH, _SEVENTH, _NINTH = (np.float32(1 / k) for k in (3, 5, 7, 9))


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def row_sums(row, bits, counted, position, lo, end, i, theta):  # pragma: no cover - compiled
    """(Σ m, Σ m ln m, Σ m |i − j|) over columns ``lo``..``end`` of one attention row, where
    m = α·1[α > θ] on counted columns (``counted``: 1.0 or 0.0) and 0 elsewhere; ``bits``
    is the row seen as int32, ``position`` holds j as float32, θ < 0 means none.

    Written so LLVM can vectorise it: no calls, no branches, float32 throughout (int64 has
    no vector conversion to float on AVX2), sums reassociated. ``math.log`` is a scalar
    libm call, and was a third of the compiled pass. ln m comes from the float's bits:
    m = 2^e · f, f in [√½, √2), ln f = 2 atanh(t) with t = (f − 1)/(f + 1), |t| < 0.172,
    by its series to t⁹ (truncation < 1e-9; the float32 arithmetic rounds at ~1e-7, as a
    float32 log does). m = 0 reads as e = −127, f = 1: finite, so m ln m = 0 with no test."""
    one, half = np.float32(1.0), np.float32(0.5)
    at = np.float32(i)
    total = plogm = reach = np.float32(0.0)
    for j in range(lo, end):
        x = row[j] * counted[j]
        m = x * np.float32(x > theta)
        k = bits[j]
        f = one + np.float32(k & np.int32(0x7FFFFF)) * _MANTISSA_UNIT
        big = np.float32(f > _SQRT2)
        f = f * (one - half * big)
        e = np.float32((k >> np.int32(23)) - np.int32(127)) + big
        t = (f - one) / (f + one)
        t2 = t * t
        ln_f = np.float32(2.0) * t * (one + t2 * (_THIRD + t2 * (_FIFTH + t2 * (_SEVENTH + t2 * _NINTH))))
        total += m
        plogm += m * (e * _LN2 + ln_f)
        reach += m * abs(position[j] - at)
    return total, plogm, reach


@njit(nogil=True, cache=True, error_model="numpy")
def _sentence_heads(
    att,
    lo,
    hi,
    word,
    pos,
    lengths,
    word_head,
    word_rel,
    word_pos,
    evaluated,
    n_pieces,
    causal,
    theta,
    has_theta,
    entropy_min_mass,
    window,
    cell_index,
    scalars,
    pos_to,
    pos_from,
    dep_align,
    dep_to,
    head_correct,
    var_sum,
    cell_values,
    best,
    best_i,
    best_j,
):  # pragma: no cover - compiled
    """Heads ``lo``..``hi`` of the batch (heads flattened over layers), added into the
    outputs' rows for those heads. See :func:`batch_sums` for the arrays."""
    B, _, T, _ = att.shape
    width = word_head.shape[1]
    att_bits = att.view(np.int32)
    counted = np.zeros(T, dtype=np.float32)  # 1 for the columns of annotated tokens
    position = np.arange(T).astype(np.float32)
    theta32 = np.float32(theta)
    pair = np.zeros((width, width))  # Σ α' over the pieces of word w (row) and word v
    raw = np.zeros((width, width)) if has_theta else pair  # the same of α, for Clark
    target_col, beaten_col = np.empty(width), np.empty(width, dtype=np.int64)  # Clark by columns
    received = np.empty(width)
    # Sentence by sentence, then head by head: the attention is read in memory order, and
    # each head's sums still grow by sentence in the same order whatever the thread split.
    for b in range(B):
        n = lengths[b]
        words = 0
        for t in range(n):
            words = max(words, word[b, t] + 1)
            counted[t] = 1.0 if word[b, t] >= 0 else 0.0
        for lh in range(lo, hi):
            first_token = mass = distance = entropy = entropy_rows = var_mass = 0.0
            pair[:words, :words] = 0.0
            if has_theta:
                raw[:words, :words] = 0.0
            top, top_i, top_j = -np.inf, -1, -1
            a, bits = att[b, lh], att_bits[b, lh]
            for i in range(n):
                w = word[b, i]
                if w < 0:
                    continue
                if i >= 1:  # the null-attention share reads α'_{i,0}, counted or not
                    x = a[i, 0]
                    first_token += x if not has_theta or x > theta else 0.0
                end = i + 1 if causal else n
                row, plogm, reach = row_sums(a[i], bits[i], counted, position, 1, end, i, theta32)
                for j in range(1, end):
                    v = word[b, j]
                    if v < 0:
                        continue
                    x = a[i, j]
                    if has_theta:
                        pair[w, v] += x if x > theta else np.float32(0.0)
                        raw[w, v] += x
                    else:
                        pair[w, v] += x
                    if x > top and i != j:  # strict: ties keep the first in row-major order
                        top, top_i, top_j = x, i, j
                mass += row
                distance += reach
                if pos[b, i] >= 0:
                    pos_from[lh, pos[b, i]] += row
                if i >= 1 and row >= entropy_min_mass:
                    # entropy of the row renormalised: log s − Σ m log m / s (≥ 0 up to rounding)
                    entropy += max(math.log(row) - plogm / row, 0.0)
                    entropy_rows += 1.0
            best[b, lh], best_i[b, lh], best_j[b, lh] = top, top_i, top_j
            if n >= window and window <= T:
                for i in range(window):
                    for j in range(window):
                        x = a[i, j]
                        x = x if not has_theta or x > theta else np.float32(0.0)
                        var_sum[lh, i, j] += x
                        c = cell_index[b, i, j]
                        if c >= 0:
                            var_mass += x
                            cell_values[c, lh] = x
            received[:words] = 0.0  # by the pieces of each word v
            for w in range(words):
                for v in range(words):
                    received[v] += pair[w, v]
            for v in range(words):
                if word_pos[b, v] >= 0:
                    pos_to[lh, word_pos[b, v]] += received[v]
                if word_rel[b, v] >= 0:
                    dep_to[lh, word_rel[b, v]] += received[v]
            for w in range(words):
                h = word_head[b, w]
                if 0 <= h < words and h != w:
                    dep_align[lh, 0] += pair[w, h]
                    dep_align[lh, 1] += pair[h, w]
                    # either: (h, w) was counted already as (w', head(w')) when head(h) = w
                    dep_align[lh, 2] += pair[w, h] + (pair[h, w] if word_head[b, h] != w else 0.0)
            # Clark et al.: A[w, v] = Σ α over the pieces of w and v / the pieces of w. A word
            # is right when its head h is its best v ≠ w, the first on ties, with A > 0: no v
            # before h scores as much, none after it more. Counting the v that break this is
            # branch-free, so it vectorises, where an argmax loop does not. By rows (w → v)
            # the divisor is one number, so the sums rank alike; by columns it is not.
            for w in range(words):
                h = word_head[b, w] if evaluated[b, w] else 0
                target_col[w] = raw[h, w] / n_pieces[b, h]
                beaten_col[w] = 0
            for v in range(words):
                pieces = n_pieces[b, v]
                for w in range(words):
                    score = raw[v, w] / pieces
                    h = word_head[b, w]
                    beaten_col[w] += (v != w) & ((score > target_col[w]) | ((score == target_col[w]) & (v < h)))
            for w in range(words):
                if not evaluated[b, w]:
                    continue
                h, r = word_head[b, w], word_rel[b, w]
                target = raw[w, h]
                beaten = 0
                for v in range(words):
                    score = raw[w, v]
                    beaten += (v != w) & ((score > target) | ((score == target) & (v < h)))
                if beaten == 0 and target > 0:
                    head_correct[lh, 0, r] += 1.0
                if beaten_col[w] == 0 and target_col[w] > 0:
                    head_correct[lh, 1, r] += 1.0
            scalars[lh, 0] += first_token
            scalars[lh, 1] += mass
            scalars[lh, 2] += distance
            scalars[lh, 3] += entropy
            scalars[lh, 4] += entropy_rows
            scalars[lh, 5] += var_mass


@njit(nogil=True, cache=True)
def _sentence_structure(
    word,
    head,
    pos,
    rel,
    lengths,
    causal,
    window,
    offsets,
    width,
    word_head,
    word_rel,
    word_pos,
    evaluated,
    n_pieces,
    cell_index,
    cell_ids,
    corpus,
    dep_pairs,
    pos_pairs,
    head_words,
    baseline_correct,
):  # pragma: no cover - compiled
    """Per sentence: its words' head, relation, tag, pieces and whether Clark's task scores
    them; each counted cell's row among the variability cells (-1: not kept); and the sums
    that do not depend on the attention (``corpus``: first-token rows, counted pairs,
    sentences with ≥ N tokens). Returns the number of variability cells."""
    B, T = word.shape
    kept_cells = 0
    rank = np.empty(width, dtype=np.int64)
    word_at_rank = np.empty(width, dtype=np.int64)
    for b in range(B):
        n = lengths[b]
        word_head[b, :] = -1
        word_rel[b, :] = -1
        word_pos[b, :] = -1
        n_pieces[b, :] = 0.0
        for t in range(n):
            w = word[b, t]
            if w < 0:
                continue
            # every piece of a word carries the word's head, relation and tag
            word_head[b, w], word_rel[b, w], word_pos[b, w] = head[b, t], rel[b, t], pos[b, t]
            n_pieces[b, w] += 1.0
            if t >= 1:
                corpus[0] += 1.0  # an attending token of first_token
        kept = 0
        for w in range(width):
            h = word_head[b, w]
            evaluated[b, w] = n_pieces[b, w] > 0 and word_rel[b, w] >= 0 and h >= 0 and h < width and n_pieces[b, h] > 0
            if n_pieces[b, w] > 0:
                rank[w] = kept
                word_at_rank[kept] = w
                kept += 1
        for w in range(width):
            if not evaluated[b, w]:
                continue
            head_words[word_rel[b, w]] += 1.0
            for k in range(len(offsets)):  # the fixed-offset baseline counts kept words
                target = rank[w] + offsets[k]
                if 0 <= target < kept and word_at_rank[target] == word_head[b, w]:
                    baseline_correct[k, word_rel[b, w]] += 1.0
        long_enough = n >= window and window <= T
        corpus[2] += long_enough
        for i in range(n):
            wi = word[b, i]
            if wi < 0:
                continue
            for j in range(1, i + 1 if causal else n):
                wj = word[b, j]
                if wj < 0:
                    continue
                corpus[1] += 1.0
                if pos[b, j] >= 0:
                    pos_pairs[pos[b, j]] += 1.0
                if wi != wj:
                    child_to_parent = word_head[b, wi] == wj
                    parent_to_child = word_head[b, wj] == wi
                    dep_pairs[0] += child_to_parent
                    dep_pairs[1] += parent_to_child
                    dep_pairs[2] += child_to_parent or parent_to_child
                if long_enough and i < window and j < window:
                    cell_index[b, i, j] = kept_cells
                    cell_ids[kept_cells] = i * window + j
                    kept_cells += 1
    return kept_cells


@dataclass
class FusedContribution:
    """One batch's sums (float64 tensors, by the names of ``metrics.HeadSums.sums``: per
    head ``[L, H, ...]``, corpus-wide as they are), its variability cells, and each
    sentence's largest counted off-diagonal α per head ``[B, L, H]`` with its (i, j)."""

    sums: dict[str, torch.Tensor]
    cell_values: torch.Tensor
    cell_ids: torch.Tensor
    best: torch.Tensor
    best_i: torch.Tensor
    best_j: torch.Tensor

    def locate(self, rows, layers, heads):
        return self.best_i[rows, layers, heads], self.best_j[rows, layers, heads]


#: Worker threads by their number (kept: starting threads for every batch costs more
#: than a small batch's sums).
_POOLS: dict[int, ThreadPoolExecutor] = {}
if hasattr(os, "register_at_fork"):
    # A forked child has none of the parent's threads; a pool it inherited would take work
    # and never run it.
    os.register_at_fork(after_in_child=_POOLS.clear)


def _pool(threads: int) -> ThreadPoolExecutor:
    pool = _POOLS.get(threads)
    if pool is None:
        pool = _POOLS.setdefault(threads, ThreadPoolExecutor(threads, thread_name_prefix="attnwidget-metrics"))
    return pool


def batch_sums(
    attention: torch.Tensor,
    lengths: torch.Tensor,
    features,
    n_pos: int,
    n_rel: int,
    causal: bool,
    min_attention: float | None,
    entropy_min_mass: float,
    window: int,
    offsets,
    threads: int | None = None,
) -> FusedContribution:
    """Every SPEC §3–§5 sum of one CPU batch: ``attention`` ``[B, L, H, T, T]`` (weights
    past each of ``lengths`` may hold anything finite), ``features`` a
    :class:`~attnwidget.corpus.metrics.TokenFeatures` widened to T. ``offsets``: the fixed-offset
    baseline's. ``threads``: threads for the heads (default: torch's)."""
    B, L, H, T, _ = attention.shape
    LH = L * H
    att = attention.float().contiguous().view(B, LH, T, T).numpy()
    ids = lambda t: np.ascontiguousarray(t.numpy(), dtype=np.int64)  # noqa: E731
    word, head, pos, rel = ids(features.word), ids(features.head), ids(features.pos), ids(features.deprel)
    n = ids(lengths)
    # The compiled loops do not check their indices: a length past the arrays would read
    # other memory, so it is refused here.
    if (
        n.shape != (B,)
        or any(x.shape != (B, T) for x in (word, head, pos, rel))
        or (B and not 0 <= n.min() <= n.max() <= T)
    ):
        raise ValueError(
            f"lengths {n.tolist()} and token features {word.shape} do not fit attention of {B} sentences × {T} tokens"
        )
    if int(pos.max(initial=-1)) >= n_pos or int(rel.max(initial=-1)) >= n_rel:
        raise ValueError("tag or relation ids beyond the vocabularies")
    width = max(int(word.max(initial=-1)), int(head.max(initial=-1))) + 1
    z = lambda *shape: np.zeros(shape)  # noqa: E731

    word_head, word_rel, word_pos = (np.empty((B, width), dtype=np.int64) for _ in range(3))
    evaluated, n_pieces = np.empty((B, width), dtype=np.bool_), np.empty((B, width))
    cell_index = np.full((B, window, window), -1, dtype=np.int64)
    cell_ids = np.empty(B * window * window, dtype=np.int16)
    corpus, dep_pairs, pos_pairs, head_words = z(3), z(3), z(n_pos), z(n_rel)
    baseline_correct = z(len(offsets), n_rel)
    n_cells = _sentence_structure(
        word,
        head,
        pos,
        rel,
        n,
        causal,
        window,
        np.asarray(offsets, dtype=np.int64),
        width,
        word_head,
        word_rel,
        word_pos,
        evaluated,
        n_pieces,
        cell_index,
        cell_ids,
        corpus,
        dep_pairs,
        pos_pairs,
        head_words,
        baseline_correct,
    )

    scalars, pos_to, pos_from = z(LH, len(SCALARS)), z(LH, n_pos), z(LH, n_pos)
    dep_align, dep_to, head_correct = z(LH, 3), z(LH, n_rel), z(LH, 2, n_rel)
    var_sum = z(LH, window, window)
    cell_values = np.zeros((n_cells, LH), dtype=np.float32)
    best = np.empty((B, LH), dtype=np.float32)
    best_i, best_j = np.empty((B, LH), dtype=np.int64), np.empty((B, LH), dtype=np.int64)
    theta = -1.0 if min_attention is None else float(min_attention)

    def run(lo, hi):
        _sentence_heads(
            att,
            lo,
            hi,
            word,
            pos,
            n,
            word_head,
            word_rel,
            word_pos,
            evaluated,
            n_pieces,
            causal,
            theta,
            min_attention is not None,
            entropy_min_mass,
            window,
            cell_index,
            scalars,
            pos_to,
            pos_from,
            dep_align,
            dep_to,
            head_correct,
            var_sum,
            cell_values,
            best,
            best_i,
            best_j,
        )

    threads = max(1, min(threads or torch.get_num_threads(), LH))
    if threads == 1:
        run(0, LH)
    else:
        bounds = np.linspace(0, LH, threads + 1).astype(int)
        for done in [_pool(threads).submit(run, lo, hi) for lo, hi in itertools.pairwise(bounds)]:
            done.result()

    per_head = lambda x: torch.from_numpy(x).view(L, H, *x.shape[1:])  # noqa: E731
    sums = {name: per_head(np.ascontiguousarray(scalars[:, k])) for k, name in enumerate(SCALARS)}
    sums.update(
        pos_to=per_head(pos_to),
        pos_from=per_head(pos_from),
        dep_align=per_head(dep_align),
        dep_to=per_head(dep_to),
        head_correct=per_head(head_correct),
        var_sum=per_head(var_sum),
    )
    sums.update(
        {
            name: torch.tensor(corpus[k], dtype=torch.float64)
            for k, name in enumerate(("first_token_rows", "pairs", "var_sentences"))
        }
    )
    sums.update(
        dep_pairs=torch.from_numpy(dep_pairs),
        pos_pairs=torch.from_numpy(pos_pairs),
        head_words=torch.from_numpy(head_words),
        baseline_correct=torch.from_numpy(baseline_correct),
    )
    located = lambda x: torch.from_numpy(x).view(B, L, H)  # noqa: E731
    return FusedContribution(
        sums,
        torch.from_numpy(cell_values).view(n_cells, L, H),
        torch.from_numpy(cell_ids[:n_cells]),
        located(best),
        located(best_i),
        located(best_j),
    )
