"""Exported files of issue 6 inputs: the neuron view's vectors (bounded, int16) and the three
attentions of an encoder-decoder model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import tiny_models
from attnwidget.transformer.loading import load_model
from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.export import neuron_bundle, static_bundle
from attnwidget.widget.payload import decode_vectors
from testdata import softmax_attention

TEXT = "The quick brown fox jumps over the lazy dog."


def embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" data-attnwidget="attnwidget-0">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def gpt2_widget(gpt2_small):
    return AttentionWidget(TEXT, model=gpt2_small, annotations=None, layer=1, heads=[2, 0])


def test_file_carries_the_exported_layer_selected_heads_first(gpt2_widget):
    n = embedded(gpt2_widget.to_html())["neuron"]
    heads = [h["head"] for h in n["heads"]]
    assert heads == [0, 2, 1, 3]  # the selected heads (the trait is sorted) lead
    assert all(h["layer"] == 1 and h["attention"] == "self" for h in n["heads"])
    assert "layer 1" in n["note"] and "heads 0, 1, 2, 3" in n["note"]


def test_embedded_vectors_are_int16_within_a_step_of_the_model(gpt2_widget):
    n = neuron_bundle(gpt2_widget)
    first = n["heads"][0]
    capture = gpt2_widget._input.capture("self", 1)
    queries = decode_vectors(first["arrays"]["queries"])
    assert first["arrays"]["queries"]["dtype"] == "int16"
    np.testing.assert_allclose(queries, capture.query[first["head"]], atol=first["arrays"]["queries"]["quantum"])


def test_budget_bounds_the_heads_but_keeps_the_selected_one(gpt2_widget):
    n = neuron_bundle(gpt2_widget, budget=1)
    assert [h["head"] for h in n["heads"]] == [0]
    assert "heads 0;" in n["note"] and "export with another layer or head selected" in n["note"]


def test_file_of_attention_alone_says_the_neuron_view_needs_a_model():
    w = AttentionWidget.from_attention(list("abcd"), softmax_attention(2, 2, 4))
    n = static_bundle(w)["neuron"]
    assert n["heads"] == [] and "needs the model" in n["note"]


def test_encoder_decoder_file_carries_every_kind(t5_small):
    w = AttentionWidget("The cat sat.", model=t5_small, annotations=None, target="Le chat.", attention_kind="cross")
    bundle = embedded(w.to_html())
    assert bundle["state"]["attention_kind"] == "cross"
    assert bundle["layers"][0]["kind"] == "cross" and bundle["layers"][0]["cols"] == len(w._kinds["encoder"].tokens)
    assert set(bundle["kinds"]) == {"encoder", "decoder"}
    for kind, part in bundle["kinds"].items():
        assert part["meta"]["kind"] == kind and len(part["layers"]) == 2
        assert part["meta"]["tokens"] == w._kinds[kind].tokens
    assert bundle["neuron"]["heads"][0]["part"] == "cross"


def test_pair_and_generation_traits_are_exported(bert_small):
    w = AttentionWidget.from_pair("A cat.", "A dog.", model=bert_small, pair_filter="B->A")
    state = embedded(w.to_html())["state"]
    assert state["pair_filter"] == "B->A" and state["_meta"]["split"]["names"] == ["A", "B"]


def test_token_given_at_construction_is_kept():
    w = AttentionWidget.from_attention(list("abcd"), softmax_attention(2, 2, 4), token=2, view="neuron")
    assert w.token == 2 and embedded(w.to_html())["state"]["token"] == 2


def test_gqa_file_names_each_heads_key_group():
    llama = load_model(tiny_models.tiny_llama(), device="cpu")
    w = AttentionWidget(TEXT, model=llama, annotations=None)
    bundle = embedded(w.to_html())
    assert bundle["state"]["_meta"]["kv_heads"] == [0, 0, 1, 1]
    assert {(h["head"], h["kv_head"]) for h in bundle["neuron"]["heads"]} == {(0, 0), (1, 0), (2, 1), (3, 1)}
