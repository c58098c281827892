"""AttentionWidget: traits, validation, the from-attention constructor, the synced payload
and the request/reply channel. No browser here (see tests/browser/)."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

from attnwidget.errors import AttnWidgetError
from attnwidget.payload import decode_array, quantise_sqrt, dequantise_sqrt, unpack_layer
from attnwidget.widget import REPLY, REQUEST, AttentionWidget
from test_widget_payload import softmax_attention

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
    assert widget.layer == 0 and widget.heads == [0, 1, 2, 3]
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
    "tokens, attention, message",
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
    "name, value, message",
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
    for name in ("view", "layer", "heads", "token", "token_role", "threshold", "prune",
                 "hide_first", "renormalise", "level", "theme"):
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
    assert [word["labels"][u] for u, wd in enumerate(word["word"]) if wd >= 0] == ["The", "dogs", "barked", "loudly", "."]
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
