"""Model loading: offline default, causality, eager attention, clear failures."""

from __future__ import annotations

import time

import pytest
import torch

import tiny_models
from attnwidget.errors import ModelLoadError, NoAttentionError
from attnwidget.transformer.loading import OFFLINE_MODEL, load_model


def test_offline_default_resolves_to_packaged_weights(minilm):
    assert minilm.name == OFFLINE_MODEL
    assert (minilm.num_layers, minilm.num_heads, minilm.max_length) == (6, 12, 512)
    assert not minilm.is_causal and not minilm.model.training
    assert minilm.model.config._attn_implementation == "eager"
    assert minilm.device == torch.device("cpu")


def test_causal_and_bidirectional_are_told_apart(gpt2_small, bert_small, t5_small):
    assert gpt2_small.is_causal and not bert_small.is_causal
    assert t5_small.is_encoder_decoder and not t5_small.is_causal


def test_local_folder_loads(tmp_path):
    model, tok = tiny_models.tiny_gpt2()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path), device="cpu")
    assert loaded.is_causal and loaded.num_layers == 2
    assert loaded.model.config._attn_implementation == "eager"


def test_pair_with_fused_attention_is_switched_to_eager():
    model, tok = tiny_models.tiny_bert()
    model.set_attn_implementation("sdpa")
    loaded = load_model((model, tok), device="cpu")
    assert loaded.model.config._attn_implementation == "eager"


def test_model_that_returns_no_attention_fails_loudly():
    model, tok = tiny_models.tiny_bert()

    class FusedOnly(torch.nn.Module):
        """Stands in for a model whose kernels cannot return weights."""

        def __init__(self, inner):
            super().__init__()
            self.inner, self.config = inner, inner.config

        def forward(self, **kwargs):
            out = self.inner(**kwargs)
            out.attentions = ()
            return out

    with pytest.raises(NoAttentionError, match="returned no attention weights"):
        load_model((FusedOnly(model), tok), device="cpu")


def test_unknown_id_fails_fast_naming_the_offline_default():
    start = time.monotonic()
    with pytest.raises(ModelLoadError, match="all-MiniLM-L6-v2"):
        load_model("no-such-org/no-such-model-xyz")
    assert time.monotonic() - start < 30  # generous: the point is no minute of retries


def test_bad_arguments_are_explained():
    with pytest.raises(ModelLoadError, match="pair"):
        load_model((1, 2, 3))
    with pytest.raises(ModelLoadError, match="cannot load a model from int"):
        load_model(42)
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="CUDA is not available"):
            load_model(OFFLINE_MODEL, device="cuda")
