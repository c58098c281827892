"""Attention patterns out of a TransformerLens ``ActivationCache`` (or its plain-dict form).

Both TransformerLens 3 (``HookedTransformer``) and 4 (``TransformerBridge``) store layer
``l``'s pattern under ``blocks.{l}.attn.hook_pattern``, ``[batch, heads, q, k]`` or, with
``remove_batch_dim=True``, ``[heads, q, k]``. Reading a cache needs no TransformerLens
import: it is a mapping of names to tensors (``cache.cache_dict``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from attnwidget.errors import AttnWidgetError

_PATTERN = re.compile(r"^blocks\.(\d+)\.attn\.hook_pattern$")


def cache_patterns(cache: Any, batch: int = 0) -> np.ndarray:
    """float32 ``[layers, heads, T, T]``: every layer's pattern in ``cache``, for prompt ``batch``."""
    tensors = _tensors(cache)
    layers = {int(m.group(1)): value for name, value in tensors.items() if (m := _PATTERN.match(name))}
    if not layers:
        raise AttnWidgetError(
            "the cache holds no attention patterns (blocks.<layer>.attn.hook_pattern); run the model with "
            "run_with_cache(tokens) or names_filter=lambda name: name.endswith('hook_pattern')"
        )
    missing = sorted(set(range(max(layers) + 1)) - set(layers))
    if missing:
        raise AttnWidgetError(
            f"the cache has patterns of layers {sorted(layers)} but not of layers {missing}; the widget shows "
            "layers 0 to the last one cached: cache every layer's hook_pattern (or stop_at_layer for the first few)"
        )
    patterns = []
    for layer in range(len(layers)):
        pattern = layers[layer]
        pattern = pattern.detach().float().cpu().numpy() if hasattr(pattern, "detach") else np.asarray(pattern)
        if pattern.ndim == 4:
            if not -pattern.shape[0] <= batch < pattern.shape[0]:
                raise AttnWidgetError(f"batch={batch} is out of range: the cache holds {pattern.shape[0]} prompts")
            pattern = pattern[batch]
        if pattern.ndim != 3:
            raise AttnWidgetError(
                f"blocks.{layer}.attn.hook_pattern has shape {tuple(pattern.shape)}; expected "
                "[batch, heads, q, k] or [heads, q, k] (a cache made with pos_slice cannot be shown)"
            )
        patterns.append(pattern)
    shapes = {p.shape for p in patterns}
    if len(shapes) > 1:
        raise AttnWidgetError(f"the cached patterns differ in shape between layers: {sorted(shapes)}")
    return np.stack(patterns)


def cache_tokens(cache: Any, tokens: Any, batch: int = 0) -> Any:
    """The display tokens: ``tokens`` as given (strings, or an AnnotatedSentence), or token
    ids / the prompt text turned into strings by the model that made the cache."""
    if isinstance(tokens, str) or _is_ids(tokens):
        model = getattr(cache, "model", None)
        if model is None or not hasattr(model, "to_str_tokens"):
            raise AttnWidgetError(
                "this cache does not know its model, so token ids or text cannot be turned into tokens; "
                "pass the token strings: model.to_str_tokens(tokens)"
            )
        if _is_ids(tokens) and getattr(tokens, "ndim", 1) == 2:
            tokens = tokens[batch]
        return [str(token) for token in model.to_str_tokens(tokens)]
    return tokens


def cache_model_info(cache: Any) -> tuple[str, bool | None]:
    """The cache's model name and whether it is causal, when the cache knows its model."""
    cfg = getattr(getattr(cache, "model", None), "cfg", None)
    if cfg is None:
        return "custom", None
    direction = getattr(cfg, "attention_dir", None)
    return str(getattr(cfg, "model_name", None) or "custom"), None if direction is None else direction == "causal"


def _tensors(cache: Any) -> Mapping:
    tensors = getattr(cache, "cache_dict", cache)
    if not isinstance(tensors, Mapping):
        raise AttnWidgetError(
            f"expected a TransformerLens ActivationCache or a dict of hook names to tensors, not {type(cache).__name__}"
        )
    return tensors


def _is_ids(tokens: Any) -> bool:
    """A tensor/array of token ids, or a list of ints."""
    if hasattr(tokens, "dtype") and hasattr(tokens, "shape"):
        return "int" in str(tokens.dtype)
    return isinstance(tokens, (list, tuple)) and bool(tokens) and all(isinstance(t, int) for t in tokens)
