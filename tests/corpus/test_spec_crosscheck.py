"""analyze() against an independent, plain reading of SPEC.md (tests/spec_reference.py).

Real EWT sentences with gold syntax, the real MiniLM (bidirectional, with [CLS]/[SEP]) and
a GPT-2-shaped causal model (byte-level BPE, no special tokens, so position 0 is a word).
"""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget.corpus.analysis import analyze
from attnwidget.text.sentence import align
from attnwidget.transformer.forward import attention
from spec_reference import reference_exemplars, reference_head_accuracy, reference_metrics

N_SENTENCES = 24


def _corpus(model, ewt):
    """The first sentences that fit the model's window (the tiny GPT-2's is 128 tokens)."""
    fitting = [s for s in ewt[:60] if len(model.tokenizer(s.text)["input_ids"]) <= model.max_length]
    return fitting[:N_SENTENCES]


def _items(model, corpus):
    sentences = [align(s, model) for s in corpus]
    return list(zip(sentences, attention(model, sentences, batch_size=8)))


def _frame_value(frame, metric, key, layer=None, head=None):
    rows = frame[(frame.metric == metric)]
    rows = rows[rows.key.isna() | (rows.key == "")] if key is None else rows[rows.key == key]
    if layer is None:
        assert len(rows) == 1, (metric, key, rows)
        return float(rows.value.iloc[0])
    grid = np.full((int(rows.layer.max()) + 1, int(rows["head"].max()) + 1), np.nan)
    for r in rows.itertuples():
        grid[int(r.layer), int(r[3])] = r.value
    return grid


@pytest.mark.parametrize("fixture", ["minilm", "gpt2_small"])
@pytest.mark.parametrize("min_attention", [None, 0.3])
def test_every_metric_matches_the_independent_reading(fixture, min_attention, request, ewt, metrics_code):
    model = request.getfixturevalue(fixture)
    corpus = _corpus(model, ewt)
    items = _items(model, corpus)
    stats = analyze(
        corpus,
        model=model,
        annotations="gold",
        batch_size=5,
        min_attention=min_attention,
        progress=False,
    )
    frame = stats.to_frame()
    expected = reference_metrics(items, model.is_causal, model.num_layers, model.num_heads, min_attention)
    checked = 0
    for (metric, key), value in expected.items():
        if np.ndim(value) == 0:
            got = _frame_value(frame, metric, key)
        else:
            got = _frame_value(frame, metric, key, layer=True)
            value = np.nan_to_num(value, nan=np.nan)
        np.testing.assert_allclose(got, value, atol=1e-5, rtol=1e-4, err_msg=f"{metric} {key}")
        checked += 1
    assert checked > 30


@pytest.mark.parametrize("fixture", ["minilm", "gpt2_small"])
def test_exemplars_and_head_accuracy_match_the_independent_reading(fixture, request, ewt, metrics_code):
    model = request.getfixturevalue(fixture)
    corpus = _corpus(model, ewt)
    items = _items(model, corpus)
    stats = analyze(corpus, model=model, annotations="gold", batch_size=7, progress=False)
    for layer, head in [(0, 0), (1, model.num_heads - 1), (model.num_layers - 1, 2)]:
        want = reference_exemplars(items, model.is_causal, layer, head, k=3)
        got = stats.exemplars(layer, head)
        assert [(e["sentence"], e["i"], e["j"]) for e in got] == [w[:3] for w in want]
        np.testing.assert_allclose([e["weight"] for e in got], [w[3] for w in want], atol=1e-5)
    accuracy, baseline = reference_head_accuracy(items, model.is_causal, model.num_layers, model.num_heads)
    frame = stats.to_frame()
    for (relation, direction), grid in accuracy.items():
        got = _frame_value(frame, "head_accuracy", f"{relation}:{direction}", layer=True)
        np.testing.assert_allclose(got, grid, atol=1e-6, err_msg=f"{relation}:{direction}")
    for relation, value in baseline.items():
        assert _frame_value(frame, "head_accuracy_baseline", relation) == pytest.approx(value, abs=1e-9)
