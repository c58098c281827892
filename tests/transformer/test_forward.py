"""Batched forward passes return per-sentence attention equal to single runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnwidget.text.sentence import align, annotate
from attnwidget.transformer.forward import attention, iter_attention_batches

TEXTS = [
    "The cat sat.",
    "A much longer sentence, with several clauses, that the model reads in one go.",
    "Zoë visited 東京 😀 twice.",
    "Short.",
    "Is this the last one?",
]


@pytest.mark.parametrize("fixture", ["minilm", "gpt2_small", "bert_small", "t5_small"])
def test_batched_equals_single_and_rows_sum_to_one(fixture, request):
    model = request.getfixturevalue(fixture)
    sentences = [annotate(t, model, annotations=None) for t in TEXTS]
    batched = attention(model, sentences, batch_size=3)
    for s, a in zip(sentences, batched):
        assert a.dtype == np.float32
        assert a.shape == (model.num_layers, model.num_heads, len(s), len(s))
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
        single = attention(model, [s], batch_size=1)[0]
        np.testing.assert_allclose(a, single, atol=1e-5)


def test_causal_model_never_looks_ahead(gpt2_small):
    s = annotate(TEXTS[1], gpt2_small, annotations=None)
    a = attention(gpt2_small, [s])[0]
    assert np.abs(np.triu(a, k=1)).max() == 0


def test_batches_are_padded_with_zeros_and_cover_every_sentence(minilm):
    sentences = [align(t, minilm) for t in TEXTS]
    seen = []
    for batch in iter_attention_batches(minilm, sentences, batch_size=2):
        width = batch.attention.shape[-1]
        for b, n in enumerate(batch.lengths.tolist()):
            assert batch.attention[b, :, :, n:, :].abs().sum() == 0
            assert batch.attention[b, :, :, :, n:].abs().sum() == 0
        assert width == max(len(s) for s in batch.sentences)
        seen += batch.indices
    assert sorted(seen) == list(range(len(TEXTS)))
    # longest first
    assert len(sentences[seen[0]]) == max(len(s) for s in sentences)


def test_batch_shrinks_for_long_inputs(minilm):
    sentences = [align("word " * 200, minilm)] * 3
    sizes = [
        len(b.indices) for b in iter_attention_batches(minilm, sentences, batch_size=8, max_batch_bytes=20_000_000)
    ]
    assert sizes == [1, 1, 1]


def test_joined_batches_keep_each_sentence_and_pad_with_zeros(minilm):
    from attnwidget.transformer.forward import AttentionBatch

    sentences = [align(t, minilm) for t in TEXTS]
    batches = list(iter_attention_batches(minilm, sentences, batch_size=2))
    joined = AttentionBatch.join(batches)
    assert joined.indices == [i for b in batches for i in b.indices]
    assert joined.lengths.tolist() == [len(sentences[i]) for i in joined.indices]
    width = max(len(s) for s in sentences)
    assert joined.attention.shape == (len(TEXTS), minilm.num_layers, minilm.num_heads, width, width)
    row = 0
    for b in batches:
        n, t = b.attention.shape[0], b.attention.shape[-1]
        assert torch.equal(joined.attention[row : row + n, ..., :t, :t], b.attention)
        assert joined.attention[row : row + n, ..., t:, :].abs().sum() == 0
        assert joined.attention[row : row + n, ..., :, t:].abs().sum() == 0
        row += n
    assert AttentionBatch.join(batches[:1]) is batches[0]
