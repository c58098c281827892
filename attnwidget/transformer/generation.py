"""Attention over generated text: a causal model writes a continuation, then shows its attention.

The model generates with its usual decoding (greedy unless ``do_sample``); then one
forward pass over prompt + continuation, with eager attention, gives the full attention
``[layers, heads, T, T]``. For a causal model that single pass holds exactly what every
step of generation computed: row i depends on tokens 0..i only, so it is the row the
model produced at the step where token i was the newest (tests/transformer/test_generation.py checks
this against ``generate(output_attentions=True)``). Row ``boundary + k - 1`` is therefore
what the model attended to when it wrote generated token k.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from attnwidget.errors import AttnWidgetError, EmptyTextError, TooLongError
from attnwidget.keywords import check_names, checked_keywords
from attnwidget.progress import bar
from attnwidget.text.sentence import CONTINUATION, AnnotatedSentence, char_to_word, first_non_space
from attnwidget.text.syntax import parse_spacy
from attnwidget.transformer.forward import forward_attention
from attnwidget.transformer.loading import load_model


@dataclass
class GenerationAttention:
    """A prompt, the model's continuation, and the attention over both.

    - ``sentence``: the whole sequence as an :class:`AnnotatedSentence` (``text`` is prompt +
      continuation as decoded; tokens ``0 .. boundary-1`` are the prompt's);
    - ``boundary``: the number of prompt tokens, so generated token k is token ``boundary + k``;
    - ``attention``: float32 ``[layers, heads, T, T]``, causal, rows sum to 1;
    - ``generated_text``: the continuation alone.
    """

    sentence: AnnotatedSentence
    boundary: int
    attention: np.ndarray
    generated_text: str

    @property
    def tokens(self) -> list[str]:
        return self.sentence.tokens

    @property
    def num_generated(self) -> int:
        return len(self.sentence) - self.boundary

    def step(self, k: int) -> np.ndarray:
        """``[layers, heads, boundary + k]``: the attention with which the model wrote generated token k.

        It is the row of the token before it (the newest token at that step), over every
        token the model could see then.
        """
        if not 0 <= k < self.num_generated:
            raise AttnWidgetError(f"step {k} is out of range: {self.num_generated} tokens were generated")
        query = self.boundary + k - 1
        return self.attention[:, :, query, : query + 1]


@checked_keywords
def generate_attention(
    model: Any,
    prompt: str,
    max_new_tokens: int = 20,
    do_sample: bool = False,
    annotations: str | None = None,
    pipeline: Any = None,
    progress: bool = True,
    **generate_kwargs,
) -> GenerationAttention:
    """Let a causal language model continue ``prompt`` and return the attention over all of it.

    ``model`` is a :class:`~attnwidget.transformer.loading.LoadedModel` with a language-model head
    (``load_model(name, lm_head=True)``) or anything :func:`load_model` accepts (ids and
    folders are loaded with the head). Generation stops after ``max_new_tokens`` or at the
    end-of-text token. ``generate_kwargs`` go to ``model.generate`` (``temperature``,
    ``top_p``, ``min_new_tokens``, ...); a name ``generate`` does not take is refused.
    ``annotations="spacy"`` parses prompt + continuation so the syntax views work on
    generated text too (``pipeline``: the spaCy pipeline's name or a loaded ``nlp``).
    ``progress``: a bar over the new tokens while the model writes them.
    """
    model = load_model(model, lm_head=True, progress=progress)
    hf = model.model
    if model.is_encoder_decoder or not model.is_causal:
        kind = "an encoder-decoder" if model.is_encoder_decoder else "a bidirectional (encoder-only)"
        raise AttnWidgetError(
            f"generation needs a causal (decoder-only) model such as GPT-2 or Llama; {model.name!r} is {kind} model"
        )
    runner = model.runner  # a TransformerLens model generates with its own generate()
    if not (runner.can_generate() if runner is not None else hasattr(hf, "can_generate") and hf.can_generate()):
        raise AttnWidgetError(
            f"{type(hf).__name__} has no language-model head, so it cannot generate text; load it with "
            "attnwidget.load_model(name, lm_head=True) or pass (AutoModelForCausalLM..., tokenizer)"
        )
    if not isinstance(prompt, str) or not prompt.strip():
        raise EmptyTextError("the prompt is empty or only whitespace; give the model something to continue.")
    if annotations not in (None, "spacy"):
        raise AttnWidgetError(f"annotations for generated text must be None or 'spacy', not {annotations!r}")
    if max_new_tokens < 1:
        raise AttnWidgetError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
    check_names(
        "generate_attention()",
        generate_kwargs,
        runner.generate_options() if runner is not None else generate_options(hf),
    )
    tokenizer = model.tokenizer
    enc = tokenizer(prompt, return_tensors="pt")
    boundary = enc["input_ids"].shape[1]
    if boundary + max_new_tokens > model.max_length:
        raise TooLongError(
            f"the prompt has {boundary} tokens and {max_new_tokens} new ones would make "
            f"{boundary + max_new_tokens}, more than the model's window of {model.max_length}; "
            "shorten the prompt or ask for fewer new tokens.",
            boundary + max_new_tokens,
            model.max_length,
        )
    with torch.inference_mode(), bar(total=max_new_tokens, desc="generating", unit="tok", enabled=progress) as done:
        criteria = StoppingCriteriaList(
            [*(generate_kwargs.pop("stopping_criteria", None) or ()), CountNewTokens(done, boundary)]
        )
        if runner is not None:
            ids = runner.generate(
                enc["input_ids"].to(model.device),
                enc["attention_mask"].to(model.device),
                max_new_tokens,
                do_sample,
                criteria,
                progress,
                **generate_kwargs,
            )
        else:
            ids = hf.generate(
                input_ids=enc["input_ids"].to(model.device),
                attention_mask=enc["attention_mask"].to(model.device),
                max_new_tokens=max_new_tokens,
                do_sample=do_sample,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=criteria,
                **generate_kwargs,
            )
    ids = ids[0].tolist()
    attentions = forward_attention(model, torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
    attention = torch.stack(attentions, dim=1)[0].float().cpu().numpy()
    sentence = _sentence(tokenizer, ids, annotations, pipeline)
    return GenerationAttention(
        sentence=sentence,
        boundary=boundary,
        attention=attention,
        generated_text=_generated_text(sentence, boundary),
    )


def _generated_text(sentence: AnnotatedSentence, boundary: int) -> str:
    ends = [end for _, end in sentence.offsets[:boundary]]
    return sentence.text[max(ends, default=0) :]


class CountNewTokens(StoppingCriteria):
    """Moves a progress bar as ``generate`` writes tokens; never stops generation itself."""

    def __init__(self, progress_bar, prompt_length: int):
        self.bar, self.prompt_length = progress_bar, prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        self.bar.update(input_ids.shape[1] - self.prompt_length - self.bar.n)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def generate_options(hf_model) -> set[str]:
    """The keyword arguments ``hf_model.generate`` takes: its own, its generation config's
    fields, and the inputs its forward pass reads."""
    from transformers import GenerationConfig

    names = set(GenerationConfig().to_dict()) | set(
        getattr(hf_model, "generation_config", GenerationConfig()).to_dict()
    )
    for function in (hf_model.generate, hf_model.forward):
        names |= {
            p.name
            for p in inspect.signature(function).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
    return names


def _sentence(tokenizer, ids: list[int], annotations: str | None, pipeline: Any = None) -> AnnotatedSentence:
    """Token texts by decoding prefixes, so each token shows what it added to the text.

    Special tokens show their names and add nothing. A character split over several byte
    tokens shows as ``…`` until the token that completes it.
    """
    specials = set(tokenizer.all_special_ids)
    names = tokenizer.convert_ids_to_tokens(ids)
    regular: list[int] = []
    text = ""
    tokens, offsets = [], []
    for k, token_id in enumerate(ids):
        if token_id in specials:
            tokens.append(names[k])
            offsets.append((0, 0))
            continue
        regular.append(token_id)
        decoded = tokenizer.decode(regular, clean_up_tokenization_spaces=False)
        if decoded.endswith("\ufffd"):  # an incomplete character: wait for its last byte
            tokens.append(CONTINUATION)
            offsets.append((len(text), len(text)))
            continue
        piece = decoded[len(text) :] if decoded.startswith(text) else names[k]
        offsets.append((len(text), len(text) + len(piece)))
        tokens.append(piece)
        text += piece
    token_word = np.full(len(ids), -1, dtype=np.int64)
    syntax = None
    if annotations == "spacy" and text.strip():
        syntax = parse_spacy(text, pipeline)
        char_word = char_to_word(text, syntax)
        for k, (start, end) in enumerate(offsets):
            first = first_non_space(text, start, end)
            if first is not None:
                token_word[k] = char_word[first]
    return AnnotatedSentence(
        text=text, tokens=tokens, input_ids=list(ids), offsets=offsets, token_word=token_word, syntax=syntax
    )
