"""The neuron view: caught queries and keys rebuild each family's own attention to 1e-4."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch

import tiny_models
from attnwidget.text.sentence import align
from attnwidget.transformer.architectures import encoder_decoder_attention, pair, pair_attention
from attnwidget.transformer.forward import attention
from attnwidget.transformer.loading import load_model
from attnwidget.transformer.neurons import NeuronViewError, capture_all_qk, capture_qk, neuron_view
from attnwidget.widget.model_input import ModelInput

TEXT = "The quick brown fox jumps over the lazy dog."

BUILDERS = {
    "gpt2": tiny_models.tiny_gpt2,
    "bert": tiny_models.tiny_bert,
    "roberta": tiny_models.tiny_roberta,
    "distilbert": tiny_models.tiny_distilbert,
    "llama": tiny_models.tiny_llama,
    "qwen2": tiny_models.tiny_qwen2,
    "mistral": tiny_models.tiny_mistral,
    "t5": tiny_models.tiny_t5,
    "bart": tiny_models.tiny_bart,
    "marian": tiny_models.tiny_marian,
}


@pytest.fixture(scope="module")
def models(minilm):
    loaded = {name: load_model(build(), device="cpu") for name, build in BUILDERS.items()}
    loaded["minilm"] = minilm
    return loaded


def rebuild(view: dict) -> np.ndarray:
    """softmax(q·k · scale + bias + mask), computed here from the view's vectors alone."""
    q = view["query"].astype(np.float64)
    k = view["keys"].astype(np.float64)
    scores = view["scale"] * (k @ q) + view["bias"]
    scores[view["masked"]] = -np.inf
    e = np.exp(scores - scores.max())
    return e / e.sum()


@pytest.mark.parametrize("name", list(BUILDERS) + ["minilm"])
def test_rebuilt_softmax_matches_the_models_attention(name, models):
    model = models[name]
    sentence = align(TEXT, model)
    own = attention(model, [sentence])[0]
    d = model.model.config.hidden_size // model.num_heads
    for layer in range(model.num_layers):
        capture = capture_qk(model, sentence, layer)
        for head in range(model.num_heads):
            for token in range(len(sentence)):
                view = neuron_view(model, sentence, layer, head, token, capture=capture)
                assert view["query"].shape == (d,) and view["keys"].shape == (len(sentence), d)
                for field in ("query", "keys", "products", "scores", "weights", "bias"):
                    assert view[field].dtype == np.float32
                np.testing.assert_allclose(rebuild(view), own[layer, head, token], atol=1e-4)
                np.testing.assert_allclose(view["weights"], own[layer, head, token], atol=1e-4)
                np.testing.assert_allclose(
                    view["products"].sum(-1) * view["scale"] + view["bias"], view["scores"], rtol=1e-4, atol=1e-5
                )


def test_scale_is_one_over_root_d_except_t5(models):
    s = "The cat sat."
    assert neuron_view(models["minilm"], s, 0, 0, 1)["scale"] == pytest.approx(32**-0.5)
    assert neuron_view(models["gpt2"], s, 0, 0, 1)["scale"] == pytest.approx(8**-0.5)
    t5 = neuron_view(models["t5"], s, 0, 0, 1)
    assert t5["scale"] == 1.0 and np.abs(t5["bias"]).max() > 0  # relative position bias instead


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_causal_models_mask_the_future(name, models):
    sentence = align(TEXT, models[name])
    view = neuron_view(models[name], sentence, 1, 2, 3)
    np.testing.assert_array_equal(view["masked"], np.arange(len(sentence)) > 3)
    assert (view["weights"][4:] == 0).all()


@pytest.mark.parametrize(("name", "groups"), [("llama", 2), ("qwen2", 2), ("mistral", 1)])
def test_grouped_query_heads_read_their_groups_keys(name, groups, models):
    model = models[name]
    sentence = align(TEXT, model)
    capture = capture_qk(model, sentence, 0)
    assert capture.query.shape[0] == 4 and capture.key.shape[0] == groups
    views = [neuron_view(model, sentence, 0, head, 5, capture=capture) for head in range(4)]
    assert [v["kv_head"] for v in views] == [h * groups // 4 for h in range(4)]
    for a in views:
        for b in views:
            same_group = a["kv_head"] == b["kv_head"]
            assert np.array_equal(a["keys"], b["keys"]) == same_group


def test_llama_vectors_are_caught_after_rotary_embeddings(models):
    """The caught query/key equal the projections rotated by the model's own rotary step."""
    from transformers.models.llama import modeling_llama

    model = models["llama"]
    sentence = align(TEXT, model)
    attn = model.model.layers[1].self_attn
    seen = {}
    hooks = [
        attn.q_proj.register_forward_hook(lambda m, i, o: seen.__setitem__("q", o)),
        attn.k_proj.register_forward_hook(lambda m, i, o: seen.__setitem__("k", o)),
        attn.register_forward_pre_hook(
            lambda m, a, kw: seen.__setitem__("cos_sin", kw["position_embeddings"]), with_kwargs=True
        ),
    ]
    try:
        capture = capture_qk(model, sentence, 1)
    finally:
        for hook in hooks:
            hook.remove()
    T, d = len(sentence), attn.head_dim
    q = seen["q"].view(1, T, -1, d).transpose(1, 2)
    k = seen["k"].view(1, T, -1, d).transpose(1, 2)
    q_rot, k_rot = modeling_llama.apply_rotary_pos_emb(q, k, *seen["cos_sin"])
    np.testing.assert_allclose(capture.query, q_rot[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(capture.key, k_rot[0].numpy(), atol=1e-6)
    assert np.abs(capture.query[:, 1:] - q[0, :, 1:].numpy()).max() > 1e-3  # rotation did happen


def test_bert_pair_uses_segment_ids(models):
    model = models["bert"]
    p = pair("The cat sat.", "It was happy.", model)
    own = pair_attention(model, p)
    for token in (0, 5, len(p) - 1):
        view = neuron_view(model, p, 1, 1, token)
        np.testing.assert_allclose(rebuild(view), own[1, 1, token], atol=1e-4)


@pytest.mark.parametrize("name", ["t5", "bart", "marian"])
def test_decoder_and_cross_attention_parts(name, models):
    model = models[name]
    out = encoder_decoder_attention(model, "The cat sat on the mat.", target="Le chat dort.")
    own = {"decoder": out.decoder_attention, "cross": out.cross_attention}
    for part, array in own.items():
        capture = capture_qk(model, out.source, 1, part=part, target="Le chat dort.")
        assert capture.query.shape[1] == len(out.decoder)
        assert capture.key.shape[1] == (len(out.source) if part == "cross" else len(out.decoder))
        for head in range(model.num_heads):
            for token in range(len(out.decoder)):
                view = neuron_view(model, out.source, 1, head, token, capture=capture)
                np.testing.assert_allclose(rebuild(view), array[1, head, token], atol=1e-4)
    assert capture_qk(model, out.source, 0).part == "encoder"


def test_capture_stops_after_the_selected_layer(models):
    """Only the selected layer is caught: later layers never run."""
    model = models["minilm"]
    ran = []
    hooks = [
        layer.register_forward_hook(lambda m, i, o, n=n: ran.append(n))
        for n, layer in enumerate(model.model.encoder.layer)
    ]
    try:
        capture_qk(model, TEXT, 2)
    finally:
        for hook in hooks:
            hook.remove()
    assert ran == [0, 1]


def test_bad_requests_are_explained(models):
    gpt2, t5 = models["gpt2"], models["t5"]
    with pytest.raises(NeuronViewError, match="layer 2 is out of range"):
        capture_qk(gpt2, TEXT, 2)
    with pytest.raises(NeuronViewError, match="head 4 is out of range"):
        neuron_view(gpt2, TEXT, 0, 4, 0)
    with pytest.raises(NeuronViewError, match="token 99 is out of range"):
        neuron_view(gpt2, TEXT, 0, 0, 99)
    with pytest.raises(NeuronViewError, match="encoder-decoder"):
        capture_qk(gpt2, TEXT, 0, part="cross")
    with pytest.raises(NeuronViewError, match="one of encoder, decoder, cross"):
        capture_qk(t5, TEXT, 0, part="self")
    capture = capture_qk(gpt2, TEXT, 0)
    with pytest.raises(NeuronViewError, match="capture is of layer 0"):
        neuron_view(gpt2, TEXT, 1, 0, 0, capture=capture)


def test_fused_attention_is_refused():
    model = load_model(tiny_models.tiny_gpt2(), device="cpu")
    model.model.set_attn_implementation("sdpa")
    with pytest.raises(NeuronViewError, match="needs eager attention.*'sdpa'"):
        capture_qk(model, TEXT, 0)


def test_gpt2_upcast_path_is_unsupported_by_name():
    """GPT-2's reorder-and-upcast option skips the shared attention function."""
    inner, tok = tiny_models.tiny_gpt2()
    inner.config.reorder_and_upcast_attn = True
    for block in inner.h:
        block.attn.reorder_and_upcast_attn = True
    model = load_model((inner, tok), device="cpu")
    with pytest.raises(NeuronViewError, match="does not support gpt2 models"):
        capture_qk(model, TEXT, 0)


def softcapped_gemma2():
    """Gemma-2 with a strong soft-cap on its scores: a term the view cannot show."""
    from transformers import Gemma2Config, Gemma2Model

    tok = tiny_models.gpt2_tokenizer()
    torch.manual_seed(0)
    config = Gemma2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=128,
        query_pre_attn_scalar=8,
        attn_logit_softcapping=0.5,
        initializer_range=0.5,
        pad_token_id=tok.eos_token_id,
    )
    return load_model((Gemma2Model(config), tok), device="cpu")


def test_attention_with_terms_the_view_cannot_show_is_refused():
    """Gemma-2 soft-caps its scores; a strong cap changes the weights and must not pass silently."""
    model = softcapped_gemma2()
    with pytest.raises(NeuronViewError, match="does not support gemma2 models.*soft-capping"):
        capture_qk(model, TEXT, 0)
    with pytest.raises(NeuronViewError, match="does not support gemma2 models.*soft-capping"):
        capture_all_qk(model, TEXT)


def test_sliding_window_is_part_of_the_mask():
    """Mistral's sliding window hides keys too far back; the view marks them masked."""
    inner, tok = tiny_models.tiny_mistral()
    inner.config.sliding_window = 3
    model = load_model((inner, tok), device="cpu")
    sentence = align(TEXT, model)
    own = attention(model, [sentence])[0]
    view = neuron_view(model, sentence, 1, 0, 6)
    np.testing.assert_array_equal(np.flatnonzero(~view["masked"]), [4, 5, 6])
    np.testing.assert_allclose(rebuild(view), own[1, 0, 6], atol=1e-4)


# --- every layer in one pass (what the widget caches) -------------------------------

DEEP = {  # more layers than the tiny defaults, so "one pass for all" has something to count
    "gpt2": lambda: tiny_models.tiny_gpt2(n_layer=4),
    "bert": lambda: tiny_models.tiny_bert(n_layer=3),
    "llama": lambda: tiny_models.tiny_llama(n_layer=3),
}


@pytest.fixture(scope="module")
def deep(minilm):
    loaded = {name: load_model(build(), device="cpu") for name, build in DEEP.items()}
    loaded["minilm"] = minilm
    return loaded


@contextmanager
def counting_runs(model):
    """Counts how often the input embeddings (once per pass of a stack) and each attention module run."""
    runs = {"embeddings": 0, "attention": {}}

    def attention_ran(module, args, kwargs=None):
        runs["attention"][module] = runs["attention"].get(module, 0) + 1

    def embedded(module, args):
        runs["embeddings"] += 1

    hooks = [model.model.get_input_embeddings().register_forward_pre_hook(embedded)]
    hooks += [
        m.register_forward_pre_hook(attention_ran)
        for m in model.model.modules()
        if type(m).__name__.endswith("Attention")
    ]
    try:
        yield runs
    finally:
        for hook in hooks:
            hook.remove()


@pytest.mark.parametrize("name", list(DEEP) + ["minilm"])
def test_capture_all_catches_every_layer_in_one_pass(name, deep):
    model = deep[name]
    sentence = align(TEXT, model)
    own = attention(model, [sentence])[0]
    with counting_runs(model) as runs:
        captures = capture_all_qk(model, sentence)
    assert runs["embeddings"] == 1, "one forward pass"
    assert len(runs["attention"]) >= model.num_layers and set(runs["attention"].values()) == {1}
    assert [c.layer for c in captures] == list(range(model.num_layers))
    for layer, capture in enumerate(captures):
        assert capture.attention is None  # checked, then dropped: weights() rebuilds it
        for head in range(model.num_heads):
            np.testing.assert_allclose(capture.weights(head), own[layer, head], atol=1e-4)
        single = capture_qk(model, sentence, layer)  # the one-layer capture catches the same vectors
        np.testing.assert_array_equal(capture.query, single.query)
        np.testing.assert_array_equal(capture.key, single.key)
        np.testing.assert_array_equal(capture.masked, single.masked)
        assert capture.scale == single.scale and single.attention is not None
        for token in (0, len(sentence) - 1):
            view = neuron_view(model, sentence, layer, 1, token, capture=capture)
            np.testing.assert_allclose(rebuild(view), own[layer, 1, token], atol=1e-4)


def test_capture_all_keeps_compact_arrays_and_one_mask(deep):
    """The layers share the causal mask's array; vectors are copies, not views of the model's buffers."""
    captures = capture_all_qk(deep["gpt2"], TEXT)
    assert all(c.masked is captures[0].masked for c in captures)
    for c in captures:
        assert c.query.flags.c_contiguous and c.query.base is None
        assert c.key.flags.c_contiguous and c.key.base is None


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_capture_all_encoder_decoder_parts(name, models):
    model = models[name]
    out = encoder_decoder_attention(model, "The cat sat on the mat.", target="Le chat dort.")
    own = {"encoder": out.encoder_attention, "decoder": out.decoder_attention, "cross": out.cross_attention}
    runs = []
    hooks = [
        stack.register_forward_pre_hook(lambda m, a, name=name: runs.append(name))
        for name, stack in (("encoder", model.model.get_encoder()), ("decoder", model.model.get_decoder()))
    ]
    try:
        for part, array in own.items():
            runs.clear()
            captures = capture_all_qk(model, out.source, part=part, target="Le chat dort.")
            assert len(captures) == array.shape[0]
            # One pass: the encoder part runs the encoder only, the others encoder then decoder, once.
            assert runs == (["encoder"] if part == "encoder" else ["encoder", "decoder"])
            for layer, capture in enumerate(captures):
                assert (capture.part, capture.layer) == (part, layer)
                for head in range(model.num_heads):
                    np.testing.assert_allclose(capture.weights(head), array[layer, head], atol=1e-4)
    finally:
        for hook in hooks:
            hook.remove()


def test_capture_all_refuses_what_capture_qk_refuses(models):
    with pytest.raises(NeuronViewError, match="encoder-decoder"):
        capture_all_qk(models["gpt2"], TEXT, part="cross")
    with pytest.raises(NeuronViewError, match="one of encoder, decoder, cross"):
        capture_all_qk(models["t5"], TEXT, part="self")
    model = load_model(tiny_models.tiny_gpt2(), device="cpu")
    model.model.set_attn_implementation("sdpa")
    with pytest.raises(NeuronViewError, match="needs eager attention.*'sdpa'"):
        capture_all_qk(model, TEXT)
    inner, tok = tiny_models.tiny_gpt2()
    inner.config.reorder_and_upcast_attn = True
    for block in inner.h:
        block.attn.reorder_and_upcast_attn = True
    with pytest.raises(NeuronViewError, match="does not support gpt2 models.*layer 0 never"):
        capture_all_qk(load_model((inner, tok), device="cpu"), TEXT)


def test_a_term_the_view_cannot_show_fails_the_layer_that_adds_it(models):
    """A check per layer: an extra score term in layer 1 only is caught and named."""
    from transformers.models.gpt2 import modeling_gpt2

    model = models["gpt2"]
    real = modeling_gpt2.eager_attention_forward
    layer1 = model.model.h[1].attn

    def skewed(module, query, key, value, mask, *args, **kwargs):
        if module is layer1:  # an ALiBi-like bias on the keys, unseen by the captured q and k
            skew = torch.linspace(0, 3, key.shape[-2])
            extra = skew if mask is None else mask + skew
            return real(module, query, key, value, extra, *args, **kwargs)
        return real(module, query, key, value, mask, *args, **kwargs)

    modeling_gpt2.eager_attention_forward = skewed
    try:
        with pytest.raises(NeuronViewError, match="in layer 1"):
            capture_all_qk(model, TEXT)
        capture_qk(model, TEXT, 0)  # layer 0 alone is fine
    finally:
        modeling_gpt2.eager_attention_forward = real


def test_model_input_catches_once_per_kind(deep):
    model = deep["gpt2"]
    source = ModelInput(model, align(TEXT, model))
    with counting_runs(model) as runs:
        first = source.capture("self", 2)
        assert runs["embeddings"] == 1
        for layer in (0, 3, 1, 2):
            assert source.capture("self", layer).layer == layer
        assert source.capture("self", 2) is first
        with pytest.raises(NeuronViewError, match="layer 4 is out of range"):
            source.capture("self", 4)
        assert runs["embeddings"] == 1, "later layers are lookups"
    T, d = len(source.sentence), first.head_dim
    vectors = 4 * 2 * first.num_heads * T * d * 4  # q and k of 4 layers, float32
    assert vectors <= source.captured_bytes() <= vectors + T * T  # + the one shared mask
    source.forget()
    assert source.captured_bytes() == 0
    with counting_runs(model) as runs:
        source.capture("self", 0)
    assert runs["embeddings"] == 1


def test_model_input_refuses_a_bad_layer_before_running(deep):
    model = deep["gpt2"]
    source = ModelInput(model, align(TEXT, model))
    with counting_runs(model) as runs:
        for bad in (-1, 4):
            with pytest.raises(NeuronViewError, match=f"layer {bad} is out of range"):
                source.capture("self", bad)
    assert runs["embeddings"] == 0 and source.captured_bytes() == 0


def test_model_input_says_no_again_without_rerunning():
    """A family the view cannot show is refused once per kind; later layers get the same answer at once."""
    model = softcapped_gemma2()
    source = ModelInput(model, align(TEXT, model))
    with counting_runs(model) as runs:
        for layer in (0, 1, 0):
            with pytest.raises(NeuronViewError, match="soft-capping"):
                source.capture("self", layer)
    assert runs["embeddings"] == 1
