"""A plain per-pair reference of SPEC.md §2–§5, written straight from the text.

Loops run over sentences and token pairs (i, j) in Python; the layer × head axes are
numpy arrays only to keep the loops few. Nothing here is shared with attnwidget/corpus/metrics.py.
Other test modules import :func:`reference_frame` and :func:`reference_exemplars`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

N = 10  # variability window
DIRECTIONS = ("child_to_parent", "parent_to_child", "either")


def _per_token(sentence):
    """(annotated, word, headword, pos, deprel) per token, from the word-level syntax."""
    syn = sentence.syntax
    words = [int(w) for w in sentence.token_word]
    ann = [w >= 0 for w in words]
    headword = [syn.heads[w] if w >= 0 else -1 for w in words]
    pos = [syn.upos[w] if w >= 0 else None for w in words]
    deprel = [syn.deprels[w] if w >= 0 else None for w in words]
    return ann, words, headword, pos, deprel


def _counted(ann, i, j, causal):
    return ann[i] and ann[j] and j != 0 and (not causal or j <= i)


def _dep(words, headword, i, j):
    if words[i] == words[j]:
        return (False, False, False)
    c2p = headword[i] >= 0 and headword[i] == words[j]
    p2c = headword[j] >= 0 and headword[j] == words[i]
    return (c2p, p2c, c2p or p2c)


def reference_frame(items, causal: bool, min_attention: float | None = None) -> pd.DataFrame:
    """Tidy table (metric, layer, head, key, value) for ``items`` = [(sentence, attention
    [L, H, T, T]), ...]; ``sentence`` has ``token_word`` and ``syntax``."""
    L, H = items[0][1].shape[:2]
    zero = lambda: np.zeros((L, H))

    def thr(a):
        a = np.asarray(a, dtype=np.float64)
        return a if min_attention is None else a * (a > min_attention)

    first_sum, first_n = zero(), 0
    mass, dist_sum = zero(), zero()
    pos_to, pos_from, dep_to = defaultdict(zero), defaultdict(zero), defaultdict(zero)
    dep_align = {d: zero() for d in DIRECTIONS}
    ent_sum, ent_n = zero(), zero()
    pairs, dep_pairs, pos_pairs = 0, dict.fromkeys(DIRECTIONS, 0), defaultdict(int)
    blocks = []  # (attention block, counted mask) of sentences with ≥ N tokens
    for sentence, att in items:
        ann, words, headword, pos, deprel = _per_token(sentence)
        T = len(words)
        for i in range(1, T):
            if ann[i]:
                first_sum += thr(att[:, :, i, 0])
                first_n += 1
        for i in range(T):
            row_weights = []
            for j in range(T):
                if not _counted(ann, i, j, causal):
                    continue
                a = thr(att[:, :, i, j])
                row_weights.append(a)
                mass += a
                pos_to[pos[j]] += a
                pos_from[pos[i]] += a
                dep_to[deprel[j]] += a
                dist_sum += a * abs(i - j)
                for d, hit in zip(DIRECTIONS, _dep(words, headword, i, j)):
                    if hit:
                        dep_align[d] += a
                        dep_pairs[d] += 1
                pairs += 1
                pos_pairs[pos[j]] += 1
            if i >= 1 and ann[i] and row_weights:
                w = np.stack(row_weights)  # [n_targets, L, H]
                s = w.sum(0)
                keep = s >= 0.1  # rows that put less than 10% on counted targets are skipped
                with np.errstate(divide="ignore", invalid="ignore"):
                    p = w / s
                    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0.0)
                ent_sum += np.where(keep, -plogp.sum(0), 0.0)
                ent_n += keep
        if T >= N:
            mask = np.array([[_counted(ann, i, j, causal) for j in range(N)] for i in range(N)])
            blocks.append((thr(att[:, :, :N, :N]), mask))

    rows = []

    def put(metric, key, values):
        for layer in range(L):
            for head in range(H):
                rows.append((metric, layer, head, key, float(values[layer, head])))

    with np.errstate(divide="ignore", invalid="ignore"):
        put("first_token", "", first_sum / first_n)
        for tag, v in pos_to.items():
            put("pos_to", tag, v / mass)
        for tag, v in pos_from.items():
            put("pos_from", tag, v / mass)
        for d, v in dep_align.items():
            put("dep_align", d, v / mass)
        for rel, v in dep_to.items():
            put("dep_to", rel, v / mass)
        put("distance", "", dist_sum / mass)
        put("entropy", "", ent_sum / ent_n)
        if blocks:
            mean = np.mean([b for b, _ in blocks], axis=0)
            num, den = zero(), zero()
            for b, mask in blocks:
                for i in range(N):
                    for j in range(N):
                        if mask[i, j]:
                            num += np.abs(b[:, :, i, j] - mean[:, :, i, j])
                            den += b[:, :, i, j]
            put("variability", "", num / (2 * den))
    for d in DIRECTIONS:
        rows.append(("dep_align_baseline", None, None, d, dep_pairs[d] / pairs))
    for tag, n in pos_pairs.items():
        rows.append(("pos_frequency", None, None, tag, n / pairs))
    rows += _clark_rows(items, causal)
    return pd.DataFrame(rows, columns=["metric", "layer", "head", "key", "value"])


def word_matrix(sentence, att, causal):
    """SPEC §5's A[w, v] per head as {(w, v): [L, H]} over kept words, and the kept words."""
    ann, words, _, _, _ = _per_token(sentence)
    pieces = defaultdict(list)
    for k, w in enumerate(words):
        if w >= 0:
            pieces[w].append(k)
    kept = sorted(pieces)
    A = {}
    for w in kept:
        for v in kept:
            total = np.zeros(att.shape[:2])
            for i in pieces[w]:
                for j in pieces[v]:
                    if _counted(ann, i, j, causal):
                        total += att[:, :, i, j]
            A[w, v] = total / len(pieces[w])
    return A, kept


def _clark_rows(items, causal):
    L, H = items[0][1].shape[:2]
    correct = defaultdict(lambda: np.zeros((L, H)))  # (relation, direction) -> count
    total = defaultdict(int)
    offsets = (-3, -2, -1, 1, 2, 3)
    base = defaultdict(int)  # (relation, offset) -> correct
    for sentence, att in items:
        syn = sentence.syntax
        A, kept = word_matrix(sentence, att.astype(np.float64), causal)
        for w in kept:
            rel, gold = syn.deprels[w], syn.heads[w]
            if rel is None or rel in ("punct", "root") or gold not in kept:
                continue
            for r in (rel, "ALL"):
                total[r] += 1
                rank = kept.index(w)
                for k in offsets:
                    if 0 <= rank + k < len(kept) and kept[rank + k] == gold:
                        base[r, k] += 1
            candidates = [v for v in kept if v != w]  # ascending: the first maximum wins ties
            for direction in ("dependent_to_head", "head_to_dependent"):
                scores = np.stack([A[w, v] if direction == "dependent_to_head" else A[v, w] for v in candidates])
                best = scores.max(0)  # [L, H]
                predicted = np.array(candidates)[np.argmax(scores == best, axis=0)]
                hit = (best > 0) & (predicted == gold)
                for r in (rel, "ALL"):
                    correct[r, direction] += hit
    rows = []
    for r, n in total.items():
        for direction in ("dependent_to_head", "head_to_dependent"):
            values = correct[r, direction] / n
            for layer in range(L):
                for head in range(H):
                    rows.append(("head_accuracy", layer, head, f"{r}:{direction}", float(values[layer, head])))
        rows.append(("head_accuracy_baseline", None, None, r, max(base[r, k] for k in offsets) / n))
    return rows


def reference_exemplars(items, causal, k=3, ids=None):
    """{(layer, head): [(sentence id, i, j, weight), ...]} best first, ties by sentence id."""
    L, H = items[0][1].shape[:2]
    ids = list(range(len(items))) if ids is None else ids
    out = {}
    for layer in range(L):
        for head in range(H):
            ranked = []
            for sid, (sentence, att) in zip(ids, items):
                ann = [w >= 0 for w in sentence.token_word]
                best = None
                for i in range(len(ann)):
                    for j in range(len(ann)):
                        if i != j and _counted(ann, i, j, causal):
                            a = float(att[layer, head, i, j])
                            if best is None or a > best[3]:
                                best = (sid, i, j, a)
                if best is not None:
                    ranked.append(best)
            ranked.sort(key=lambda r: (-r[3], r[0]))
            out[layer, head] = ranked[:k]
    return out


def assert_same_exemplars(rows, expected):
    """Same sentences and pairs in the same order; weights equal up to float rounding (a
    sentence batched with others of another length is padded differently, and the model's
    matrix products round differently)."""
    strip = lambda r: {k: v for k, v in r.items() if k != "weight"}
    assert [strip(r) for r in rows] == [strip(r) for r in expected]
    np.testing.assert_allclose([r["weight"] for r in rows], [r["weight"] for r in expected], rtol=1e-5, atol=1e-6)


def compare_frames(got: pd.DataFrame, want: pd.DataFrame, atol=1e-5, rtol=0.0) -> None:
    """Every reference row is present in ``got`` with the same value (NaN == NaN)."""
    key = ["metric", "layer", "head", "key"]
    got = got.copy()
    want = want.copy()
    for frame in (got, want):
        frame["layer"] = frame["layer"].astype("Float64").fillna(-1).astype(int)
        frame["head"] = frame["head"].astype("Float64").fillna(-1).astype(int)
        frame["key"] = frame["key"].fillna("").astype(str)
    merged = want.merge(got, on=key, how="left", suffixes=("_want", "_got"), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"rows missing from the result:\n{missing.head(20)}"
    a, b = merged["value_want"].to_numpy(float), merged["value_got"].to_numpy(float)
    same = np.isclose(a, b, atol=atol, rtol=rtol) | (np.isnan(a) & np.isnan(b))
    bad = merged[~same]
    assert bad.empty, f"{len(bad)} values differ:\n{bad.head(20).to_string()}"
    # and nothing extra with a non-zero value
    extra = got.merge(want, on=key, how="left", indicator=True)
    extra = extra[(extra["_merge"] == "left_only") & (extra["value_x"].fillna(0) != 0)]
    assert extra.empty, f"unexpected rows:\n{extra.head(20)}"
