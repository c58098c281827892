"""Summaries and tiles made by torch (where the model runs on an accelerator) equal the
compiled CPU path's on the same caught queries and keys: on the CPU here (torch's own
kernels, over many row chunks), and on CUDA where there is a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnwidget import load_model
from attnwidget.transformer.qk_capture import capture
from attnwidget.widget import summary_torch
from attnwidget.widget.qk_store import QKStore
from attnwidget.widget.quantise import quantise_sqrt
from tests.tiny_models import llama_long

T = 300
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def qk():
    model, tok = llama_long(n_layer=2, n_head=8, n_kv_head=2, window=1024)
    loaded = load_model((model, tok), device="cpu")
    ids = torch.randint(1, len(tok), (1, T), generator=torch.Generator().manual_seed(2))
    return capture(loaded, ids, progress=False)


@pytest.fixture(scope="module")
def compiled(qk):
    store = QKStore(qk, overview_cells=64)
    store.summarise_all(progress=False)
    return store


def on_device(qk, device: str) -> QKStore:
    store = QKStore(qk, overview_cells=64, device=device)
    if device == "cpu":  # a CPU device means the compiled path; the torch path is forced here to test it
        store.device = torch.device("cpu")
    return store


def test_a_cpu_device_keeps_the_compiled_path(qk):
    assert QKStore(qk, device=torch.device("cpu")).device is None
    assert QKStore(qk, device="cuda:0").device == "cuda:0"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("chunk_cells", [summary_torch.CHUNK_CELLS, 2 * 4 * T * 5])  # one chunk; 60 of 10 rows
def test_summaries_equal_the_compiled_path(qk, compiled, device, chunk_cells, monkeypatch):
    monkeypatch.setattr(summary_torch, "CHUNK_CELLS", chunk_cells)
    store = on_device(qk, device)
    for layer in range(2):
        got, want = store.summary(layer), compiled.summary(layer)
        assert got.block == want.block == 5
        assert np.abs(got.overview.astype(int) - want.overview).max() <= 1  # one quantisation step
        assert np.abs(got.overview_hf.astype(int) - want.overview_hf).max() <= 1
        assert got.top.dtype == want.top.dtype == np.uint16
        assert (got.top == want.top).mean() > 0.999  # equal up to near-ties
        assert np.abs(got.weights.astype(np.float32) - want.weights).max() < 2e-3  # float16
        for name in ("covered", "first", "m"):
            assert np.abs(getattr(got, name) - getattr(want, name)).max() < 1e-4, name
        assert np.allclose(got.z, want.z, rtol=1e-4)
    rows = store.rows(1, [0, 7], 0, 20)
    assert (rows["top"][:, 3, 4:] == -1).all() and not rows["weights"][:, 3, 4:].any()  # row 3 has 4 keys


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("r0", "c0", "cells", "r", "hide_first", "renormalise"),
    [
        (0, 0, 300, 1, False, False),
        (37, 11, 32, 4, False, False),
        (0, 0, 64, 5, True, False),
        (120, 0, 50, 3, True, True),
        (T - 10, T - 20, 16, 2, False, False),  # past the matrix's edge: zeros
        (10, 200, 16, 1, False, False),  # wholly in the future
    ],
)
def test_tiles_equal_the_compiled_path(qk, compiled, device, r0, c0, cells, r, hide_first, renormalise):
    store = on_device(qk, device)
    store._summaries = compiled._summaries  # the same row statistics: the tiles alone are compared
    for layer, head in ((0, 0), (1, 5)):
        got = store.window(layer, head, r0, c0, cells, r, hide_first, renormalise)
        want = compiled.window(layer, head, r0, c0, cells, r, hide_first, renormalise)
        assert got.shape == want.shape == (cells, cells)
        assert np.abs(got - want).max() < 1e-5
    assert store.value(1, 3, 200, 17) == pytest.approx(compiled.value(1, 3, 200, 17), abs=1e-6)
    assert store.value(1, 3, 17, 200) == 0.0  # the future


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_widget_on_a_gpu_model_summarises_there():
    from attnwidget import AttentionWidget
    from tests.widget.test_long_widget import long_text

    model, tok = llama_long(n_layer=2, n_head=4, n_kv_head=2, window=2048)
    gpu = AttentionWidget(long_text(tok, 1200), model=(model, tok), annotations=None, device="cuda")
    try:
        store = gpu._data.store
        assert store.device is not None and torch.device(store.device).type == "cuda"
        cpu_store = QKStore(store.qk, overview_cells=store.cells)
        for layer in range(2):
            got, want = store.summary(layer), cpu_store.summary(layer)
            assert np.abs(got.overview.astype(int) - want.overview).max() <= 1
            assert (got.top == want.top).mean() > 0.999
    finally:
        gpu.close()


@pytest.mark.parametrize("device", DEVICES)
def test_bidirectional_summaries_equal_dense_softmax(device):
    rng = np.random.default_rng(5)
    q = rng.normal(size=(4, 90, 8)).astype(np.float32)
    k = rng.normal(size=(2, 90, 8)).astype(np.float32)
    got = summary_torch.summarise_layer(q, k, 0.9, False, 4, 23, 5, device)
    s = np.einsum("htd,hsd->hts", q, np.repeat(k, 2, axis=0)) * 0.9
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    padded = np.zeros((4, 92, 92), np.float32)
    padded[:, :90, :90] = w
    want = quantise_sqrt(padded.reshape(4, 23, 4, 23, 4).max(axis=(2, 4)))
    assert np.abs(got["overview"].astype(int) - want).max() <= 1
    top = np.argsort(-w, axis=-1, kind="stable")[..., :5]
    assert (got["top"].astype(int) == top).mean() > 0.999
    assert np.abs(got["covered"] - np.take_along_axis(w, top, -1).sum(-1)).max() < 1e-5
    assert np.abs(got["first"] - w[..., 0]).max() < 1e-6
