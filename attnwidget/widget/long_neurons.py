"""The neuron view of a long input: one layer's vectors from the store's capture, no re-run."""

from __future__ import annotations

from typing import Any

from attnwidget.errors import NeuronViewError
from attnwidget.transformer.neurons import QueryKey


def long_capture(loaded: Any, store: Any, layer: int) -> QueryKey:
    """Layer ``layer`` of a :class:`attnwidget.qk_store.QKStore` as a :class:`QueryKey`
    (views of the kept arrays; the causal mask as a rule, not a ``[T, T]`` array)."""
    qk = store.qk
    if not 0 <= layer < qk.num_layers:
        raise NeuronViewError(f"layer {layer} is out of range: the model has layers 0 to {qk.num_layers - 1}")
    return QueryKey(
        family=qk.family,
        layer=layer,
        part="self",
        query=qk.query[layer],
        key=qk.key[layer],
        bias=None,
        masked=None,
        scale=qk.scale,
        mask_rule="causal",
    )
