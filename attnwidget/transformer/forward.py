"""Run a model on annotated sentences and return its attention, batched, on any device."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnwidget.errors import NoAttentionError
from attnwidget.keywords import checked_keywords
from attnwidget.text.sentence import AnnotatedSentence
from attnwidget.transformer.eager import StopPass, watching_attention

#: Upper bound for one batch's attention tensor on the CPU; longer inputs get smaller
#: batches. The model keeps every layer's weights until the pass ends and they are then
#: stacked, so a batch briefly holds about three times this. Kept small, the peak memory of
#: a corpus pass stays close to the model's own: the C heap's free space is reused by
#: batches of every shape rather than growing with the variety of shapes a long corpus
#: brings (bench/bench_analyze.py: 4 MB keeps 2,000 EWT sentences within 6-8% of the
#: peak for 200, where 16 MB grew 11-17%, at no measurable cost in speed). On a 6-layer,
#: 12-head model only batches of sentences over ~20 tokens are cut.
MAX_BATCH_BYTES = 1 << 22
#: On an accelerator large batches are what make it fast, and its memory is its own.
MAX_BATCH_BYTES_ACCELERATOR = 1 << 30


@dataclass
class AttentionBatch:
    """One forward pass over several sentences.

    ``attention`` is ``[B, layers, heads, T, T]`` float32 on the model's device, where T is
    the longest sentence of the batch; rows and columns past ``lengths[b]`` are zero
    (unless the batches were asked for with ``zero_padding=False``).
    ``indices[b]`` is sentence b's position in the input sequence.
    """

    indices: list[int]
    sentences: list[AnnotatedSentence]
    attention: torch.Tensor
    lengths: torch.Tensor

    @classmethod
    def join(cls, batches: Sequence[AttentionBatch]) -> AttentionBatch:
        """One batch holding all of ``batches``, padded with zeros to the longest."""
        if len(batches) == 1:
            return batches[0]
        first = batches[0].attention
        B = sum(b.attention.shape[0] for b in batches)
        T = max(b.attention.shape[-1] for b in batches)
        attention = torch.zeros((B, *first.shape[1:3], T, T), dtype=first.dtype, device=first.device)
        row = 0
        for b in batches:
            n, t = b.attention.shape[0], b.attention.shape[-1]
            attention[row : row + n, ..., :t, :t] = b.attention
            row += n
        return cls(
            [i for b in batches for i in b.indices],
            [s for b in batches for s in b.sentences],
            attention,
            torch.cat([b.lengths for b in batches]),
        )


def forward_attention(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs) -> tuple:
    """The model's per-layer attention, each ``[B, heads, T, T]``; raises if none comes back.

    Encoder-decoder models return their encoder self-attention here. ``inputs`` are further
    model inputs of the same batch (``token_type_ids`` for a BERT sentence pair). For a
    model checked by :func:`attention_calls_are_layers` the pass ends at the last layer's
    attention: what comes after (that layer's feed-forward block, the output head) is
    never needed here, and is about a tenth of a 6-layer model's time on the CPU.
    """
    runner = getattr(model, "runner", None)
    if runner is not None:  # a TransformerLens model: read from its hook points
        return runner.attentions(input_ids, attention_mask, **inputs)
    stop_after = model.num_layers if getattr(model, "stops_after_attention", False) else None
    attentions, _ = _watched_pass(model, input_ids, attention_mask, inputs, stop_after)
    return attentions


def attention_calls_are_layers(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> bool:
    """Whether ``model``'s eager attention calls give exactly the attention it returns, one
    call per layer in order, so a pass may stop at the last call. Run once, on the probe
    input when the model is loaded; any family that does otherwise keeps the whole pass."""
    return probe_attention(model, input_ids, attention_mask)[1]


def probe_attention(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[tuple, bool]:
    """One whole pass: (the attention per layer, :func:`attention_calls_are_layers`), so
    loading a model checks both with a single pass (on a busy CPU each pass can take seconds)."""
    runner = getattr(model, "runner", None)
    if runner is not None:  # a TransformerLens model stops its own passes early
        return runner.attentions(input_ids, attention_mask), False
    attentions, calls = _watched_pass(model, input_ids, attention_mask, {}, None)
    are_layers = (
        len(calls) == len(attentions) == model.num_layers
        and len({id(module) for module, _ in calls}) == len(calls)
        and all(w is a or (w.shape == a.shape and torch.equal(w, a)) for (_, w), a in zip(calls, attentions))
    )
    return attentions, are_layers


def _watched_pass(model, input_ids, attention_mask, inputs: dict, stop_after: int | None):
    """(attention per layer, [(module, weights)] of each eager attention call); the pass
    stops after call ``stop_after`` if given."""
    hf = model.model
    input_ids = input_ids.to(model.device)
    attention_mask = attention_mask.to(model.device)
    inputs = {name: value.to(model.device) for name, value in inputs.items()}
    calls: list[tuple[Any, torch.Tensor]] = []

    def on_call(module, query, key, value, mask, args, kwargs, output):
        calls.append((module, output[1]))
        if len(calls) == stop_after:
            raise StopPass

    with watching_attention(hf, on_call), torch.inference_mode():
        try:
            if model.is_encoder_decoder:
                out = hf.get_encoder()(
                    input_ids=input_ids, attention_mask=attention_mask, output_attentions=True, **inputs
                )
            else:
                out = hf(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    output_attentions=True,
                    use_cache=False,
                    **inputs,
                )
        except StopPass:
            return tuple(weights for _, weights in calls), calls
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise NoAttentionError(
            f"model {model.name!r} returned no attention weights (its attention implementation is "
            f"{getattr(hf.config, '_attn_implementation', 'unknown')!r}). Load it with "
            "attn_implementation='eager'; models that only have fused attention kernels cannot be used."
        )
    return attentions, calls


@checked_keywords
def iter_attention_batches(
    model,
    sentences: Sequence[AnnotatedSentence],
    batch_size: int = 8,
    sort: bool = True,
    max_batch_bytes: int | None = None,
    zero_padding: bool = True,
) -> Iterator[AttentionBatch]:
    """Yield the attention of ``sentences`` batch by batch.

    With ``sort`` the sentences go longest first (less padding, and an out-of-memory error
    shows on the first batch rather than the last). A batch holds at most ``batch_size``
    sentences and, unless a single sentence is larger, at most ``max_batch_bytes`` of
    attention (default: :data:`MAX_BATCH_BYTES` on the CPU, more on an accelerator).
    ``zero_padding=False`` leaves the padded query rows as the model made them, for a
    caller that masks every weight itself (the corpus pass): one pass less per batch.
    """
    if max_batch_bytes is None:
        max_batch_bytes = batch_bytes_limit(model.device)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = list(range(len(sentences)))
    if sort:
        order.sort(key=lambda i: -len(sentences[i]))
    pad_id = model.tokenizer.pad_token_id or 0
    per_pair = 4 * model.num_layers * model.num_heads
    start = 0
    while start < len(order):
        longest = len(sentences[order[start]])
        fits = max(1, max_batch_bytes // max(1, per_pair * longest * longest))
        chunk = order[start : start + min(batch_size, fits)]
        start += len(chunk)
        batch = [sentences[i] for i in chunk]
        yield _run_batch(model, chunk, batch, pad_id, zero_padding)


def batch_bytes_limit(device) -> int:
    """The most attention one batch should hold on ``device`` (see :data:`MAX_BATCH_BYTES`)."""
    return MAX_BATCH_BYTES if torch.device(device).type == "cpu" else MAX_BATCH_BYTES_ACCELERATOR


def _run_batch(model, indices, batch, pad_id, zero_padding: bool = True) -> AttentionBatch:
    lengths = torch.tensor([len(s) for s in batch], dtype=torch.long)
    width = int(lengths.max())
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    for b, sentence in enumerate(batch):  # numpy takes a list of ints far faster than torch
        ids[b, : len(sentence)] = sentence.input_ids
    input_ids = torch.from_numpy(ids)
    valid = torch.arange(width)[None, :] < lengths[:, None]
    attentions = forward_attention(model, input_ids, valid.long())
    if len(attentions) != model.num_layers:
        raise NoAttentionError(
            f"model {model.name!r} returned attention for {len(attentions)} of {model.num_layers} layers"
        )
    attention = torch.stack(attentions, dim=1).float()  # [B, L, H, T, T]
    if zero_padding:
        valid = valid.to(attention.device)
        # Padded query rows hold junk; padded key columns are ~0 already. Zero both exactly.
        pair = (valid[:, :, None] & valid[:, None, :]).to(attention.dtype)
        attention.mul_(pair[:, None, None])
    return AttentionBatch(indices, batch, attention, lengths.to(attention.device))


@checked_keywords
def attention(model, sentences: Sequence[AnnotatedSentence], batch_size: int = 8) -> list[np.ndarray]:
    """Per-sentence attention, in input order: float32 ``[layers, heads, T, T]``, rows sum to 1."""
    out: list[np.ndarray | None] = [None] * len(sentences)
    for batch in iter_attention_batches(model, sentences, batch_size):
        arrays = batch.attention.cpu().numpy()
        for b, index in enumerate(batch.indices):
            n = len(batch.sentences[b])
            out[index] = np.ascontiguousarray(arrays[b, :, :, :n, :n])
    return out  # type: ignore[return-value]
