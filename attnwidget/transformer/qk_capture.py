"""Catching every layer's queries and keys of a long input under sdpa, never its weights.

Eager attention materialises ``[heads, T, T]`` per layer and ``output_attentions`` keeps all
of them: 275 GB at 8,192 tokens on 32 x 32 heads. Here the model runs its fused sdpa
attention under a registered implementation, ``attnwidget_sdpa``, that hands each layer's
post-rotary query and key to a sink on the module before calling transformers' own sdpa.
Nothing global is swapped; the model is switched to the name for one pass and back to
eager after it. Summaries are then computed from the queries and keys in blocks
(:mod:`attnwidget.qk_store`).

Only plain causal self-attention is rebuilt from q and k here: a family with a sliding
window, a position bias, soft-capping or cross-attention is refused. Each model is checked
once on a short probe: softmax(scale q.k + causal mask) against its own eager weights.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnwidget.errors import AttnWidgetError
from attnwidget.progress import bar
from attnwidget.transformer.forward import forward_attention

#: The registered attention implementation's name.
IMPLEMENTATION = "attnwidget_sdpa"
#: Tokens of the probe that checks a model's attention is softmax(scale q.k) under a causal mask.
PROBE_TOKENS = 48
#: Largest difference allowed on the probe (float32).
PROBE_TOLERANCE = 1e-4
#: ... and, for a model computing in half precision, a share of each weight in units of its
#: dtype's epsilon: its own scores and weights are rounded to ~0.4 % (bfloat16), while the
#: rebuilt ones are computed in float32 from its queries and keys. A term the path does not
#: rebuild (a position bias, a soft cap) moves weights by far more.
PROBE_HALF_EPSILONS = 4

_REGISTER_LOCK = threading.Lock()
_registered = False
_checked: dict[int, str | None] = {}  # id(hf model) -> None (fine) or why it is refused


class LongInputError(AttnWidgetError):
    """The long-input path cannot rebuild this model's attention from its queries and keys."""


@dataclass
class CapturedQK:
    """Every layer's queries ``[L, H, T, d]`` and keys ``[L, G, T, d]`` (float32, numpy),
    as the model's attention used them, with the score scale and the mask rule."""

    query: np.ndarray
    key: np.ndarray
    scale: float
    is_causal: bool
    family: str

    @property
    def num_layers(self) -> int:
        return int(self.query.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.query.shape[1])

    @property
    def num_kv_heads(self) -> int:
        return int(self.key.shape[1])

    @property
    def num_tokens(self) -> int:
        return int(self.query.shape[2])

    def kv_head(self, head: int) -> int:
        return head // (self.num_heads // self.num_kv_heads)

    @property
    def nbytes(self) -> int:
        return int(self.query.nbytes + self.key.nbytes)


def _capture_then_sdpa(module, query, key, value, attention_mask, **kwargs):
    sink = getattr(module, "_attnwidget_sink", None)
    if sink is not None:
        sink(module, query, key, attention_mask, kwargs)
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    if sink is not None and groups > 1:
        # transformers asks sdpa for grouped keys (enable_gqa) when there is no mask; on a GPU
        # only the flash kernel (half precision) takes that, so a float32 model fell back to
        # the math kernel, which holds [heads, T, T]: 128 GiB a layer at 32,768 tokens. With
        # the keys repeated per head the memory-efficient kernel runs (O(T) memory).
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
        module = _Ungrouped(getattr(module, "is_causal", True))
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


class _Ungrouped:
    """What transformers' sdpa reads of an attention module, for keys already repeated per head."""

    num_key_value_groups = 1

    def __init__(self, is_causal: bool) -> None:
        self.is_causal = is_causal


def register() -> None:
    """Register ``attnwidget_sdpa`` (and its mask: sdpa's) with transformers, once."""
    global _registered
    with _REGISTER_LOCK:
        if _registered:
            return
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

        AttentionInterface.register(IMPLEMENTATION, _capture_then_sdpa)
        # Without a mask function of the same name masking_utils returns no mask at all.
        AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)
        _registered = True


def supports_long(loaded: Any) -> str | None:
    """None when the long path can show ``loaded``; else why not (a sentence)."""
    runner = getattr(loaded, "runner", None)
    if runner is not None:  # a TransformerLens model: its hook points give the queries and keys
        config = getattr(loaded, "config", None)
        why = _config_refuses(config) if config is not None and hasattr(config, "to_dict") else None
        return why or runner.long_unsupported()
    hf = loaded.model
    if loaded.is_encoder_decoder or not loaded.is_causal:
        return "the long-input path shows decoder-only causal models (Llama, Qwen2, Mistral, GPT-2 style)"
    if not hasattr(hf, "set_attn_implementation"):
        return f"{type(hf).__name__} cannot switch its attention implementation"
    return _config_refuses(hf.config)


def _config_refuses(config: Any) -> str | None:
    """Why a Hugging Face config's attention cannot be rebuilt from q and k (None: it can)."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("sliding_window", "attn_logit_softcapping", "alibi"):
        value = getattr(config, name, None)
        if value not in (None, False, 0) and not (
            name == "sliding_window" and not getattr(config, "use_sliding_window", True)
        ):
            return f"its attention uses {name}={value!r}, which the long-input path does not rebuild"
    return None


def _layers(hf) -> list:
    return [
        m
        for m in hf.modules()
        if type(m).__name__.endswith("Attention") and isinstance(getattr(m, "layer_idx", None), int)
    ]


def capture(loaded: Any, input_ids: torch.Tensor, progress: bool = True) -> CapturedQK:
    """One sdpa pass over ``input_ids`` ``[1, T]`` keeping every layer's q and k (float32, CPU).

    Memory: the model's own pass plus ``4 (H + G) T d`` bytes per layer.
    """
    why = supports_long(loaded)
    if why:
        raise LongInputError(f"{loaded.name!r} cannot be shown at this length: {why}")
    check_model(loaded)
    return _caught(loaded, input_ids, progress)


def _caught(loaded: Any, input_ids: torch.Tensor, progress: bool) -> CapturedQK:
    """The queries and keys of one pass: from a TransformerLens model's hook points, else
    from the registered sdpa implementation."""
    if getattr(loaded, "runner", None) is not None:
        return loaded.runner.long_query_keys(input_ids, progress)
    return _run(loaded, input_ids, progress)


def _run(loaded: Any, input_ids: torch.Tensor, progress: bool) -> CapturedQK:
    hf = loaded.model
    modules = _layers(hf)
    L = len(modules)
    T = int(input_ids.shape[-1])
    store: dict[str, Any] = {}
    line = bar(total=L, desc="model pass (catching queries and keys)", unit="layer", enabled=progress, leave=False)

    def sink(module, query, key, mask, kwargs):
        i = module.layer_idx
        if "query" not in store:
            store["query"] = np.empty((L, query.shape[1], T, query.shape[-1]), np.float32)
            store["key"] = np.empty((L, key.shape[1], T, key.shape[-1]), np.float32)
            scaling = kwargs.get("scaling")
            store["scale"] = float(query.shape[-1] ** -0.5 if scaling is None else scaling)
        if mask is not None and mask.dtype != torch.bool:
            store["masked_add"] = True
        store["query"][i] = query[0].float().cpu().numpy()
        store["key"][i] = key[0].float().cpu().numpy()
        store["seen"] = store.get("seen", 0) + 1
        line.update(1)

    register()
    previous = getattr(hf.config, "_attn_implementation", "eager") or "eager"
    for m in modules:
        m._attnwidget_sink = sink
    try:
        hf.set_attn_implementation(IMPLEMENTATION)
        with torch.inference_mode():
            hf(input_ids=input_ids.to(loaded.device), use_cache=False)
    finally:
        for m in modules:
            m._attnwidget_sink = None
        hf.set_attn_implementation(previous)  # the registered name never leaks into the user's model
        line.close()
    if store.get("seen") != L:
        raise LongInputError(
            f"{loaded.name!r}: {store.get('seen', 0)} of its {L} attention layers "
            "passed their query and key to transformers' attention interface"
        )
    return CapturedQK(
        query=store["query"],
        key=store["key"],
        scale=store["scale"],
        is_causal=True,
        family=getattr(hf.config, "model_type", type(hf).__name__),
    )


def check_model(loaded: Any) -> None:
    """Once per model: on a short probe, softmax(scale q.k + causal mask) from the caught
    vectors must equal the model's own eager weights, else the long path refuses it."""
    key = id(loaded.model)
    if key not in _checked:
        _checked[key] = _probe(loaded)
    if _checked[key]:
        raise LongInputError(f"{loaded.name!r} cannot be shown at this length: {_checked[key]}")


def _probe(loaded: Any) -> str | None:
    vocab = int(getattr(loaded.model.config, "vocab_size", 100) or 100)
    ids = torch.arange(PROBE_TOKENS, dtype=torch.long)[None] * 7 % max(2, vocab - 1) + 1
    eager = forward_attention(loaded, ids, torch.ones_like(ids))
    qk = _caught(loaded, ids, progress=False)
    dtype = eager[0].dtype
    relative = PROBE_HALF_EPSILONS * torch.finfo(dtype).eps if torch.finfo(dtype).bits < 32 else 0.0
    worst = 0.0
    for layer, weights in enumerate(eager):
        if layer >= qk.num_layers:
            break
        w = weights[0].float().cpu().numpy()
        got = dense_from_qk(qk, layer)
        worst = max(worst, float((np.abs(got - w) - relative * np.abs(w)).max()))
    if not worst <= PROBE_TOLERANCE:
        share = f" beyond {relative:.1%} of each weight ({dtype})" if relative else ""
        return (
            f"softmax(scale·q·k + causal mask) differs from its own attention by {worst:.2g}{share} on a "
            "probe, so its attention adds terms the long-input path does not rebuild"
        )
    return None


def dense_from_qk(qk: CapturedQK, layer: int, rows: slice = slice(None)) -> np.ndarray:
    """float32 ``[H, rows, T]`` weights of one layer, rebuilt from the vectors (short inputs, checks)."""
    q = torch.from_numpy(qk.query[layer][:, rows])
    k = torch.from_numpy(qk.key[layer]).repeat_interleave(qk.num_heads // qk.num_kv_heads, dim=0)
    s = torch.matmul(q.double(), k.double().transpose(-1, -2)) * qk.scale
    r = torch.arange(qk.num_tokens)[rows][:, None]
    if qk.is_causal:
        s.masked_fill_(torch.arange(qk.num_tokens)[None] > r, -torch.inf)
    return torch.softmax(s, dim=-1).float().numpy()
