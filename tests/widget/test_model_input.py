"""AttentionWidget beyond one sentence (issue 6): the neuron view's request/reply, sentence
pairs and their filter, encoder-decoder kinds, generated text and its steps, GQA heads."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import tiny_models
from attnwidget.errors import AttnWidgetError
from attnwidget.transformer.architectures import PAIR_FILTERS as FAMILY_FILTERS
from attnwidget.transformer.loading import load_model
from attnwidget.transformer.neurons import neuron_view
from attnwidget.widget.attention_widget import PAIR_FILTERS, AttentionWidget
from attnwidget.widget.payload import decode_vectors, encode_vectors
from requests_helper import ask, neuron_arrays
from testdata import softmax_attention

TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def gpt2_widget(gpt2_small):
    return AttentionWidget(TEXT, model=gpt2_small, annotations=None)


@pytest.fixture(scope="module")
def llama():
    return load_model(tiny_models.tiny_llama(), device="cpu")


# --- neuron view -----------------------------------------------------------------


def test_neuron_is_a_view(gpt2_widget):
    gpt2_widget.view = "neuron"
    assert gpt2_widget.view == "neuron"
    assert gpt2_widget._meta["neuron"] is True
    gpt2_widget.view = "head"


def test_neuron_request_replies_one_head_for_every_query_token(gpt2_widget, gpt2_small):
    reply, buffers = ask(gpt2_widget, what="neuron", attention="self", layer=1, head=2)
    n = reply["neuron"]
    assert (n["layer"], n["head"], n["kv_head"], n["head_dim"]) == (1, 2, 2, 8)
    assert n["scale"] == pytest.approx(8**-0.5) and n["family"] == "gpt2"
    arrays = neuron_arrays(reply, buffers)
    T = len(gpt2_widget.tokens)
    assert arrays["queries"].shape == (T, 8) and arrays["keys"].shape == (T, 8)
    assert arrays["bias"] is None
    np.testing.assert_array_equal(arrays["masked"], np.triu(np.ones((T, T), np.uint8), 1))
    # The browser's softmax of what it received is the model's own attention.
    for token in (0, 4, T - 1):
        view = neuron_view(gpt2_small, gpt2_widget._input.sentence, 1, 2, token)
        np.testing.assert_array_equal(arrays["queries"][token], view["query"])
        scores = n["scale"] * arrays["keys"] @ arrays["queries"][token]
        scores[arrays["masked"][token] == 1] = -np.inf
        weights = np.exp(scores - scores.max())
        np.testing.assert_allclose(weights / weights.sum(), gpt2_widget.attention[1, 2, token], atol=1e-4)


def test_one_forward_pass_serves_every_layer_head_and_token(gpt2_widget, gpt2_small, monkeypatch):
    """The first neuron request catches every layer; later layers, heads and tokens run nothing."""
    import attnwidget.transformer.neurons as neurons

    calls, passes = [], []
    real = neurons.capture_all_qk
    monkeypatch.setattr(neurons, "capture_all_qk", lambda *a, **k: calls.append(k.get("part")) or real(*a, **k))
    hook = gpt2_small.model.register_forward_pre_hook(lambda m, a: passes.append(1))
    gpt2_widget._input.forget()
    try:
        for head in range(4):
            ask(gpt2_widget, what="neuron", attention="self", layer=0, head=head)
        gpt2_widget.neuron(layer=0, head=3, token=2)
        assert calls == [None] and passes == [1]
        for layer in (1, 0, 1):
            reply, _ = ask(gpt2_widget, what="neuron", attention="self", layer=layer, head=1)
            assert reply["neuron"]["layer"] == layer
        gpt2_widget.neuron(layer=1, head=0, token=4)
        assert calls == [None] and passes == [1]
    finally:
        hook.remove()


def test_neuron_request_errors_are_replies(gpt2_widget):
    for bad in (dict(layer=5, head=0), dict(layer=0, head=9), dict(layer="0", head=0)):
        reply, buffers = ask(gpt2_widget, what="neuron", attention="self", **bad)
        assert "no layer" in reply["error"] and buffers == []
    reply, _ = ask(gpt2_widget, what="neuron", attention="cross", layer=0, head=0)
    assert "error" in reply


def test_widget_from_attention_says_the_neuron_view_needs_a_model():
    w = AttentionWidget.from_attention(list("abcd"), softmax_attention(2, 2, 4))
    assert w._meta["neuron"] is False
    reply, _ = ask(w, what="neuron", attention="self", layer=0, head=0)
    assert "needs the model" in reply["error"]
    with pytest.raises(AttnWidgetError, match="needs the model"):
        w.neuron()


def test_neuron_method_defaults_to_current_layer_head_and_token(gpt2_widget):
    gpt2_widget.layer, gpt2_widget.heads, gpt2_widget.token = 1, [3], 5
    view = gpt2_widget.neuron()
    assert (view["layer"], view["head"], view["token"]) == (1, 3, 5)
    gpt2_widget.layer, gpt2_widget.heads, gpt2_widget.token = 0, [0, 1, 2, 3], None


def test_neuron_view_switches_word_level_to_tokens(minilm):
    w = AttentionWidget("The dogs barked loudly.", model=minilm)
    w.level = "word"
    w.view = "neuron"
    assert w.level == "token"


def test_vectors_quantise_to_int16_within_a_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 64)).astype(np.float32) * 7
    enc = encode_vectors(x, quantise=True)
    assert enc["dtype"] == "int16"
    np.testing.assert_allclose(decode_vectors(enc), x, atol=enc["quantum"] / 2 + 1e-6)
    exact = encode_vectors(x, quantise=False)
    assert exact["dtype"] == "float32" and exact["quantum"] is None
    np.testing.assert_array_equal(decode_vectors(exact), x)


# --- grouped-query attention -------------------------------------------------------


def test_gqa_heads_are_query_heads_with_their_key_group(llama):
    w = AttentionWidget(TEXT, model=llama, annotations=None)
    assert w.num_heads == 4 and w._meta["kv_heads"] == [0, 0, 1, 1]
    reply, buffers = ask(w, what="neuron", attention="self", layer=0, head=3)
    assert reply["neuron"]["kv_head"] == 1 and reply["neuron"]["num_kv_heads"] == 2
    keys3 = neuron_arrays(reply, buffers)["keys"]
    reply2, buffers2 = ask(w, what="neuron", attention="self", layer=0, head=2)
    np.testing.assert_array_equal(neuron_arrays(reply2, buffers2)["keys"], keys3)  # same group


def test_models_without_grouping_send_no_groups(gpt2_widget):
    assert gpt2_widget._meta["kv_heads"] is None


# --- sentence pairs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pair_widget(bert_small):
    return AttentionWidget.from_pair("The cat sat on the mat.", "It was asleep.", model=bert_small)


def test_pair_filters_match_the_families_module():
    assert PAIR_FILTERS == FAMILY_FILTERS


def test_pair_widget_carries_its_split_and_segment_ids(pair_widget, bert_small):
    from attnwidget.transformer.architectures import pair, pair_attention

    split = pair_widget._meta["split"]
    tokens = pair_widget.tokens
    assert split["names"] == ["A", "B"]
    assert tokens[0] == "[CLS]" and tokens[split["at"] - 1] == "[SEP]" and tokens[-1] == "[SEP]"
    expected = pair_attention(bert_small, pair("The cat sat on the mat.", "It was asleep.", bert_small))
    np.testing.assert_allclose(pair_widget.attention, expected, atol=1e-6)


def test_pair_filter_trait_validates(pair_widget):
    for value in PAIR_FILTERS:
        pair_widget.pair_filter = value
        assert pair_widget.pair_filter == value
    with pytest.raises(traitlets.TraitError, match="must be one of"):
        pair_widget.pair_filter = "A->C"
    pair_widget.pair_filter = "all"


def test_pair_filter_needs_a_pair(gpt2_widget):
    with pytest.raises(traitlets.TraitError, match="needs a sentence pair"):
        gpt2_widget.pair_filter = "A->B"


def test_pair_neuron_view_reads_segment_ids(pair_widget):
    reply, buffers = ask(pair_widget, what="neuron", attention="self", layer=1, head=0)
    arrays = neuron_arrays(reply, buffers)
    token = pair_widget._meta["split"]["at"] + 1  # a token of sentence B
    scores = reply["neuron"]["scale"] * arrays["keys"] @ arrays["queries"][token]
    weights = np.exp(scores - scores.max())
    np.testing.assert_allclose(weights / weights.sum(), pair_widget.attention[1, 0, token], atol=1e-4)


def test_pairs_are_for_encoders(gpt2_small):
    with pytest.raises(AttnWidgetError, match="encoder models"):
        AttentionWidget.from_pair("One.", "Two.", model=gpt2_small)


# --- encoder-decoder ----------------------------------------------------------------


@pytest.fixture(scope="module")
def t5_widget(t5_small):
    return AttentionWidget("The cat sat on the mat.", model=t5_small, annotations=None, target="Le chat était assis.")


def test_encoder_decoder_has_three_kinds_with_their_tokens(t5_widget, t5_small):
    from attnwidget.transformer.architectures import encoder_decoder_attention

    w = t5_widget
    assert w.attention_kind == "encoder" and w._meta["kinds"] == ["encoder", "decoder", "cross"]
    both = encoder_decoder_attention(t5_small, "The cat sat on the mat.", "Le chat était assis.")
    source, decoder = both.source.tokens, both.decoder.tokens
    assert w.tokens == source and w._meta["key_tokens"] is None
    w.attention_kind = "cross"
    assert w.tokens == decoder and w._meta["key_tokens"] == source
    assert w._meta["num_tokens"] == len(decoder) and w._meta["num_keys"] == len(source)
    assert w._layer_data["size"] == len(decoder) and w._layer_data["cols"] == len(source)
    assert w._layer_data["kind"] == "cross" and w._layer_data["packing"] == "full"
    np.testing.assert_allclose(w.attention, both.cross_attention, atol=1e-6)
    w.attention_kind = "decoder"
    assert w._meta["is_causal"] and w._layer_data["packing"] == "tril" and w.tokens == decoder
    w.attention_kind = "encoder"


def test_kind_switch_sends_tokens_and_layer_together(t5_widget):
    w = t5_widget
    w.token = 2
    messages = []
    w.send_state = lambda key=None: messages.append(set([key] if isinstance(key, str) else key))
    try:
        w.attention_kind = "cross"
    finally:
        del w.send_state
    assert w.token is None
    # The kind itself, then what it changes together (tokens with their layer data).
    assert messages[0] == {"attention_kind"} and {"_meta", "_layer_data", "token"} <= messages[1]
    w.attention_kind = "encoder"


def test_kind_is_validated(t5_widget, gpt2_widget):
    with pytest.raises(traitlets.TraitError, match="must be one of"):
        t5_widget.attention_kind = "both"
    with pytest.raises(traitlets.TraitError, match="not available"):
        gpt2_widget.attention_kind = "cross"


def test_cross_attention_thumbnails_and_neuron_vectors(t5_widget):
    w = t5_widget
    w.attention_kind = "cross"
    reply, buffers = ask(w, what="thumbnails", hide_first=False)
    t = reply["thumbnails"]
    assert t["size"] == max(w._meta["num_tokens"], w._meta["num_keys"])  # padded square
    reply, buffers = ask(w, what="neuron", attention="cross", layer=1, head=1)
    arrays = neuron_arrays(reply, buffers)
    D, S = w._meta["num_tokens"], w._meta["num_keys"]
    assert arrays["queries"].shape == (D, 8) and arrays["keys"].shape == (S, 8)
    assert reply["neuron"]["part"] == "cross"
    w.attention_kind = "encoder"
    reply, buffers = ask(w, what="neuron", attention="encoder", layer=0, head=0)
    arrays = neuron_arrays(reply, buffers)
    assert arrays["bias"].shape == (S, S) and reply["neuron"]["scale"] == 1.0  # T5: position bias
    scores = arrays["keys"] @ arrays["queries"][2] + arrays["bias"][2]
    weights = np.exp(scores - scores.max())
    np.testing.assert_allclose(weights / weights.sum(), w.attention[0, 0, 2], atol=1e-4)


def test_target_needs_an_encoder_decoder(gpt2_small):
    with pytest.raises(AttnWidgetError, match="target="):
        AttentionWidget(TEXT, model=gpt2_small, annotations=None, target="x")


# --- generated text ------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated():
    lm = load_model(tiny_models.tiny_gpt2_lm(), device="cpu")
    return AttentionWidget.from_generation("The cat sat on", model=lm, max_new_tokens=5)


def test_generation_marks_the_boundary(generated):
    w = generated
    split = w._meta["split"]
    assert split == {"at": w.boundary, "names": ["prompt", "generated"]}
    prompt_tokens = len(w._input.model.tokenizer("The cat sat on")["input_ids"])
    assert w.boundary == prompt_tokens and len(w.tokens) == prompt_tokens + 5
    assert "".join(w.tokens[w.boundary :]) == w.generated_text
    assert w._meta["is_causal"] and w._meta["neuron"]


def test_step_trait_is_validated(generated, gpt2_widget):
    generated.step = 4
    assert generated.step == 4
    with pytest.raises(traitlets.TraitError, match="0..4"):
        generated.step = 5
    generated.step = None
    with pytest.raises(traitlets.TraitError, match="from_generation"):
        gpt2_widget.step = 0


def test_generated_text_has_a_neuron_view(generated):
    reply, buffers = ask(generated, what="neuron", attention="self", layer=0, head=0)
    arrays = neuron_arrays(reply, buffers)
    assert arrays["queries"].shape[0] == len(generated.tokens)


def test_generation_needs_a_causal_model(bert_small):
    with pytest.raises(AttnWidgetError, match="causal"):
        AttentionWidget.from_generation("Hello", model=bert_small, max_new_tokens=2)
