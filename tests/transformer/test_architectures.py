"""Every model family loads with attention; pairs, their A/B filter, and encoder–decoder views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tiny_models
from attnwidget.errors import AttnWidgetError, EmptyTextError, NoAttentionError, TooLongError
from attnwidget.text.sentence import align
from attnwidget.transformer.architectures import (
    PAIR_FILTERS,
    encoder_decoder_attention,
    filter_pair,
    pair,
    pair_attention,
)
from attnwidget.transformer.forward import attention
from attnwidget.transformer.loading import load_model

TEXT = "The quick brown fox jumps over the lazy dog."

# name -> (builder, causal, encoder-decoder)
FAMILIES = {
    "gpt2": (tiny_models.tiny_gpt2, True, False),
    "llama": (tiny_models.tiny_llama, True, False),
    "qwen2": (tiny_models.tiny_qwen2, True, False),
    "mistral": (tiny_models.tiny_mistral, True, False),
    "bert": (tiny_models.tiny_bert, False, False),
    "roberta": (tiny_models.tiny_roberta, False, False),
    "distilbert": (tiny_models.tiny_distilbert, False, False),
    "t5": (tiny_models.tiny_t5, False, True),
    "bart": (tiny_models.tiny_bart, False, True),
    "marian": (tiny_models.tiny_marian, False, True),
}


@pytest.fixture(scope="module")
def family_models(minilm):
    loaded = {name: load_model(build(), device="cpu") for name, (build, _, _) in FAMILIES.items()}
    loaded["minilm"] = minilm  # real BERT-family weights, with segment embeddings
    return loaded


@pytest.mark.parametrize("name", [*FAMILIES, "minilm"])
def test_pass_that_stops_at_the_last_attention_returns_the_whole_pass_attention(name, family_models):
    """Loading checks that the eager attention calls are the layers' attention; the pass
    then ends at the last one, and must give what the whole pass returns."""
    model = family_models[name]
    assert model.stops_after_attention  # every family here calls eager attention once per layer
    sentences = [align(TEXT, model), align("A second, shorter one.", model)]
    stopped = attention(model, sentences, batch_size=2)
    model.stops_after_attention = False
    try:
        whole = attention(model, sentences, batch_size=2)
    finally:
        model.stops_after_attention = True
    for a, b in zip(stopped, whole):
        np.testing.assert_array_equal(a, b)


def test_a_pass_that_stops_early_runs_no_layer_after_the_last_attention(family_models):
    model = family_models["bert"]
    ran = []
    hooks = [layer.output.register_forward_hook(lambda *_: ran.append(1)) for layer in model.model.encoder.layer]
    try:
        attention(model, [align(TEXT, model)])
    finally:
        for hook in hooks:
            hook.remove()
    assert len(ran) == model.num_layers - 1  # the last layer's feed-forward output never ran


def test_a_model_whose_attention_calls_are_not_its_layers_keeps_the_whole_pass(family_models, monkeypatch):
    from attnwidget.transformer import forward

    model = family_models["gpt2"]
    sentence = align(TEXT, model)
    ids = torch.tensor([sentence.input_ids])
    assert forward.attention_calls_are_layers(model, ids, torch.ones_like(ids))
    real = forward._watched_pass

    def one_call_short(*args):  # as if one layer computed its attention outside eager
        attentions, calls = real(*args)
        return attentions, calls[1:]

    monkeypatch.setattr(forward, "_watched_pass", one_call_short)
    assert not forward.attention_calls_are_layers(model, ids, torch.ones_like(ids))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_loads_and_returns_attention_per_query_head(name, family_models):
    model = family_models[name]
    _, causal, seq2seq = FAMILIES[name]
    assert (model.is_causal, model.is_encoder_decoder) == (causal, seq2seq)
    assert (model.num_layers, model.num_heads) == (2, 4)
    sentence = align(TEXT, model)
    a = attention(model, [sentence])[0]
    # Grouped-query models share key heads but still return one map per query head.
    assert a.shape == (2, 4, len(sentence), len(sentence))
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    if causal:
        assert np.abs(np.triu(a, k=1)).max() == 0
    else:
        assert np.abs(np.triu(a, k=1)).max() > 0


@pytest.mark.parametrize("name", ["llama", "qwen2", "mistral"])
def test_grouped_query_models_really_group_their_keys(name, family_models):
    model = family_models[name]
    config = model.model.config
    assert config.num_key_value_heads < config.num_attention_heads
    assert model.model.layers[0].self_attn.k_proj.out_features == config.num_key_value_heads * config.head_dim


def test_distilbert_config_names_are_read(family_models):
    config = family_models["distilbert"].model.config
    assert (config.n_layers, config.n_heads) == (2, 4)


def test_model_stuck_on_fused_kernels_is_an_error_naming_the_reason():
    model = load_model(tiny_models.tiny_bert(), device="cpu")
    model.model.set_attn_implementation("sdpa")  # as if the user switched it back
    with pytest.raises(NoAttentionError, match="'sdpa'.*fused attention kernels"):
        attention(model, [align(TEXT, model)])


def test_model_without_an_eager_path_fails_at_load_naming_the_reason():
    inner, tok = tiny_models.tiny_llama()

    class FlashOnly(type(inner)):
        """A model whose only attention is a fused kernel: it refuses to switch to eager."""

        def set_attn_implementation(self, implementation):
            raise ValueError(f"{type(self).__name__} only has flash_attention_2 kernels, not {implementation!r}")

    model = FlashOnly(inner.config)
    with pytest.raises(NoAttentionError, match="cannot switch to eager attention.*only has flash_attention_2"):
        load_model((model, tok), device="cpu")


# --- sentence pairs -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bert", "roberta", "distilbert", "minilm"])
def test_pair_segments_and_tokens(name, family_models):
    model = family_models[name]
    p = pair("The cat sat.", "It was happy.", model)
    assert len(p.segments) == len(p.tokens) == len(p.input_ids)
    assert set(p.segments.tolist()) == {-1, 0, 1}
    specials = set(model.tokenizer.all_special_ids)
    assert all((s == -1) == (i in specials) for s, i in zip(p.segments.tolist(), p.input_ids))
    text_of = {0: p.text, 1: p.text_b}
    for k, s in enumerate(p.segments.tolist()):
        if s >= 0 and p.tokens[k] != "…":
            start, end = p.offsets[k]
            assert text_of[s][start:end] == p.tokens[k]
    a_words = "".join(t for t, s in zip(p.tokens, p.segments) if s == 0).replace(" ", "").lower()
    assert a_words == "thecatsat."
    # bertviz's blocks: [CLS] and the middle separator(s) go with A, the last separator with B.
    sides = p.sides
    assert sides[0] == 0 and sides[-1] == 1
    assert (np.diff(sides) >= 0).all()


@pytest.mark.parametrize("name", ["bert", "minilm"])
def test_bert_pair_feeds_segment_ids_to_the_model(name, family_models):
    model = family_models[name]
    p = pair("The cat sat.", "It was happy.", model)
    assert p.token_type_ids == p.sides.tolist()
    got = pair_attention(model, p)
    ids = torch.tensor([p.input_ids])
    with torch.inference_mode():
        out = model.model(input_ids=ids, token_type_ids=torch.tensor([p.token_type_ids]), output_attentions=True)
    np.testing.assert_allclose(got, torch.stack(out.attentions, 1)[0].numpy(), atol=1e-6)
    # Reading every token as sentence A gives other weights: the segment ids matter.
    assert np.abs(got - attention(model, [p])[0]).max() > 1e-4


@pytest.mark.parametrize("name", ["roberta", "distilbert"])
def test_pair_attention_of_models_without_segment_embeddings(name, family_models):
    model = family_models[name]
    p = pair("The cat sat.", "It was happy.", model)
    got = pair_attention(model, p)
    assert got.shape == (2, 4, len(p), len(p))
    np.testing.assert_allclose(got, attention(model, [p])[0], atol=1e-6)


def test_pair_filter_blocks_tile_the_matrix(family_models):
    model = family_models["bert"]
    p = pair("The cat sat.", "It was very happy.", model)
    a = pair_attention(model, p)
    n_a = int((p.sides == 0).sum())
    whole = filter_pair(a, p.segments, "all")
    assert whole.attention is not None and whole.attention.shape == a.shape
    total = np.zeros(a.shape)
    for which in PAIR_FILTERS[1:]:
        view = filter_pair(a, p.segments, which)
        src, dst = which.split("->")
        assert set(p.sides[view.queries]) == {"AB".index(src)}
        assert set(p.sides[view.keys]) == {"AB".index(dst)}
        assert view.attention.shape == (2, 4, view.queries.size, view.keys.size)
        total[..., view.queries[:, None], view.keys[None, :]] += view.attention
    np.testing.assert_array_equal(total, a)  # the four blocks cover every pair exactly once
    ab = filter_pair(a, p.segments, "A->B")
    np.testing.assert_array_equal(ab.attention, a[:, :, :n_a, n_a:])
    # Each query row splits its attention between A and B.
    aa = filter_pair(a, p.segments, "A->A")
    np.testing.assert_allclose(aa.attention.sum(-1) + ab.attention.sum(-1), 1.0, atol=1e-5)


def test_pair_filter_rejects_bad_requests(family_models):
    model = family_models["bert"]
    p = pair("The cat sat.", "It was happy.", model)
    a = pair_attention(model, p)
    with pytest.raises(AttnWidgetError, match="one of all, A->A"):
        filter_pair(a, p.segments, "A->C")
    with pytest.raises(AttnWidgetError, match="does not fit a pair"):
        filter_pair(a[..., :-1], p.segments, "A->B")
    single = align("The cat sat.", model)
    with pytest.raises(AttnWidgetError, match="no sentence B"):
        filter_pair(attention(model, [single])[0], np.zeros(len(single)), "B->B")
    with pytest.raises(EmptyTextError, match="sentence B"):
        pair("The cat sat.", "  ", model)


def test_long_pair_is_refused_or_truncated(family_models):
    model = family_models["bert"]
    long = "word " * 100
    with pytest.raises(TooLongError, match="window is 128"):
        pair(long, long, model)
    p = pair(long, long, model, truncate=True)
    assert len(p) == 128 and p.truncated and set(p.segments.tolist()) == {-1, 0, 1}


# --- encoder–decoder ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t5", "bart", "marian"])
def test_encoder_decoder_views_have_their_token_lists(name, family_models):
    model = family_models[name]
    out = encoder_decoder_attention(model, "The cat sat on the mat.", target="Le chat dort.")
    S, D = len(out.source), len(out.decoder)
    assert out.decoder_input == "target"
    assert out.encoder_attention.shape == (2, 4, S, S)
    assert out.decoder_attention.shape == (2, 4, D, D)
    assert out.cross_attention.shape == (2, 4, D, S)
    for part in (out.encoder_attention, out.decoder_attention, out.cross_attention):
        assert part.dtype == np.float32
        np.testing.assert_allclose(part.sum(-1), 1.0, atol=1e-5)
    assert np.abs(np.triu(out.decoder_attention, k=1)).max() == 0  # the decoder is causal
    # Teacher forcing: the decoder reads the start token, then the target shifted right.
    target = align("Le chat dort.", model)
    start = model.model.config.decoder_start_token_id
    assert out.decoder.input_ids == [start] + target.input_ids[:-1]
    assert out.decoder.tokens[1:] == target.tokens[:-1]
    # The encoder view is the one the corpus path computes.
    np.testing.assert_allclose(out.encoder_attention, attention(model, [out.source])[0], atol=1e-5)


@pytest.mark.parametrize("name", ["bart", "t5"])
def test_encoder_decoder_without_target_reads_the_source(name, family_models):
    model = family_models[name]
    out = encoder_decoder_attention(model, "The cat sat on the mat.")
    assert out.decoder_input == "source"
    assert out.decoder.input_ids[1:] == out.source.input_ids[:-1]
    assert out.cross_attention.shape[-2:] == (len(out.source), len(out.source))


def test_encoder_decoder_views_keep_syntax(family_models, nlp):
    model = family_models["bart"]
    out = encoder_decoder_attention(model, "The cat sat.", target="A dog ran.", annotations="spacy")
    assert out.source.words == ["The", "cat", "sat", "."]
    assert out.decoder.words == ["A", "dog", "ran", "."]
    assert out.decoder.token_word[0] == -1  # the start token belongs to no word


def test_encoder_decoder_view_of_other_models_is_refused(family_models):
    with pytest.raises(AttnWidgetError, match="not an encoder-decoder"):
        encoder_decoder_attention(family_models["gpt2"], "The cat sat.")
