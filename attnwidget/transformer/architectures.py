"""Inputs beyond one sentence: sentence pairs for encoders, and encoder–decoder views.

Sentence pairs are read as BERT reads them for next-sentence prediction
(``[CLS] A [SEP] B [SEP]``, or ``<s> A </s></s> B </s>`` for RoBERTa). :func:`filter_pair`
cuts their attention into the blocks bertviz offers: all, A→A, B→B, A→B and B→A.

An encoder–decoder model has three attentions: the encoder's self-attention over the
source, the decoder's (causal) self-attention over the decoder input, and the decoder's
cross-attention from the decoder input to the source. :func:`encoder_decoder_attention`
returns all three with the token lists that label their rows and columns.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import torch

from attnwidget.choices import PairFilter, values
from attnwidget.errors import AttnWidgetError, EmptyTextError, NoAttentionError, TooLongError
from attnwidget.keywords import checked_keywords
from attnwidget.text.sentence import CONTINUATION, AnnotatedSentence, annotate
from attnwidget.transformer.forward import forward_attention

#: The blocks of a pair's attention, named "queries->keys" as bertviz names them.
PAIR_FILTERS = values(PairFilter)


@dataclass
class PairSentence(AnnotatedSentence):
    """Two sentences read as one input.

    ``text`` is sentence A and ``text_b`` sentence B; ``offsets[k]`` are characters of the
    sentence that token k comes from. ``segments[k]`` is 0 for a token of A, 1 for B and -1
    for a special token. ``token_type_ids`` are the tokenizer's segment ids (None when the
    tokenizer gives none, as for RoBERTa and DistilBERT). Pairs carry no syntax.
    """

    text_b: str = ""
    segments: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    token_type_ids: list[int] | None = None

    @property
    def sides(self) -> np.ndarray:
        """0/1 per token: the block each token belongs to in :func:`filter_pair`."""
        return pair_sides(self.segments)


class PairView(NamedTuple):
    """A block of a pair's attention: ``attention[..., queries.size, keys.size]``.

    ``queries`` and ``keys`` are the token indices of its rows and columns.
    """

    attention: np.ndarray
    queries: np.ndarray
    keys: np.ndarray


@checked_keywords
def pair(text_a: str, text_b: str, model: Any, truncate: bool = False) -> PairSentence:
    """Tokenize sentence A and sentence B together, with the model's pair special tokens.

    ``model`` is a :class:`~attnwidget.transformer.loading.LoadedModel` (or a fast tokenizer). A pair
    longer than the window raises :class:`TooLongError` unless ``truncate=True``, which
    shortens the longer sentence first.
    """
    for name, text in (("sentence A", text_a), ("sentence B", text_b)):
        if not isinstance(text, str) or not text.strip():
            raise EmptyTextError(f"{name} is empty or only whitespace; a pair needs two sentences.")
    tokenizer = getattr(model, "tokenizer", model)
    max_length = getattr(model, "max_length", None) or 512
    options = dict(return_offsets_mapping=True, return_special_tokens_mask=True, return_token_type_ids=True)
    enc = tokenizer(text_a, text_b, **options)
    truncated = False
    if len(enc["input_ids"]) > max_length:
        if not truncate:
            n = len(enc["input_ids"])
            raise TooLongError(
                f"the pair has {n} tokens but the model's window is {max_length}; shorten the "
                "sentences or pass truncate=True.",
                n,
                max_length,
            )
        enc = tokenizer(text_a, text_b, truncation="longest_first", max_length=max_length, **options)
        truncated = True
    ids = list(enc["input_ids"])
    segments = np.array([-1 if s is None else s for s in enc.sequence_ids()], dtype=np.int64)
    offsets = [tuple(map(int, o)) for o in enc["offset_mapping"]]
    raw = tokenizer.convert_ids_to_tokens(ids)
    texts = (text_a, text_b)
    tokens = []
    for k, (start, end) in enumerate(offsets):
        if segments[k] < 0 or end <= start:
            tokens.append(raw[k])
            continue
        # As in align(): later byte pieces of one character show as its continuation.
        same = k > 0 and offsets[k - 1] == (start, end) and segments[k - 1] == segments[k]
        tokens.append(CONTINUATION if same else texts[segments[k]][start:end])
    types = enc.get("token_type_ids")
    return PairSentence(
        text=text_a,
        tokens=tokens,
        input_ids=ids,
        offsets=offsets,
        token_word=np.full(len(ids), -1, dtype=np.int64),
        truncated=truncated,
        text_b=text_b,
        segments=segments,
        token_type_ids=list(types) if types is not None else None,
    )


def pair_sides(segments: np.ndarray) -> np.ndarray:
    """Which block (0 = A, 1 = B) each token falls in.

    Special tokens go with the sentence they sit beside, as in bertviz: everything before
    the first token of B is side A (so ``[CLS]`` and the middle ``[SEP]`` are A), the rest B.
    """
    segments = np.asarray(segments)
    b_tokens = np.flatnonzero(segments == 1)
    b_start = int(b_tokens[0]) if b_tokens.size else segments.size
    return (np.arange(segments.size) >= b_start).astype(np.int64)


@checked_keywords
def filter_pair(attention: np.ndarray, segments: np.ndarray, which: str = "all") -> PairView:
    """The block ``which`` of a pair's attention ``[..., T, T]`` (any leading axes).

    ``which`` is one of :data:`PAIR_FILTERS`: ``"A->B"`` keeps the rows of sentence A's
    tokens (queries) and the columns of sentence B's tokens (keys). Rows are not
    renormalised: a block shows the share of each query's attention that went there.
    """
    attention = np.asarray(attention)
    segments = np.asarray(segments)
    if which not in PAIR_FILTERS:
        raise AttnWidgetError(f"which must be one of {', '.join(PAIR_FILTERS)}; got {which!r}")
    if attention.ndim < 2 or attention.shape[-1] != segments.size or attention.shape[-2] != segments.size:
        raise AttnWidgetError(
            f"attention of shape {attention.shape} does not fit a pair of {segments.size} tokens; "
            "the last two axes must both equal the number of tokens"
        )
    everything = np.arange(segments.size)
    if which == "all":
        return PairView(attention, everything, everything)
    if not (segments == 1).any():
        raise AttnWidgetError(f"this input has no sentence B, so {which!r} is empty; use 'all'")
    sides = pair_sides(segments)
    src, dst = which.split("->")
    queries = np.flatnonzero(sides == "AB".index(src))
    keys = np.flatnonzero(sides == "AB".index(dst))
    return PairView(attention[..., queries[:, None], keys[None, :]], queries, keys)


def model_inputs(model: Any, sentence: AnnotatedSentence) -> dict[str, torch.Tensor]:
    """Batch-of-one inputs for ``sentence``: ids, mask, and segment ids where the model takes them."""
    ids = torch.tensor([sentence.input_ids], dtype=torch.long)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    types = getattr(sentence, "token_type_ids", None)
    runner = getattr(model, "runner", None)
    if types is not None and (
        runner.accepts("token_type_ids") if runner else accepts_argument(model.model, "token_type_ids")
    ):
        inputs["token_type_ids"] = torch.tensor([types], dtype=torch.long)
    return inputs


def pair_attention(model: Any, sentence: PairSentence) -> np.ndarray:
    """Attention of a pair, float32 ``[layers, heads, T, T]``, with its segment ids passed on.

    (``forward.attention`` sends ids only, which reads every token as sentence A.)
    """
    inputs = model_inputs(model, sentence)
    attentions = forward_attention(model, **inputs)
    _check_layers(model, attentions, "self-attention")
    return torch.stack(attentions, dim=1)[0].float().cpu().numpy()


def accepts_argument(hf_model, name: str) -> bool:
    try:
        return name in inspect.signature(hf_model.forward).parameters
    except (TypeError, ValueError):
        return False


# --- encoder–decoder ---------------------------------------------------------------


@dataclass
class EncoderDecoderAttention:
    """The three attentions of an encoder–decoder model on one input, float32 numpy.

    - ``encoder``: ``[layers, heads, S, S]``, rows and columns are ``source.tokens``;
    - ``decoder``: ``[layers, heads, D, D]`` (causal), rows and columns are ``decoder.tokens``;
    - ``cross``: ``[layers, heads, D, S]``, rows ``decoder.tokens``, columns ``source.tokens``.

    ``decoder`` is the decoder *input*: the start token, then the target without its last
    token (teacher forcing). ``decoder_input`` says where the target came from:
    ``"target"`` or ``"source"``.
    """

    source: AnnotatedSentence
    decoder: AnnotatedSentence
    encoder_attention: np.ndarray
    decoder_attention: np.ndarray
    cross_attention: np.ndarray
    decoder_input: str


def decoder_sentence(model: Any, target: AnnotatedSentence) -> AnnotatedSentence:
    """The decoder input for teacher forcing on ``target``: shifted right behind the start token.

    Position k of the decoder reads target token k-1 and predicts target token k, so the
    row of position k is the attention the model paid while producing target token k.
    """
    start = _decoder_start_id(model)
    start_token = model.tokenizer.convert_ids_to_tokens([start])[0]
    return replace(
        target,
        tokens=[start_token] + target.tokens[:-1],
        input_ids=[start] + target.input_ids[:-1],
        offsets=[(0, 0)] + target.offsets[:-1],
        token_word=np.concatenate([[-1], target.token_word[:-1]]).astype(np.int64),
    )


@checked_keywords
def encoder_decoder_attention(
    model: Any,
    source: str | AnnotatedSentence,
    target: str | AnnotatedSentence | None = None,
    annotations: Any = None,
) -> EncoderDecoderAttention:
    """Run an encoder–decoder model once and return its three attentions.

    ``target`` is what the decoder writes (a translation, a summary); the decoder reads it
    teacher-forced. With no target the decoder reads the source itself: that is what BART
    was pretrained to do (rebuild its input) and needs no generation, so every view is
    ready at once; for translation or summarisation models, pass the target. Strings are
    annotated with ``annotations`` (``None``, ``"spacy"``, ...; see :func:`annotate`).
    """
    if not getattr(model, "is_encoder_decoder", False):
        raise AttnWidgetError(
            f"model {getattr(model, 'name', '?')!r} is not an encoder-decoder model; its "
            "self-attention is all there is (use attention() or the widget directly)"
        )
    if isinstance(source, str):
        source = annotate(source, model, annotations=annotations)
    origin = "source" if target is None else "target"
    if target is None:
        target = source
    elif isinstance(target, str):
        target = annotate(target, model, annotations=annotations)
    decoder = decoder_sentence(model, target)
    out = _run_seq2seq(model, source.input_ids, decoder.input_ids)
    parts = {}
    for part, attentions in (
        ("encoder self-attention", out.encoder_attentions),
        ("decoder self-attention", out.decoder_attentions),
        ("cross-attention", out.cross_attentions),
    ):
        _check_layers(model, attentions, part)
        parts[part] = torch.stack(attentions, dim=1)[0].float().cpu().numpy()
    return EncoderDecoderAttention(
        source=source,
        decoder=decoder,
        encoder_attention=parts["encoder self-attention"],
        decoder_attention=parts["decoder self-attention"],
        cross_attention=parts["cross-attention"],
        decoder_input=origin,
    )


def _run_seq2seq(model: Any, source_ids: list[int], decoder_ids: list[int]):
    ids = torch.tensor([source_ids], dtype=torch.long, device=model.device)
    dec = torch.tensor([decoder_ids], dtype=torch.long, device=model.device)
    with torch.inference_mode():
        return model.model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            decoder_input_ids=dec,
            output_attentions=True,
            use_cache=False,
        )


def _decoder_start_id(model: Any) -> int:
    config = model.model.config
    for owner in (config, getattr(model.model, "generation_config", None)):
        value = getattr(owner, "decoder_start_token_id", None)
        if isinstance(value, int):
            return value
    if model.tokenizer.pad_token_id is not None:  # T5 and Marian start from the pad token
        return int(model.tokenizer.pad_token_id)
    raise AttnWidgetError(f"model {model.name!r} names no decoder_start_token_id in its config")


def _check_layers(model: Any, attentions, part: str) -> None:
    if not attentions or any(a is None for a in attentions):
        raise NoAttentionError(
            f"model {model.name!r} returned no {part} weights (its attention implementation is "
            f"{getattr(model.model.config, '_attn_implementation', 'unknown')!r}). Load it with "
            "attn_implementation='eager'; models that only have fused attention kernels cannot be used."
        )
