"""Long inputs, kernel side: queries and keys caught under sdpa, summarised per layer in
blocks, checked against the model's own eager attention (small T for speed; the 8,192-token
figures come from bench/long_inputs.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnwidget import load_model
from attnwidget.transformer.forward import forward_attention
from attnwidget.transformer.qk_capture import LongInputError, capture
from attnwidget.widget.attention_store import DenseStore
from attnwidget.widget.payload import quantise_sqrt
from attnwidget.widget.qk_store import QKStore
from tests.tiny_models import llama_long, tiny_bert, tiny_mistral

T = 300


@pytest.fixture(scope="module")
def llama():
    model, tok = llama_long(n_layer=2, n_head=8, n_kv_head=2, window=1024)
    return load_model((model, tok), device="cpu")


@pytest.fixture(scope="module")
def both(llama):
    """(QKStore, DenseStore of the eager weights, eager weights) on one T-token input."""
    ids = torch.randint(1, len(llama.tokenizer), (1, T), generator=torch.Generator().manual_seed(1))
    qk = capture(llama, ids, progress=False)
    eager = np.stack([w[0].numpy() for w in forward_attention(llama, ids, torch.ones_like(ids))])
    return QKStore(qk, overview_cells=64), DenseStore(eager, True, overview_cells=64), eager


def test_capture_keeps_vectors_and_gives_the_model_back(llama, both):
    store, _, _ = both
    assert store.qk.query.shape == (2, 8, T, 16) and store.qk.key.shape == (2, 2, T, 16)
    assert llama.model.config._attn_implementation == "eager"  # the registered name never stays


def test_overview_is_the_block_max_of_the_weights(both):
    store, _, eager = both
    B, P = store.block, store.cells
    assert (B, P) == (5, 60)
    for layer in range(2):
        ref = np.zeros((8, P * B, P * B), np.float32)
        ref[:, :T, :T] = eager[layer]
        want = quantise_sqrt(ref.reshape(8, P, B, P, B).max(axis=(2, 4)))
        assert np.abs(store.overview(layer).astype(int) - want).max() <= 1  # one quantisation step
        hf = ref.copy()
        hf[..., 0] = 0
        rest = 1 - eager[layer][..., :1]
        hf[:, :T, :T] = np.divide(hf[:, :T, :T], rest, out=np.zeros_like(hf[:, :T, :T]), where=rest > 1e-9)
        want_hf = quantise_sqrt(hf.reshape(8, P, B, P, B).max(axis=(2, 4)))
        assert np.abs(store.overview(layer, hide_first=True).astype(int) - want_hf).max() <= 1


def test_a_single_strong_cell_survives_pooling():
    att = np.full((1, 1, 64, 64), 1 / 64, np.float32)
    att[0, 0, 40] = 0.0
    att[0, 0, 40, 17] = 1.0  # one row puts all its mass on one key
    store = DenseStore(att, False, overview_cells=8)
    assert store.overview(0)[0, 40 // 8, 17 // 8] == 255


def test_top_keys_and_their_mass(both):
    store, dense, eager = both
    for layer in range(2):
        rows = store.rows(layer, list(range(8)), 0, T)
        ref_idx = np.argsort(-eager[layer], axis=-1, kind="stable")[..., :16]
        ref_w = np.take_along_axis(eager[layer], ref_idx, -1)
        valid = np.broadcast_to(np.arange(16)[None, None] <= np.arange(T)[None, :, None], ref_w.shape)
        got_w = np.take_along_axis(eager[layer], np.maximum(rows["top"], 0), -1)
        assert np.abs(np.where(valid, got_w - ref_w, 0)).max() < 1e-5  # same keys up to ties
        assert (rows["top"][~valid] == -1).all()
        assert np.abs(rows["weights"] - np.where(valid, ref_w, 0)).max() < 1e-3  # float16
        assert np.abs(rows["covered"] - np.where(valid, ref_w, 0).sum(-1)).max() < 1e-5
        assert np.abs(rows["first"] - eager[layer][..., 0]).max() < 1e-5
        d = dense.rows(layer, [3], 0, T)
        assert (d["top"] == rows["top"][3:4]).all()


def test_rows_before_the_layer_is_summarised(llama, both):
    store, _, _ = both
    fresh = QKStore(store.qk, overview_cells=64)
    early = fresh.rows(1, [2, 5], 120, 160)
    assert not fresh.has_summary(1)
    late = store.rows(1, [2, 5], 120, 160)
    assert (early["top"] == late["top"]).all()
    assert np.abs(early["weights"] - late["weights"]).max() < 1e-3


def test_tiles_are_exact_or_max_pooled(both):
    store, dense, eager = both
    for layer, head in ((0, 0), (1, 7)):
        exact = store.window(layer, head, 0, 0, T, 1)
        assert np.abs(exact - eager[layer, head]).max() < 1e-5
        assert np.abs(store.window(layer, head, 37, 11, 32, 4) - dense.window(layer, head, 37, 11, 32, 4)).max() < 1e-6
        edge = store.window(layer, head, T - 10, T - 20, 16, 2)  # past the matrix's edge: zeros
        assert edge.shape == (16, 16) and not edge[5:].any()
    assert store.value(1, 3, 200, 17) == pytest.approx(float(eager[1, 3, 200, 17]), abs=1e-6)
    assert store.value(1, 3, 17, 200) == 0.0  # the future


def test_tiles_and_values_before_the_layer_is_summarised(both):
    store, dense, eager = both
    fresh = QKStore(store.qk, overview_cells=64)
    exact = fresh.window(1, 6, 40, 0, 200, 1)
    pooled = fresh.window(1, 6, 0, 0, 64, 4)
    value = fresh.value(1, 6, 250, 3)
    assert not fresh.has_summary(1)  # answered from the rows' own scores, not the layer's summary
    assert np.abs(exact - eager[1, 6, 40:240, :200]).max() < 1e-5
    assert np.abs(pooled - dense.window(1, 6, 0, 0, 64, 4)).max() < 1e-5
    assert value == pytest.approx(float(eager[1, 6, 250, 3]), abs=1e-6)


def test_thumbnails_and_progress(both):
    store, _, _ = both
    store.summarise_all(progress=False)
    assert store.progress() == (2, 2)
    thumbs, per_cell = store.thumbnails()
    assert thumbs.shape == (2, 8, 60, 60) and per_cell == 5
    assert (thumbs[1] == store.overview(1)).all()


def test_background_summaries_stop_when_closed(both):
    store = QKStore(both[0].qk, overview_cells=64)
    store.close()
    store.start_background(progress=False)
    store.wait(30)
    assert store.progress()[0] == 0


def test_families_it_cannot_rebuild_are_refused():
    model, tok = tiny_bert()
    with pytest.raises(LongInputError, match="decoder-only causal"):
        capture(load_model((model, tok), device="cpu"), torch.ones((1, 8), dtype=torch.long))
    model, tok = tiny_mistral()
    model.config.sliding_window = 16
    with pytest.raises(LongInputError, match="sliding_window"):
        capture(load_model((model, tok), device="cpu"), torch.ones((1, 8), dtype=torch.long))


def test_rows_of_most_of_a_layer_summarise_it_once(both):
    fresh = QKStore(both[0].qk, overview_cells=64)
    rows = fresh.rows(0, list(range(8)), 0, T)  # the default heads score every row of every head
    assert fresh.has_summary(0)  # made on the head pool and kept, not scored head by head and dropped
    assert (rows["top"] == both[0].rows(0, list(range(8)), 0, T)["top"]).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_the_probe_takes_half_precision_and_still_catches_a_term_it_does_not_rebuild(dtype, monkeypatch):
    import dataclasses

    from attnwidget.transformer import qk_capture

    model, tok = llama_long(n_layer=2, n_head=4, n_kv_head=2, window=256)
    loaded = load_model((model.to(dtype), tok), device="cpu")
    assert qk_capture._probe(loaded) is None  # a bfloat16 Llama's own rounding is no extra term
    caught = qk_capture._caught

    def tempered(*args, **kwargs):  # as if the model scaled its scores by something the path does not see
        qk = caught(*args, **kwargs)
        return dataclasses.replace(qk, scale=qk.scale * 1.5)

    monkeypatch.setattr(qk_capture, "_caught", tempered)
    assert "adds terms the long-input path does not rebuild" in qk_capture._probe(loaded)
