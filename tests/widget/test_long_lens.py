"""Long inputs through a TransformerLens model: the queries and keys come from its hook points
(no pattern kept), and the summaries equal the Hugging Face path's on the same weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from attnwidget import AttentionWidget, load_model
from attnwidget.transformer.qk_capture import capture
from attnwidget.widget.long_payload import LONG_TOKENS
from attnwidget.widget.qk_store import QKStore
from tests.tiny_models import llama_long
from tests.widget.test_long_widget import long_text

bridge_module = pytest.importorskip(
    "transformer_lens.model_bridge", reason="TransformerLens 4 (TransformerBridge) is not installed"
)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """(a TransformerBridge booted offline from a saved Llama-shaped folder, the same weights in transformers, text)."""
    from transformers import LlamaForCausalLM

    model, tok = llama_long(n_layer=2, n_head=4, n_kv_head=2, window=2048)
    lm = LlamaForCausalLM(model.config)
    lm.model = model
    folder = tmp_path_factory.mktemp("llama")
    lm.save_pretrained(folder)
    tok.save_pretrained(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bridge = bridge_module.TransformerBridge.boot_transformers(str(folder), device="cpu")
    return bridge, (lm.eval(), tok), long_text(tok, 1200)


def test_a_long_input_through_a_bridge_is_summarised_from_its_hooks(twins):
    bridge, hf, text = twins
    lens = AttentionWidget(text, model=bridge, annotations=None)
    try:
        assert len(lens.tokens) > LONG_TOKENS
        assert lens._layer_data["packing"] == "summary" and isinstance(lens._data.store, QKStore)
        # The Hugging Face path on the same ids (the bridge's tokenizer adds a BOS, as TransformerLens does).
        ids = load_model(bridge).tokenizer(text)["input_ids"]
        assert len(ids) == len(lens.tokens)
        got, want = lens._data.store, QKStore(capture(load_model(hf), torch.tensor([ids]), progress=False))
        assert got.qk.query.shape == want.qk.query.shape and got.qk.key.shape == want.qk.key.shape  # 2 key heads
        assert got.qk.scale == pytest.approx(want.qk.scale)
        for layer in range(2):
            a, b = got.summary(layer), want.summary(layer)
            assert np.abs(a.overview.astype(int) - b.overview).max() <= 1
            assert (a.top == b.top).mean() > 0.999
            assert np.abs(a.covered - b.covered).max() < 1e-4
        n = len(ids)
        assert got.value(1, 3, n - 1, 5) == pytest.approx(want.value(1, 3, n - 1, 5), abs=1e-5)
        want.close()
    finally:
        lens.close()


def test_a_bridge_that_cannot_be_rebuilt_is_refused_plainly(twins, monkeypatch):
    from attnwidget.transformer.qk_capture import supports_long

    loaded = load_model(twins[0])
    assert supports_long(loaded) is None
    monkeypatch.setattr(twins[0].cfg, "window_size", 512, raising=False)
    assert "local" in supports_long(loaded)
