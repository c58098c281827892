"""Paths of the data the tests read, and made-up attention (importable from any test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
EWT_DEV = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
HARD_CASES = TESTS / "data" / "hard_cases.conllu"
CLEAN = TESTS / "data" / "clean.conllu"  # valid: a multiword token, an empty node, no # text
ODD_UNICODE = TESTS / "data" / "odd_unicode.conllu"  # NFD, emoji ZWJ sequences, RTL, Indic


def softmax_attention(layers, heads, n, causal=True, seed=0, scale=2.0):
    """Random attention ``[layers, heads, n, n]`` whose rows are softmaxes (causal: lower triangle)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(layers, heads, n, n)) * scale
    if causal:
        logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    a = np.exp(logits - logits.max(-1, keepdims=True))
    return (a / a.sum(-1, keepdims=True)).astype(np.float32)
