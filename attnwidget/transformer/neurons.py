"""The neuron view: the query and key vectors behind one head's attention.

For a layer, a head and a query token this shows the query vector q, each key vector k_j,
their element-wise product q ⊙ k_j, the scores s_j = scale · q·k_j (+ a position bias
where the model adds one) and the softmax of the scores, which is the head's attention.

How the vectors are caught: every family this supports (GPT-2, BERT, RoBERTa, DistilBERT,
ELECTRA, Llama, Qwen2, Mistral, T5, BART, Marian, ...) hands its query and key to a
module-level ``eager_attention_forward(module, query, key, value, mask, scaling=...)`` in
its modeling file, *after* rotary embeddings and before grouped keys are repeated across
query heads. :func:`capture_all_qk` wraps that function for one forward pass and keeps the
arguments of every layer (what the widget caches, so a layer switch reruns nothing);
:func:`capture_qk` keeps one layer's and stops the pass right after it. Every capture
recomputes each layer's attention from what it caught and compares it with the weights the
model itself returned, so a family that adds terms this view cannot show (ALiBi,
soft-capping, ...) fails loudly instead of showing wrong numbers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnwidget.errors import NeuronViewError, TooLongError
from attnwidget.keywords import checked_keywords
from attnwidget.text.sentence import AnnotatedSentence, align
from attnwidget.transformer.architectures import decoder_sentence, model_inputs
from attnwidget.transformer.eager import StopPass, watching_attention

#: Largest difference allowed between recomputed and returned attention (float32 models).
TOLERANCE = 1e-4
#: Half-precision models quantise the returned weights, so they get a looser check.
HALF_TOLERANCE = 2e-2
#: Encoder–decoder parts the neuron view can show.
PARTS = ("encoder", "decoder", "cross")


@dataclass
class QueryKey:
    """The queries and keys of one layer on one input, as its attention used them.

    - ``query``: float32 ``[heads, T_q, d]``, after rotary embeddings where the model uses them;
    - ``key``: float32 ``[kv_heads, T_k, d]``; with grouped-query attention ``kv_heads <
      heads`` and query head h reads key head :meth:`kv_head` (h);
    - ``bias``: float32 ``[heads, T_q, T_k]`` added to the scores (T5's relative position
      bias), or None;
    - ``masked``: bool ``[T_q, T_k]``, True where the query may not look (future tokens of
      a causal model, padding); or None with ``mask_rule="causal"`` (a long input: no
      ``[T, T]`` array, key j is hidden from query i when j > i);
    - ``scale``: the factor on q·k (1/√d for most models, 1 for T5);
    - ``attention``: float32 ``[heads, T_q, T_k]``, the weights the model returned
      (:func:`capture_qk`), or None (:func:`capture_all_qk` checks them against the vectors,
      then drops them: :meth:`weights` recomputes them to 1e-4).

    T_q = T_k except for cross-attention (decoder queries, source keys). Layers of one
    capture may share their ``masked`` and ``bias`` arrays: treat them as read-only.
    """

    family: str
    layer: int
    part: str
    query: np.ndarray
    key: np.ndarray
    bias: np.ndarray | None
    masked: np.ndarray | None
    scale: float
    attention: np.ndarray | None = None
    mask_rule: str | None = None

    def masked_rows(self, rows=slice(None)) -> np.ndarray:
        """The ``masked`` pairs of some query rows (built from the rule when there is no array)."""
        if self.masked is not None:
            return self.masked[rows]
        n_q, n_k = self.query.shape[1], self.key.shape[1]
        i = np.arange(n_q)[rows]
        return np.arange(n_k)[None, :] > np.atleast_1d(i)[:, None] if np.ndim(i) else np.arange(n_k) > i

    @property
    def num_heads(self) -> int:
        return self.query.shape[0]

    @property
    def num_kv_heads(self) -> int:
        return self.key.shape[0]

    @property
    def head_dim(self) -> int:
        return self.query.shape[-1]

    def kv_head(self, head: int) -> int:
        """The key head that query head ``head`` reads (itself, unless keys are grouped)."""
        return head // (self.num_heads // self.num_kv_heads)

    def scores(self, head: int, token: int | None = None) -> np.ndarray:
        """Scores of one head before masking, scale · q·k (+ bias): ``[T_q, T_k]``, or ``[T_k]`` for one token."""
        rows = slice(None) if token is None else token
        q = self.query[head, rows].astype(np.float64)
        k = self.key[self.kv_head(head)].astype(np.float64)
        scores = self.scale * (q @ k.T)
        if self.bias is not None:
            scores = scores + self.bias[head, rows]
        return scores

    def weights(self, head: int, token: int | None = None) -> np.ndarray:
        """softmax of the scores over the keys each query may see (float64, shaped as :meth:`scores`)."""
        rows = slice(None) if token is None else token
        scores = np.where(self.masked_rows(rows), -np.inf, self.scores(head, token))
        top = scores.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)  # a fully masked row gives zeros, not NaN
        exp = np.exp(scores - top)
        total = exp.sum(axis=-1, keepdims=True)
        return exp / np.where(total > 0, total, 1.0)


@checked_keywords
def capture_qk(
    model: Any,
    sentence: AnnotatedSentence | str,
    layer: int,
    part: str | None = None,
    target: AnnotatedSentence | str | None = None,
) -> QueryKey:
    """Catch the queries and keys of ``layer`` for ``sentence``, all heads, in one forward pass.

    ``model`` is a :class:`~attnwidget.transformer.loading.LoadedModel`. For an encoder–decoder model
    ``part`` picks ``"encoder"`` (the default), ``"decoder"`` or ``"cross"``; the decoder reads
    ``target`` teacher-forced, or the source when no target is given (see
    :func:`attnwidget.transformer.architectures.encoder_decoder_attention`). The pass stops right after
    ``layer``, so early layers are cheaper than late ones. Keep the result to show other
    heads and tokens of the same layer without running the model again; to show several
    layers, :func:`capture_all_qk` catches them all in one pass.
    """
    return _capture(model, sentence, part, target, layers=[layer], keep_attention=True)[0]


@checked_keywords
def capture_all_qk(
    model: Any,
    sentence: AnnotatedSentence | str,
    part: str | None = None,
    target: AnnotatedSentence | str | None = None,
) -> list[QueryKey]:
    """The queries and keys of every layer of ``part`` (as :func:`capture_qk`), in one forward pass.

    Item ``i`` is layer ``i``. Each layer is checked against the weights the model returned,
    which are then dropped (``attention`` is None): at 512 tokens, 12 layers × 12 heads of 64
    dimensions take about 37 MB, where the weights would add 150 MB. An encoder–decoder
    model's ``"encoder"`` part runs the encoder only; ``"decoder"`` and ``"cross"`` run the
    whole model.
    """
    return _capture(model, sentence, part, target, layers=None, keep_attention=False)


def check_layer(model: Any, layer: int, part: str | None = None) -> str:
    """Raise :class:`NeuronViewError` unless the neuron view can catch ``layer`` of ``part``; return the part.

    The checks every capture makes before running the model: the part fits the model, the
    layer exists, and the model computes its attention eagerly.
    """
    part = _check_part(model, part)
    n_layers = _layers_in(model, part)
    if not isinstance(layer, int) or not 0 <= layer < n_layers:
        raise NeuronViewError(f"layer {layer} is out of range: the {part} has layers 0 to {n_layers - 1}")
    implementation = (
        None if getattr(model, "runner", None) else getattr(model.model.config, "_attn_implementation", None)
    )
    if implementation not in (None, "eager"):
        raise NeuronViewError(
            f"the neuron view needs eager attention, but model {model.name!r} now uses "
            f"{implementation!r}; load it with attnwidget.load_model"
        )
    return part


def _aligned_text(text: str, model: Any) -> AnnotatedSentence:
    try:
        return align(text, model)
    except TooLongError as err:
        raise TooLongError(
            f"the text has {err.n_tokens} tokens but the model's window is {err.max_length}; pass the part "
            "to look at as an AnnotatedSentence instead: attnwidget.annotate(text, model, annotations=None, "
            "window=(start, stop)) or annotate(..., truncate=True) for the first tokens.",
            err.n_tokens,
            err.max_length,
        ) from None


def _capture(
    model: Any,
    sentence: AnnotatedSentence | str,
    part: str | None,
    target: AnnotatedSentence | str | None,
    layers: list[int] | None,
    keep_attention: bool,
) -> list[QueryKey]:
    """Catch ``layers`` (None: all) of ``part`` in one forward pass that stops after the last of them."""
    family = _family(model)
    part = _check_part(model, part)
    if isinstance(sentence, str):
        sentence = _aligned_text(sentence, model)
    if layers is None:
        layers = list(range(_layers_in(model, part)))
    for layer in layers:
        check_layer(model, layer, part)
    inputs = model_inputs(model, sentence)
    if part == "encoder" and model.is_encoder_decoder:
        run, first, step = model.model.get_encoder(), 0, 1
    elif part in ("decoder", "cross"):
        if isinstance(target, str):
            target = _aligned_text(target, model)
        decoder = decoder_sentence(model, target if target is not None else sentence)
        inputs["decoder_input_ids"] = torch.tensor([decoder.input_ids], dtype=torch.long)
        run = model.model
        # The encoder runs first; then each decoder layer calls self- and cross-attention.
        first, step = _layers_in(model, "encoder") + (part == "cross"), 2
    else:
        run, first, step = model.model, 0, 1
    inputs = {name: value.to(model.device) for name, value in inputs.items()}
    if getattr(model, "runner", None) is not None:  # a TransformerLens model: its hook points
        caught = model.runner.query_keys(inputs, layers)
    else:
        caught = _catch(model, run, inputs, {first + step * layer: layer for layer in layers})
    shared: dict[tuple, Any] = {}  # one array per mask or bias tensor the layers share
    captures = []
    for layer in layers:
        if layer not in caught:
            raise NeuronViewError(
                f"the neuron view does not support {family} models: their {part} layer {layer} never "
                "passed its query and key to transformers' eager attention function"
            )
        if caught[layer]["layer_idx"] not in (None, layer):
            raise NeuronViewError(
                f"the neuron view does not support {family} models: the {part} attention call taken for "
                f"layer {layer} came from layer {caught[layer]['layer_idx']}"
            )
        one = caught.pop(layer)  # its weights can go once checked
        captures.append(_to_query_key(family, layer, part, one, shared, keep_attention))
    return captures


@checked_keywords
def neuron_view(
    model: Any,
    sentence: AnnotatedSentence | str,
    layer: int,
    head: int,
    token: int,
    capture: QueryKey | None = None,
    part: str | None = None,
    target: AnnotatedSentence | str | None = None,
) -> dict[str, Any]:
    """What query ``token`` of ``head`` in ``layer`` computed, vector by vector.

    Returns a dict of float32 numpy arrays (d = head size, T = keys):

    - ``query`` ``[d]``; ``keys`` ``[T, d]`` (of the query head's key group under GQA);
    - ``products`` ``[T, d]`` = query ⊙ keys (each row sums to q·k_j);
    - ``scores`` ``[T]`` = ``scale`` · q·k_j + ``bias`` (the raw score, also where masked);
    - ``bias`` ``[T]`` (zeros unless the model adds a position bias, as T5 does);
    - ``masked`` ``[T]`` bool, True for keys the query may not see (weight 0);
    - ``weights`` ``[T]`` = softmax of the unmasked scores: the head's attention row;

    and ``scale`` (float), ``layer``, ``head``, ``kv_head``, ``token`` (ints), ``part`` and
    ``family`` (str). Pass ``capture`` (from :func:`capture_qk`, or an item of
    :func:`capture_all_qk`, for the same input and layer) to skip the forward pass.
    """
    if capture is None:
        capture = capture_qk(model, sentence, layer, part=part, target=target)
    elif capture.layer != layer:
        raise NeuronViewError(f"the capture is of layer {capture.layer}, not layer {layer}")
    if not 0 <= head < capture.num_heads:
        raise NeuronViewError(f"head {head} is out of range: layer {layer} has heads 0 to {capture.num_heads - 1}")
    n_queries = capture.query.shape[1]
    if not 0 <= token < n_queries:
        raise NeuronViewError(f"token {token} is out of range: the input has tokens 0 to {n_queries - 1}")
    kv = capture.kv_head(head)
    query = capture.query[head, token]
    keys = capture.key[kv]
    bias = capture.bias[head, token] if capture.bias is not None else np.zeros(keys.shape[0], np.float32)
    return {
        "family": capture.family,
        "part": capture.part,
        "layer": layer,
        "head": head,
        "kv_head": kv,
        "token": token,
        "scale": capture.scale,
        "query": query,
        "keys": keys,
        "products": query[None, :] * keys,
        "scores": capture.scores(head, token).astype(np.float32),
        "bias": bias.astype(np.float32),
        "masked": capture.masked_rows(token).copy(),
        "weights": capture.weights(head, token).astype(np.float32),
    }


def _catch(model: Any, run, inputs: dict, calls: dict[int, int]) -> dict[int, dict]:
    """Run ``run(**inputs)``, keeping the arguments of the n-th eager attention call under ``calls[n]``.

    Calls are counted over ``model``'s own attention modules, in the order they run; the
    pass stops after the last call in ``calls``.
    """
    last = max(calls)
    seen: dict[str, Any] = {"calls": 0, "caught": {}}

    def on_call(module, query, key, value, attention_mask, args, kwargs, output):
        call = seen["calls"]
        seen["calls"] += 1
        if call in calls:
            seen["caught"][calls[call]] = {
                "query": query,
                "key": key,
                "mask": attention_mask,
                "scaling": kwargs.get("scaling", args[0] if args else None),
                "bias": kwargs.get("position_bias"),
                "weights": output[1],
                "layer_idx": getattr(module, "layer_idx", None),
            }
        if call == last:
            raise StopPass

    with watching_attention(model.model, on_call), torch.inference_mode(), contextlib.suppress(StopPass):
        run(**inputs, output_attentions=True, use_cache=False)
    return seen["caught"]


def _to_query_key(family: str, layer: int, part: str, caught: dict, shared: dict, keep_attention: bool) -> QueryKey:
    """What one call caught, checked against the model's own weights, as float32 numpy arrays.

    ``shared`` maps the id of a mask or bias tensor to its array, so layers handed the same
    tensor (a causal mask, T5's position bias) share one array (``shared`` lives for one
    capture, whose layers all have the same shapes).
    """
    query, key = caught["query"][0], caught["key"][0]  # [heads, T_q, d], [kv_heads, T_k, d]
    n_heads, n_q, n_k = query.shape[0], query.shape[1], key.shape[1]
    scaling = caught["scaling"]
    scale = float(query.shape[-1] ** -0.5 if scaling is None else scaling)
    bias = caught["bias"]
    if bias is not None:
        bias = bias[0].float().expand(n_heads, n_q, n_k)
    forbidden = _forbidden(caught["mask"], n_q, n_k)
    weights = caught["weights"][0]
    _verify(family, layer, query, key, bias, forbidden, scale, weights)

    def array(tensor: torch.Tensor) -> np.ndarray:  # a compact copy, not a view of a larger buffer
        return np.ascontiguousarray(tensor.float().cpu().numpy())

    def once(name: str, make) -> np.ndarray:
        source = caught[name]  # a tensor, or None (no mask): one array for every layer either way
        if (name, id(source)) not in shared:  # the tensor is kept with its array, so its id stays its own
            shared[name, id(source)] = (source, make())
        return shared[name, id(source)][1]

    return QueryKey(
        family=family,
        layer=layer,
        part=part,
        query=array(query),
        key=array(key),
        bias=None if bias is None else once("bias", lambda: bias.cpu().numpy()),
        masked=once("mask", lambda: forbidden.cpu().numpy().copy()),
        scale=scale,
        attention=array(weights) if keep_attention else None,
    )


def _forbidden(mask: torch.Tensor | None, n_q: int, n_k: int) -> torch.Tensor:
    """``[T_q, T_k]``, True where the model's mask forbids a key: boolean masks, or additive ones far below 0."""
    if mask is None:
        return torch.zeros((n_q, n_k), dtype=torch.bool)
    mask = mask[0]
    while mask.dim() > 2:  # [1, T_q, T_k] or [1, 1, T_k] -> [T_q, T_k]
        mask = mask[0]
    forbidden = ~mask if mask.dtype == torch.bool else mask <= torch.finfo(mask.dtype).min / 2
    return forbidden.expand(n_q, n_k)


@torch.inference_mode()
def _verify(
    family: str,
    layer: int,
    query: torch.Tensor,
    key: torch.Tensor,
    bias: torch.Tensor | None,
    forbidden: torch.Tensor,
    scale: float,
    weights: torch.Tensor,
) -> None:
    """softmax(scale·q·k + bias) over the allowed keys, all heads at once, against the model's weights.

    The same softmax as :meth:`QueryKey.weights` (a fully masked row gives zeros), in float32 on
    the model's device: a whole layer at 512 tokens takes tens of milliseconds.
    """
    tolerance = TOLERANCE if query.dtype == torch.float32 else HALF_TOLERANCE
    q, k = query.float(), key.float()
    if k.shape[0] != q.shape[0]:  # grouped keys: query head h reads key head h // group
        k = k.repeat_interleave(q.shape[0] // k.shape[0], dim=0)
    scores = torch.matmul(q, k.transpose(-1, -2)).mul_(scale)
    if bias is not None:
        scores.add_(bias.to(scores.device))
    scores.masked_fill_(forbidden.to(scores.device), -torch.inf)
    diff = torch.softmax(scores, dim=-1).nan_to_num_(0.0).sub_(weights.float()).abs_()
    worst = float(diff.max()) if diff.numel() else 0.0
    if not worst <= tolerance:
        raise NeuronViewError(
            f"the neuron view does not support {family} models: softmax(scale·q·k + mask) differs "
            f"from the model's own attention by {worst:.2g} in layer {layer}, so its attention "
            "adds terms this view does not show (e.g. ALiBi or soft-capping)"
        )


def _family(model: Any) -> str:
    family = getattr(model, "family", None)  # a LoadedModel knows; a bare stand-in may not
    return family or getattr(model.model.config, "model_type", "") or type(model.model).__name__


def _check_part(model: Any, part: str | None) -> str:
    if not model.is_encoder_decoder:
        if part not in (None, "self"):
            raise NeuronViewError(f"part={part!r} is for encoder-decoder models; leave it out for {model.name!r}")
        return "self"
    part = part or "encoder"
    if part not in PARTS:
        raise NeuronViewError(f"part must be one of {', '.join(PARTS)} for an encoder-decoder model, not {part!r}")
    return part


def _layers_in(model: Any, part: str) -> int:
    if part in ("decoder", "cross"):
        config = model.model.config
        for attr in ("num_decoder_layers", "decoder_layers"):
            if isinstance(getattr(config, attr, None), int):
                return getattr(config, attr)
    return model.num_layers
