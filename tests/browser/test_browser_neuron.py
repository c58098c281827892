"""Issue 6 views in exported files, in a real Chromium with every network request refused:
the neuron view (render, keyboard, expand, missing heads, no model), the pair filter,
encoder-decoder kinds and the generation step."""

from __future__ import annotations

import pytest
from pagetools import canvas_digest, goto_offline, wait_drawn

import tiny_models
from attnwidget.transformer.loading import load_model
from attnwidget.widget.attention_widget import AttentionWidget

pytestmark = pytest.mark.browser

TEXT = "The keys that the man left were gone."
STATUS = "document.querySelector('.aw-status').textContent"


@pytest.fixture(scope="module")
def gpt2():
    return load_model(tiny_models.tiny_gpt2(), device="cpu")


@pytest.fixture(scope="module")
def files(tmp_path_factory, gpt2):
    out = tmp_path_factory.mktemp("issue6")
    neuron = AttentionWidget(TEXT, model=gpt2, annotations=None, view="neuron", layer=1, heads=[2], token=3)
    bert = load_model(tiny_models.tiny_bert(), device="cpu")
    pair = AttentionWidget.from_pair("The cat sat on the mat.", "It was asleep.", model=bert, view="matrix")
    t5 = load_model(tiny_models.tiny_t5(), device="cpu")
    seq2seq = AttentionWidget("The cat sat.", model=t5, annotations=None, target="Le chat.")
    lm = load_model(tiny_models.tiny_gpt2_lm(), device="cpu")
    generated = AttentionWidget.from_generation("The cat sat on", model=lm, max_new_tokens=4)
    weights_only = AttentionWidget.from_attention(neuron.tokens, neuron.attention, view="neuron")
    return {
        "neuron": neuron.save_html(out / "neuron.html"),
        "pair": pair.save_html(out / "pair.html"),
        "seq2seq": seq2seq.save_html(out / "seq2seq.html"),
        "generated": generated.save_html(out / "generated.html"),
        "weights_only": weights_only.save_html(out / "weights_only.html"),
    }


def open_offline(page, path):
    goto_offline(page, path)
    wait_drawn(page)
    assert page.errors == []
    return page


def test_neuron_view_renders_from_the_file(page, files):
    open_offline(page, files["neuron"])
    page.wait_for_function(f"{STATUS}.includes('attends most')")
    assert 'query 3 "' in page.inner_text(".aw-status")
    assert page.is_visible(".aw-neuron-canvas")
    assert page.is_hidden(".aw-neuron-note")
    assert page.inner_text(".aw-neuron-summary").startswith("layer 1 · head 2")
    label = page.get_attribute(".aw-neuron", "aria-label")
    assert "Query token 3" in label and "Arrow keys" in label


def test_arrow_keys_move_the_query_token_and_enter_expands(page, files):
    open_offline(page, files["neuron"])
    page.wait_for_function(f"{STATUS}.includes('query 3 ')")
    before = canvas_digest(page)
    page.focus(".aw-neuron")
    page.keyboard.press("ArrowDown")
    page.wait_for_function(f"{STATUS}.includes('query 4 ')")
    assert canvas_digest(page) != before
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.wait_for_function(f"{STATUS}.includes('query 2 ')")
    page.keyboard.press("End")
    n = len(page.locator(".aw-tokens li").all_text_contents())
    page.wait_for_function(f"{STATUS}.includes('query {n - 1} ')")
    width = page.eval_on_selector(".aw-neuron-canvas", "c => c.width")
    assert page.get_attribute(".aw-neuron-expand", "aria-expanded") == "false"
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('.aw-neuron-expand').getAttribute('aria-expanded') === 'true'")
    assert page.eval_on_selector(".aw-neuron-canvas", "c => c.width") > width  # products and scores
    assert page.errors == []


def test_a_head_the_file_lacks_says_so(page, files):
    open_offline(page, files["neuron"])
    page.wait_for_function(f"{STATUS}.includes('attends most')")
    page.select_option(".aw-layer", "0")  # the file carries layer 1 only
    page.wait_for_selector(".aw-neuron-note:not([hidden])")
    note = page.inner_text(".aw-neuron-note")
    assert "layer 0, head 2 are not available" in note and "carries the vectors of layer 1" in note
    page.select_option(".aw-layer", "1")
    page.click(".aw-chip[data-head='0']")  # another head of the exported layer: embedded too (small input)
    page.wait_for_function("document.querySelector('.aw-neuron-summary').textContent.startsWith('layer 1 · head 0')")
    page.wait_for_function("document.querySelector('.aw-neuron-note').hidden")


def test_widget_without_model_explains_the_neuron_view(page, files):
    open_offline(page, files["weights_only"])
    page.wait_for_selector(".aw-neuron-note:not([hidden])")
    assert "needs the model" in page.inner_text(".aw-neuron-note")
    assert page.is_hidden(".aw-neuron-canvas")


def test_pair_filter_shades_the_other_blocks(page, files):
    open_offline(page, files["pair"])
    before = canvas_digest(page)
    draws = int(page.eval_on_selector(".aw-root", "r => r.dataset.draws"))
    page.select_option(".aw-pair-filter", "A->B")
    wait_drawn(page, draws)
    assert canvas_digest(page) != before
    assert "pair block A → B" in page.inner_text(".aw-status")
    page.select_option(".aw-pair-filter", "all")
    page.wait_for_function(f"!{STATUS}.includes('pair block')")
    assert canvas_digest(page) == before


def test_encoder_decoder_kinds_switch_tokens(page, files):
    open_offline(page, files["seq2seq"])
    encoder_tokens = page.locator(".aw-tokens li").all_text_contents()
    page.select_option(".aw-kind", "cross")
    page.wait_for_function(f"{STATUS}.includes('cross-attention')")
    decoder_tokens = page.locator(".aw-tokens li").all_text_contents()
    assert decoder_tokens != encoder_tokens and decoder_tokens[0] == "<pad>"
    page.select_option(".aw-kind", "decoder")
    page.wait_for_function(f"{STATUS}.includes('decoder self-attention')")
    assert page.errors == []


def test_generation_step_slider(page, files):
    open_offline(page, files["generated"])
    assert "prompt +" in page.inner_text(".aw-status")
    before = canvas_digest(page)
    page.eval_on_selector(".aw-step", "s => { s.value = '2'; s.dispatchEvent(new Event('input')); }")
    page.wait_for_function(f"{STATUS}.includes('step 2: writing')")
    assert canvas_digest(page) != before
    assert page.inner_text(".aw-step-out").startswith("2: ")
