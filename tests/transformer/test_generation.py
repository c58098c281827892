"""Generated text: one pass over prompt + continuation equals what each generation step saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tiny_models
from attnwidget.errors import AttnWidgetError, EmptyTextError, TooLongError
from attnwidget.transformer.generation import generate_attention
from attnwidget.transformer.loading import load_model

PROMPT = "The quick brown fox"


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def causal_lm(request):
    build = {"gpt2": tiny_models.tiny_gpt2_lm, "llama": lambda: tiny_models.tiny_llama(lm_head=True)}
    return load_model(build[request.param](), device="cpu")


def stepwise(model, result):
    """The attention generate() itself returns, step by step (with its key/value cache)."""
    ids = torch.tensor([result.sentence.input_ids[: result.boundary]])
    with torch.inference_mode():
        out = model.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=result.num_generated,
            do_sample=False,
            output_attentions=True,
            return_dict_in_generate=True,
            pad_token_id=model.tokenizer.pad_token_id,
        )
    assert out.sequences[0].tolist() == result.sentence.input_ids
    return [torch.stack(step, dim=1)[0].numpy() for step in out.attentions]  # each [L, H, q, k]


def test_one_pass_equals_the_attention_of_every_generation_step(causal_lm):
    result = generate_attention(causal_lm, PROMPT, max_new_tokens=6, min_new_tokens=6)
    P, T = result.boundary, len(result.sentence)
    assert result.num_generated == 6 and T == P + 6
    assert result.attention.shape == (2, 4, T, T) and result.attention.dtype == np.float32
    steps = stepwise(causal_lm, result)
    assert len(steps) == 6
    # Step 0 reads the whole prompt at once; step s reads the newest token, position P+s-1.
    np.testing.assert_allclose(steps[0], result.attention[:, :, :P, :P], atol=1e-5)
    for s in range(1, 6):
        assert steps[s].shape == (2, 4, 1, P + s)
        np.testing.assert_allclose(steps[s][:, :, 0], result.attention[:, :, P + s - 1, : P + s], atol=1e-5)
    # step(k) is the row that wrote generated token k: the last query row of generate's step k.
    for k in range(6):
        np.testing.assert_allclose(result.step(k), steps[k][:, :, -1], atol=1e-5)


def test_tokens_text_and_boundary(causal_lm):
    result = generate_attention(causal_lm, PROMPT, max_new_tokens=5, min_new_tokens=5)
    s = result.sentence
    prompt_ids = causal_lm.tokenizer(PROMPT)["input_ids"]
    assert s.input_ids[: result.boundary] == prompt_ids and result.boundary == len(prompt_ids)
    assert s.text.startswith(PROMPT) and s.text == PROMPT + result.generated_text
    assert result.generated_text == causal_lm.tokenizer.decode(s.input_ids[result.boundary :])
    for token, (start, end) in zip(s.tokens, s.offsets):
        if token != "…" and end > start:
            assert s.text[start:end] == token
    assert result.tokens == s.tokens and len(s.token_word) == len(s)


def test_greedy_generation_is_repeatable(causal_lm):
    a = generate_attention(causal_lm, PROMPT, max_new_tokens=4)
    b = generate_attention(causal_lm, PROMPT, max_new_tokens=4)
    assert a.sentence.input_ids == b.sentence.input_ids
    np.testing.assert_array_equal(a.attention, b.attention)


def test_generated_text_can_carry_spacy_syntax(causal_lm, nlp):
    result = generate_attention(causal_lm, "The cat sat on the mat.", max_new_tokens=3, annotations="spacy")
    assert result.sentence.syntax is not None
    assert result.sentence.words[:6] == ["The", "cat", "sat", "on", "the", "mat"]
    assert (result.sentence.token_word[: result.boundary] >= 0).all()


def test_step_out_of_range(causal_lm):
    result = generate_attention(causal_lm, PROMPT, max_new_tokens=2, min_new_tokens=2)
    with pytest.raises(AttnWidgetError, match="step 2 is out of range"):
        result.step(2)


def test_clear_errors(causal_lm, bert_small, t5_small, gpt2_small):
    with pytest.raises(AttnWidgetError, match="causal.*bidirectional"):
        generate_attention(bert_small, PROMPT)
    with pytest.raises(AttnWidgetError, match="causal.*encoder-decoder"):
        generate_attention(t5_small, PROMPT)
    with pytest.raises(AttnWidgetError, match="no language-model head.*lm_head=True"):
        generate_attention(gpt2_small, PROMPT)
    with pytest.raises(EmptyTextError):
        generate_attention(causal_lm, "   ")
    with pytest.raises(TooLongError, match="window of 128") as info:
        generate_attention(causal_lm, PROMPT, max_new_tokens=200)
    assert info.value.max_length == 128
    with pytest.raises(AttnWidgetError, match="at least 1"):
        generate_attention(causal_lm, PROMPT, max_new_tokens=0)


def test_folder_is_loaded_with_its_head(tmp_path):
    model, tok = tiny_models.tiny_gpt2_lm()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    result = generate_attention(str(tmp_path), PROMPT, max_new_tokens=3, min_new_tokens=3)
    assert result.num_generated == 3
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-5)
