"""A second, deliberately plain reading of SPEC.md §2–§5, written apart from attnwidget/corpus/metrics.py.

Slow loops over sentences, tokens and pairs, straight from the text of the spec, so that
the batched implementation is checked against an independent interpretation (the project
will be checked the same way). Input: a list of (AnnotatedSentence, attention [L,H,T,T]).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

N_VAR = 10
EXCLUDED_RELATIONS = {"punct", "root"}


def _counted(s, causal):
    word = s.token_word
    n = len(s)
    return [
        (i, j)
        for i in range(n)
        for j in range(n)
        if word[i] >= 0 and word[j] >= 0 and j != 0 and (not causal or j <= i)
    ]


def _dep(s, i, j, direction):
    heads = s.syntax.heads
    wi, wj = int(s.token_word[i]), int(s.token_word[j])
    if wi == wj:
        return False
    c2p = heads[wi] == wj
    p2c = heads[wj] == wi
    return {"child_to_parent": c2p, "parent_to_child": p2c, "either": c2p or p2c}[direction]


def reference_metrics(items, causal, num_layers, num_heads, min_attention=None):
    """Every §3 metric and §3 baseline: {(metric, key): array [L, H] or float}."""
    L, H = num_layers, num_heads

    def thr(a):
        return a * (a > min_attention) if min_attention is not None else a

    num = defaultdict(lambda: np.zeros((L, H)))
    den = np.zeros((L, H))
    first_sum, first_n = np.zeros((L, H)), 0
    ent_sum, ent_n = np.zeros((L, H)), np.zeros((L, H))
    pair_count = 0
    dep_count = defaultdict(int)
    pos_count = defaultdict(int)
    long_items = []
    for s, att in items:
        att = np.asarray(att, dtype=np.float64)
        pairs = _counted(s, causal)
        pos, rel = s.token_pos, s.token_deprel
        for i in range(1, len(s)):
            if s.token_word[i] >= 0:
                first_sum += thr(att[:, :, i, 0])
                first_n += 1
        for i, j in pairs:
            a = thr(att[:, :, i, j])
            den += a
            num["pos_to", pos[j]] += a
            num["pos_from", pos[i]] += a
            num["dep_to", rel[j]] += a
            num["distance", None] += a * abs(i - j)
            for d in ("child_to_parent", "parent_to_child", "either"):
                if _dep(s, i, j, d):
                    num["dep_align", d] += a
                    dep_count[d] += 1
            pos_count[pos[j]] += 1
            pair_count += 1
        by_row = defaultdict(list)
        for i, j in pairs:
            by_row[i].append(j)
        for i, targets in by_row.items():
            if i < 1:
                continue
            w = thr(att[:, :, i, targets])  # [L, H, k]
            mass = w.sum(-1)
            p = w / np.where(mass > 0, mass, 1)[..., None]
            h = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(-1)
            keep = mass >= 0.1
            ent_sum += np.where(keep, h, 0)
            ent_n += keep
        if len(s) >= N_VAR:
            long_items.append((s, att))
    with np.errstate(invalid="ignore", divide="ignore"):  # heads with no mass give NaN, as analyze does
        return _finish(
            num,
            den,
            first_sum,
            first_n,
            ent_sum,
            ent_n,
            dep_count,
            pos_count,
            pair_count,
            long_items,
            causal,
            L,
            H,
            thr,
        )


def _finish(
    num, den, first_sum, first_n, ent_sum, ent_n, dep_count, pos_count, pair_count, long_items, causal, L, H, thr
):
    out = {}
    for (metric, key), value in num.items():
        out[metric, key] = value / den
    out["first_token", None] = first_sum / first_n
    out["entropy", None] = ent_sum / ent_n
    for d, c in dep_count.items():
        out["dep_align_baseline", d] = c / pair_count
    for tag, c in pos_count.items():
        out["pos_frequency", tag] = c / pair_count
    if long_items:
        mean = np.mean([thr(att[:, :, :N_VAR, :N_VAR]) for _, att in long_items], axis=0)
        dev, mass = np.zeros((L, H)), np.zeros((L, H))
        for s, att in long_items:
            for i, j in _counted(s, causal):
                if i < N_VAR and j < N_VAR:
                    a = thr(att[:, :, i, j])
                    dev += np.abs(a - mean[:, :, i, j])
                    mass += a
        out["variability", None] = dev / (2 * mass)
    return out


def reference_exemplars(items, causal, layer, head, k=3):
    """(sentence index, i, j, weight) of the top-k sentences of one head (SPEC §4)."""
    best = []
    for index, (s, att) in enumerate(items):
        candidates = [(att[layer, head, i, j], i, j) for i, j in _counted(s, causal) if i != j]
        if candidates:
            w, i, j = max(candidates, key=lambda c: c[0])
            best.append((index, i, j, float(w)))
    best.sort(key=lambda r: -r[3])
    return best[:k]


def reference_head_accuracy(items, causal, num_layers, num_heads):
    """{(relation, direction): [L, H] accuracy} and {relation: best offset accuracy} (SPEC §5)."""
    correct = defaultdict(lambda: np.zeros((num_layers, num_heads)))
    total = defaultdict(int)
    offset_hits = defaultdict(lambda: defaultdict(int))
    for s, att in items:
        att = np.asarray(att, dtype=np.float64)
        pieces = s.word_tokens()
        kept = [w for w, p in enumerate(pieces) if p]
        counted = set(_counted(s, causal))
        A = np.zeros((num_layers, num_heads, len(kept), len(kept)))
        for a, w in enumerate(kept):
            for b, v in enumerate(kept):
                acc = 0
                for i in pieces[w]:
                    acc = acc + sum(att[:, :, i, j] for j in pieces[v] if (i, j) in counted)
                A[:, :, a, b] = acc / len(pieces[w])
        position = {w: a for a, w in enumerate(kept)}
        for a, w in enumerate(kept):
            rel, g = s.syntax.deprels[w], s.syntax.heads[w]
            if rel in EXCLUDED_RELATIONS or g < 0 or g not in position:
                continue
            target = position[g]
            for r in (rel, "ALL"):
                total[r] += 1
                for k in (-3, -2, -1, 1, 2, 3):
                    if a + k == target:
                        offset_hits[r][k] += 1
            for direction in ("dependent_to_head", "head_to_dependent"):
                scores = A[:, :, a, :] if direction == "dependent_to_head" else A[:, :, :, a]
                for layer in range(num_layers):
                    for head in range(num_heads):
                        row = [(scores[layer, head, b], b) for b in range(len(kept)) if b != a]
                        top = max(v for v, _ in row)
                        if top <= 0:
                            continue
                        pred = min(b for v, b in row if v == top)
                        if pred == target:
                            for r in (rel, "ALL"):
                                correct[r, direction][layer, head] += 1
    accuracy = {}
    for r in total:
        for direction in ("dependent_to_head", "head_to_dependent"):
            accuracy[r, direction] = correct[r, direction] / total[r]
    baseline = {r: max(offset_hits[r][k] for k in (-3, -2, -1, 1, 2, 3)) / total[r] for r in total}
    return accuracy, baseline


def entropy_row(p):
    return -sum(x * math.log(x) for x in p if x > 0)
