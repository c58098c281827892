"""TransformerLens and nnsight models work wherever a model does (issue 15, point 1).

Each model is booted offline from a local folder (tiny models saved from configs, and the
embedded all-MiniLM-L6-v2) and compared with the Hugging Face path on the same weights
and the same token ids: attention and the neuron view's queries and keys to 1e-6
(measured: 3e-8 for GPT-2, 0 for Llama and MiniLM), the corpus statistics to 1e-5.
The tests skip only when the library cannot be imported.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import tiny_models
from attnwidget.choices import View, values
from attnwidget.corpus.analysis import analyze
from attnwidget.errors import AttnWidgetError, ModelLoadError
from attnwidget.explorer.head_explorer import HeadExplorer
from attnwidget.text.sentence import annotate
from attnwidget.transformer.forward import attention
from attnwidget.transformer.generation import generate_attention
from attnwidget.transformer.library_models import library_of, require
from attnwidget.transformer.loading import (
    OFFLINE_MODEL,
    embedded_model_path,
    load_model,
)
from attnwidget.transformer.neurons import capture_all_qk
from attnwidget.widget.attention_widget import AttentionWidget
from requests_helper import ask, neuron_arrays

TEXT = "The keys to the cabinet are missing."
SENTENCES = ["The cat sat on the mat.", "Dogs bark at night.", "She gave him the old book yesterday."]
TOLERANCE = 1e-6

needs_lens = pytest.mark.skipif(
    importlib.util.find_spec("transformer_lens") is None,
    reason="TransformerLens is not installed (pip install 'attnwidget[transformer-lens]')",
)
needs_nnsight = pytest.mark.skipif(
    importlib.util.find_spec("nnsight") is None, reason="nnsight is not installed (pip install 'attnwidget[nnsight]')"
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Local model folders, as a user saves them: tiny GPT-2 and Llama (with LM heads), MiniLM."""
    root = tmp_path_factory.mktemp("models")
    out = {"minilm": embedded_model_path(OFFLINE_MODEL)}
    for name, (model, tokenizer) in {
        "gpt2": tiny_models.tiny_gpt2_lm(),
        "llama": tiny_models.tiny_llama(lm_head=True),
    }.items():
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def bridges(folders):
    """``name -> TransformerBridge``, each booted once, offline, from its folder."""
    bridge_module = pytest.importorskip(
        "transformer_lens.model_bridge", reason="TransformerLens 4 (TransformerBridge) is not installed"
    )
    booted = {}

    def boot(name):
        if name not in booted:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                booted[name] = bridge_module.TransformerBridge.boot_transformers(str(folders[name]), device="cpu")
        return booted[name]

    return boot


def hf_twin(folder, tokenizer, causal: bool):
    """The Hugging Face path on the same weights, reading text with the same tokenizer."""
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModelForCausalLM if causal else AutoModel
    return load_model((auto.from_pretrained(folder, attn_implementation="eager"), tokenizer), device="cpu")


@pytest.fixture(scope="module")
def lens_pairs(bridges, folders):
    """``name -> (LoadedModel through the bridge, LoadedModel through transformers)``."""
    pairs = {}

    def pair(name):
        if name not in pairs:
            loaded = load_model(bridges(name))
            pairs[name] = loaded, hf_twin(folders[name], loaded.tokenizer, loaded.is_causal)
        return pairs[name]

    return pair


# --- recognising library objects ----------------------------------------------------


def test_objects_are_recognised_by_module_name_without_importing_the_library():
    fake = type("TransformerBridge", (), {"__module__": "transformer_lens.model_bridge.bridge"})
    sub = type("MyBridge", (fake,), {"__module__": "__main__"})
    wrapped = type("LanguageModel", (), {"__module__": "nnsight.modeling.language"})
    assert library_of(fake()) == library_of(sub()) == "transformer_lens"
    assert library_of(wrapped()) == "nnsight"
    assert library_of("gpt2") is None and library_of(object()) is None
    code = (
        "import sys, attnwidget.transformer.loading, attnwidget.widget.attention_widget; "
        "print(sorted(m for m in ('transformer_lens', 'nnsight') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_library_names_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformer_lens", None)  # import now raises ImportError
    with pytest.raises(ModelLoadError, match=r"pip install 'attnwidget\[transformer-lens\]'"):
        require("transformer_lens", "reading this model")
    monkeypatch.setitem(sys.modules, "nnsight", None)
    with pytest.raises(ModelLoadError, match=r"attnwidget\[nnsight\]"):
        require("nnsight", "reading this model")


# --- TransformerLens 4: TransformerBridge --------------------------------------------


@needs_lens
@pytest.mark.parametrize("name", ["gpt2", "llama", "minilm"])
def test_bridge_attention_queries_and_keys_equal_the_hf_path(lens_pairs, name):
    lens, hf = lens_pairs(name)
    assert (lens.num_layers, lens.num_heads, lens.is_causal) == (hf.num_layers, hf.num_heads, hf.is_causal)
    assert lens.family == hf.family and lens.max_length == hf.max_length
    sentence = annotate(TEXT, lens, annotations=None)
    np.testing.assert_allclose(attention(lens, [sentence])[0], attention(hf, [sentence])[0], atol=TOLERANCE, rtol=0)
    for ours, theirs in zip(capture_all_qk(lens, sentence), capture_all_qk(hf, sentence)):
        np.testing.assert_allclose(ours.query, theirs.query, atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(ours.key, theirs.key, atol=TOLERANCE, rtol=0)  # Llama: 2 key heads for 4
        assert ours.scale == pytest.approx(theirs.scale)
        np.testing.assert_array_equal(ours.masked, theirs.masked)


@needs_lens
def test_a_sentence_pair_through_an_encoder_bridge_reads_its_segment_ids(lens_pairs):
    lens, hf = lens_pairs("minilm")
    ours = AttentionWidget.from_pair("The cat sat.", "It was on the mat.", model=lens.model)
    theirs = AttentionWidget.from_pair("The cat sat.", "It was on the mat.", model=hf)
    np.testing.assert_allclose(ours.attention, theirs.attention, atol=TOLERANCE, rtol=0)
    reply, buffers = ask(ours, what="neuron", attention="self", layer=2, head=5)
    expected, expected_buffers = ask(theirs, what="neuron", attention="self", layer=2, head=5)
    np.testing.assert_allclose(
        neuron_arrays(reply, buffers)["queries"], neuron_arrays(expected, expected_buffers)["queries"], atol=1e-3
    )


@needs_lens
def test_hooks_the_user_attached_are_in_force_and_stay(bridges, folders):
    """An ablation attached to the model shows in the widget, and is still attached afterwards."""
    bridge = bridges("gpt2")
    lens = load_model(bridge)
    sentence = annotate(TEXT, lens, annotations=None)
    clean = attention(lens, [sentence])[0]

    def uniform(pattern, hook):  # every query attends evenly to the keys it may see
        allowed = (pattern > 0).float()
        return allowed / allowed.sum(-1, keepdim=True)

    bridge.add_hook("blocks.0.attn.hook_pattern", uniform)
    try:
        ablated = attention(lens, [sentence])[0]
        T = len(sentence)
        np.testing.assert_allclose(ablated[0, 0], np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None], atol=1e-6)
        assert np.abs(ablated[1] - clean[1]).max() > 1e-6  # layer 1 reads what the ablated layer 0 wrote (2e-5)
        np.testing.assert_allclose(attention(lens, [sentence])[0], ablated)  # the hook is still there
    finally:
        bridge.reset_hooks()
    np.testing.assert_allclose(attention(lens, [sentence])[0], clean, atol=TOLERANCE)


@needs_lens
def test_padded_batches_through_the_bridge_equal_each_sentence_alone(lens_pairs):
    lens, _ = lens_pairs("gpt2")
    sentences = [annotate(text, lens, annotations=None) for text in SENTENCES]
    batched = attention(lens, sentences, batch_size=3)
    for sentence, got in zip(sentences, batched):
        np.testing.assert_allclose(got, attention(lens, [sentence], batch_size=1)[0], atol=TOLERANCE, rtol=0)


@needs_lens
def test_bridge_widget_shows_every_view_with_syntax_and_neurons(lens_pairs, nlp):
    lens, hf = lens_pairs("gpt2")
    widget = AttentionWidget(TEXT, model=lens.model, annotations="spacy", pipeline=nlp)
    twin = AttentionWidget(TEXT, model=hf, annotations="spacy", pipeline=nlp)
    assert widget.tokens[0] == "<|endoftext|>" and widget.tokens == twin.tokens  # the bridge's BOS
    assert widget.syntax is not None and widget._meta["neuron"] is True
    np.testing.assert_allclose(widget.attention, twin.attention, atol=TOLERANCE, rtol=0)
    for view in values(View):
        widget.view = view
        assert widget.view == view
    widget.level = "word"  # syntax alignment: tokens grouped into spaCy's words
    widget.level = "token"
    reply, buffers = ask(widget, what="neuron", attention="self", layer=1, head=2)
    expected, expected_buffers = ask(twin, what="neuron", attention="self", layer=1, head=2)
    assert "error" not in reply and reply["neuron"]["family"] == "gpt2"
    got, want = neuron_arrays(reply, buffers), neuron_arrays(expected, expected_buffers)
    for name in ("queries", "keys", "masked"):
        np.testing.assert_allclose(got[name], want[name], atol=1e-3)
    assert widget.neuron(layer=0, head=1, token=3)["weights"] == pytest.approx(twin.attention[0, 1, 3], abs=1e-5)
    reply, buffers = ask(widget, what="layer", layer=1)
    assert reply["payload"]["layer"] == 1 and len(buffers) == 1
    reply, buffers = ask(widget, what="thumbnails", hide_first=False)
    assert reply["thumbnails"]["layers"] == 2 and len(buffers) == 1
    widget.close()
    twin.close()


@needs_lens
def test_bridge_generates_as_the_hf_model_does(lens_pairs):
    lens, hf = lens_pairs("llama")
    ours = generate_attention(lens, "The keys to", max_new_tokens=5, progress=False)
    theirs = generate_attention(hf, "The keys to", max_new_tokens=5, progress=False)
    assert ours.sentence.input_ids == theirs.sentence.input_ids and ours.boundary == theirs.boundary
    np.testing.assert_allclose(ours.attention, theirs.attention, atol=TOLERANCE, rtol=0)
    widget = AttentionWidget.from_generation("The keys to", model=lens.model, max_new_tokens=3, progress=False)
    assert widget.boundary == ours.boundary and widget.generated_text
    with pytest.raises(TypeError, match="temprature"):
        generate_attention(lens, "The keys", max_new_tokens=2, progress=False, temprature=0.5)
    with pytest.raises(AttnWidgetError, match="causal"):
        generate_attention(lens_pairs("minilm")[0], "The keys", progress=False)


@needs_lens
def test_bridge_corpus_analysis_and_explorer_equal_the_hf_path(lens_pairs, ewt_path):
    lens, hf = lens_pairs("minilm")
    ours = analyze(ewt_path, model=lens.model, max_sentences=6, progress=False, figures=False)
    theirs = analyze(ewt_path, model=hf, max_sentences=6, progress=False, figures=False)
    pd.testing.assert_frame_equal(ours.to_frame(), theirs.to_frame(), atol=1e-5, rtol=0)
    explorer = HeadExplorer(ours, model=lens.model)
    row = ours.exemplars(3, 2)[0]
    reply, buffers = ask(explorer, what="sentence", source=0, sentence=row["sentence"], layer=3)
    assert "error" not in reply and reply["meta"]["neuron"] is True and len(buffers) == 1
    reply, _ = ask(explorer, what="neuron", source=0, sentence=row["sentence"], attention="self", layer=3, head=2)
    assert "error" not in reply, reply
    explorer.close()


@needs_lens
def test_text_analysis_through_a_causal_bridge_saves_and_resumes(lens_pairs, tmp_path):
    lens, hf = lens_pairs("gpt2")
    ours = analyze(SENTENCES, model=lens.model, annotations=None, progress=False, figures=False, out=tmp_path / "run")
    theirs = analyze(SENTENCES, model=hf, annotations=None, progress=False, figures=False)
    pd.testing.assert_frame_equal(ours.to_frame(), theirs.to_frame(), atol=1e-5, rtol=0)
    again = analyze(
        SENTENCES, model=lens.model, annotations=None, progress=False, figures=False, out=tmp_path / "run", resume=True
    )  # finished: the same weights, so read back
    pd.testing.assert_frame_equal(again.to_frame(), ours.to_frame())


@needs_lens
def test_load_model_boots_an_id_or_folder_in_transformer_lens(lens_pairs, folders, monkeypatch):
    lens, _ = lens_pairs("llama")
    booted = load_model(folders["llama"], backend="transformer-lens", progress=False)
    assert type(booted.model).__name__ == "TransformerBridge" and booted.runner is not None
    sentence = annotate(TEXT, lens, annotations=None)
    np.testing.assert_array_equal(attention(booted, [sentence])[0], attention(lens, [sentence])[0])
    minilm = load_model(OFFLINE_MODEL, backend="transformer-lens", progress=False)  # the embedded copy
    assert (minilm.num_layers, minilm.is_causal) == (6, False)
    with pytest.raises(ModelLoadError, match="backend must be one of"):
        load_model(folders["llama"], backend="lens")
    with pytest.raises(ModelLoadError, match="by id or folder"):
        load_model(tiny_models.tiny_gpt2(), backend="transformer-lens")
    monkeypatch.setitem(sys.modules, "transformer_lens", None)  # as if it were not installed
    with pytest.raises(ModelLoadError, match=r"pip install 'attnwidget\[transformer-lens\]'"):
        load_model(folders["llama"], backend="transformer-lens")


# --- ActivationCache ---------------------------------------------------------------


@needs_lens
def test_from_cache_shows_the_cached_patterns(bridges, lens_pairs):
    bridge = bridges("llama")
    lens, _ = lens_pairs("llama")
    _, cache = bridge.run_with_cache(TEXT)  # the whole cache, batch dimension kept
    tokens = bridge.to_str_tokens(TEXT)
    widget = AttentionWidget.from_cache(cache, tokens, heads=[0, 1])
    ids = bridge.to_tokens(TEXT)[0].tolist()
    sentence = annotate(TEXT, lens, annotations=None)
    assert sentence.input_ids == ids
    np.testing.assert_allclose(widget.attention, attention(lens, [sentence])[0], atol=TOLERANCE, rtol=0)
    assert widget.tokens == tokens and widget.heads == [0, 1] and widget._data.is_causal
    assert widget._data.model_name == bridge.cfg.model_name and widget._meta["neuron"] is False
    # token ids or the text itself are turned into tokens by the cache's model
    assert AttentionWidget.from_cache(cache, bridge.to_tokens(TEXT)).tokens == tokens
    assert AttentionWidget.from_cache(cache, TEXT).tokens == tokens
    # a batch, a cache without its batch dimension, the plain-dict form
    texts = [TEXT, "Dogs bark."]
    _, batch = bridge.run_with_cache(texts, names_filter=lambda n: n.endswith("hook_pattern"))
    second = bridge.to_str_tokens(texts[1])
    n = len(second)
    np.testing.assert_allclose(
        AttentionWidget.from_cache(batch, bridge.to_str_tokens(texts[0]), batch=0).attention,
        widget.attention,
        atol=1e-5,
    )
    padded = batch["blocks.0.attn.hook_pattern"].shape[-1]
    assert AttentionWidget.from_cache(batch, second + ["<pad>"] * (padded - n), batch=1).num_layers == 2
    _, single = bridge.run_with_cache(
        TEXT, remove_batch_dim=True, return_cache_object=False, names_filter=lambda n: n.endswith("hook_pattern")
    )
    np.testing.assert_array_equal(AttentionWidget.from_cache(single, tokens).attention, widget.attention)


@needs_lens
def test_from_cache_errors_say_what_to_cache(bridges):
    bridge = bridges("gpt2")
    _, cache = bridge.run_with_cache(TEXT, names_filter=lambda n: n.endswith("hook_q"))
    tokens = bridge.to_str_tokens(TEXT)
    with pytest.raises(AttnWidgetError, match="hook_pattern"):
        AttentionWidget.from_cache(cache, tokens)
    _, cache = bridge.run_with_cache(TEXT, names_filter="blocks.1.attn.hook_pattern")
    with pytest.raises(AttnWidgetError, match=r"not of layers \[0\]"):
        AttentionWidget.from_cache(cache, tokens)
    _, cache = bridge.run_with_cache(TEXT, names_filter=lambda n: n.endswith("hook_pattern"))
    with pytest.raises(AttnWidgetError, match="batch=3 is out of range"):
        AttentionWidget.from_cache(cache, tokens, batch=3)
    with pytest.raises(AttnWidgetError, match="tokens were given"):
        AttentionWidget.from_cache(cache, tokens[1:])
    with pytest.raises(AttnWidgetError, match="does not know its model"):
        AttentionWidget.from_cache(dict(cache.cache_dict), TEXT)
    with pytest.raises(AttnWidgetError, match="ActivationCache"):
        AttentionWidget.from_cache(["not", "a", "cache"], tokens)


# --- nnsight -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nnsight_gpt2(folders):
    nnsight = pytest.importorskip("nnsight", reason="nnsight is not installed")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LanguageModel is deprecated in favour of TransformersModel in 0.8
        hf = AutoModelForCausalLM.from_pretrained(folders["gpt2"], attn_implementation="eager")
        return nnsight.LanguageModel(hf, tokenizer=AutoTokenizer.from_pretrained(folders["gpt2"]))


@needs_nnsight
def test_nnsight_model_attention_equals_its_own_trace(nnsight_gpt2, folders):
    loaded = load_model(nnsight_gpt2)
    assert loaded.model is nnsight_gpt2._module and loaded.runner is None  # unwrapped, not copied
    sentence = annotate(TEXT, loaded, annotations=None)
    ids = np.asarray([sentence.input_ids])
    import torch

    with nnsight_gpt2.trace(
        {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(ids.shape, dtype=torch.long)},
        output_attentions=True,
    ):
        traced = nnsight_gpt2.output.attentions.save()
    np.testing.assert_allclose(
        attention(loaded, [sentence])[0], torch.stack(traced, 1)[0].detach().numpy(), atol=TOLERANCE
    )
    hf = hf_twin(folders["gpt2"], loaded.tokenizer, causal=True)
    np.testing.assert_allclose(attention(loaded, [sentence])[0], attention(hf, [sentence])[0], atol=TOLERANCE)


@needs_nnsight
def test_nnsight_model_widget_generation_and_analysis(nnsight_gpt2, folders):
    widget = AttentionWidget(TEXT, model=nnsight_gpt2, annotations=None)
    reply, _ = ask(widget, what="neuron", attention="self", layer=1, head=0)
    assert "error" not in reply and reply["neuron"]["family"] == "gpt2"
    widget.close()
    generated = generate_attention(nnsight_gpt2, "The keys to", max_new_tokens=4, progress=False)
    hf = hf_twin(folders["gpt2"], load_model(nnsight_gpt2).tokenizer, causal=True)
    assert (
        generated.sentence.input_ids
        == generate_attention(hf, "The keys to", max_new_tokens=4, progress=False).sentence.input_ids
    )
    ours = analyze(SENTENCES, model=nnsight_gpt2, annotations=None, progress=False, figures=False)
    theirs = analyze(SENTENCES, model=hf, annotations=None, progress=False, figures=False)
    pd.testing.assert_frame_equal(ours.to_frame(), theirs.to_frame(), atol=1e-5, rtol=0)


@needs_nnsight
@pytest.mark.slow
def test_a_lazily_loaded_nnsight_model_is_dispatched(folders):
    """nnsight's default (dispatch=False) holds meta tensors until the weights are loaded."""
    import nnsight
    from transformers import AutoTokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = nnsight.LanguageModel(
            str(folders["gpt2"]), tokenizer=AutoTokenizer.from_pretrained(folders["gpt2"]), dispatch=False
        )
    assert not lazy.dispatched
    loaded = load_model(lazy)
    assert lazy.dispatched and loaded.device.type == "cpu"
    sentence = annotate(TEXT, loaded, annotations=None)
    hf = hf_twin(folders["gpt2"], loaded.tokenizer, causal=True)
    np.testing.assert_allclose(attention(loaded, [sentence])[0], attention(hf, [sentence])[0], atol=TOLERANCE)


@needs_nnsight
def test_an_nnsight_wrapper_without_a_tokenizer_is_refused(folders):
    import nnsight
    from transformers import AutoModelForCausalLM

    bare = nnsight.NNsight(AutoModelForCausalLM.from_pretrained(folders["gpt2"]))
    with pytest.raises(ModelLoadError, match="no tokenizer"):
        load_model(bare)


# --- TransformerLens 3: HookedTransformer --------------------------------------------


@pytest.fixture(scope="module")
def hooked3(folders):
    """A TransformerLens 3-style HookedTransformer and the Hugging Face path, on one GPT-2's weights."""
    pytest.importorskip("transformer_lens", reason="TransformerLens is not installed")
    from hooked_transformer3 import HookedTransformer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoModelForCausalLM.from_pretrained(folders["gpt2"], attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(folders["gpt2"])
    return HookedTransformer(hf, tokenizer), load_model((hf, tokenizer), device="cpu")


@needs_lens
def test_hooked_transformer_3_works_as_the_hf_model_does(hooked3):
    model, hf = hooked3
    lens = load_model(model)
    assert lens.runner is not None and lens.family == "GPT2LMHeadModel" and lens.max_length == 128
    sentences = [annotate(text, lens, annotations=None) for text in SENTENCES]
    for ours, theirs in zip(attention(lens, sentences), attention(hf, sentences)):  # a padded batch
        np.testing.assert_allclose(ours, theirs, atol=TOLERANCE, rtol=0)
    for ours, theirs in zip(capture_all_qk(lens, sentences[2]), capture_all_qk(hf, sentences[2])):
        np.testing.assert_allclose(ours.query, theirs.query, atol=TOLERANCE, rtol=0)
        np.testing.assert_allclose(ours.key, theirs.key, atol=TOLERANCE, rtol=0)
        assert ours.scale == pytest.approx(theirs.scale) and (ours.masked == theirs.masked).all()
    ours = generate_attention(lens, "The keys to", max_new_tokens=4, progress=False)
    theirs = generate_attention(hf, "The keys to", max_new_tokens=4, progress=False)
    assert ours.sentence.input_ids == theirs.sentence.input_ids
    np.testing.assert_allclose(ours.attention, theirs.attention, atol=TOLERANCE, rtol=0)
    widget = AttentionWidget(TEXT, model=model, annotations=None)
    reply, _ = ask(widget, what="neuron", attention="self", layer=1, head=3)
    assert "error" not in reply and reply["neuron"]["family"] == "GPT2LMHeadModel"
    _, cache = model.run_with_cache(TEXT, names_filter=lambda name: name.endswith("hook_pattern"))
    np.testing.assert_allclose(AttentionWidget.from_cache(cache, TEXT).attention, widget.attention, atol=TOLERANCE)
    stats = analyze(SENTENCES, model=model, annotations=None, progress=False, figures=False)
    want = analyze(SENTENCES, model=hf, annotations=None, progress=False, figures=False)
    pd.testing.assert_frame_equal(stats.to_frame(), want.to_frame(), atol=1e-5, rtol=0)


def test_a_real_hooked_transformer_where_transformer_lens_3_is_installed(folders):
    """Runs where TransformerLens 3 is installed (4.x removed HookedTransformer): a randomly
    initialised HookedTransformer built from a config, which needs no download."""
    pytest.importorskip("transformer_lens", reason="TransformerLens is not installed")
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError:
        pytest.skip("HookedTransformer is TransformerLens 3.x; 4.x is installed here")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folders["gpt2"])
    cfg = HookedTransformerConfig(
        n_layers=2,
        d_model=32,
        n_ctx=128,
        d_head=8,
        n_heads=4,
        d_mlp=64,
        act_fn="gelu",
        d_vocab=len(tokenizer),
        attention_dir="causal",
        model_name="tiny-hooked",
        seed=0,
        device="cpu",
    )
    model = HookedTransformer(cfg, tokenizer=tokenizer)
    lens = load_model(model)
    assert lens.runner is not None and (lens.num_layers, lens.num_heads, lens.is_causal) == (2, 4, True)
    sentence = annotate(TEXT, lens, annotations=None)
    _, cache = model.run_with_cache(torch_ids(sentence), names_filter=lambda name: name.endswith("hook_pattern"))
    patterns = np.stack([cache[f"blocks.{layer}.attn.hook_pattern"][0].numpy() for layer in range(2)])
    np.testing.assert_allclose(attention(lens, [sentence])[0], patterns, atol=TOLERANCE, rtol=0)
    assert len(capture_all_qk(lens, sentence)) == 2  # each layer rebuilt from its q and k and checked
    widget = AttentionWidget(TEXT, model=model, annotations=None)
    reply, _ = ask(widget, what="neuron", attention="self", layer=1, head=0)
    assert "error" not in reply, reply
    np.testing.assert_allclose(AttentionWidget.from_cache(cache, sentence.tokens).attention, patterns, atol=1e-6)
    generated = generate_attention(lens, "The keys", max_new_tokens=3, progress=False)
    assert generated.num_generated >= 1
    analyze(SENTENCES, model=model, annotations=None, progress=False, figures=False)


def torch_ids(sentence):
    import torch

    return torch.tensor([sentence.input_ids])
