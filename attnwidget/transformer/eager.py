"""Watching a model's eager attention calls as they happen, and stopping a pass early.

transformers' attention modules call their modeling file's ``eager_attention_forward``,
looked up as a global of that file at every call; swapping it for a wrapper reaches every
layer without touching the model. The neuron view uses this to catch queries and keys,
the corpus pass to take each layer's weights and skip the work after the last one.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

#: One swap at a time: two overlapping swaps could restore each other's wrapper for good.
_SWAP_LOCK = threading.RLock()


class StopPass(Exception):
    """Raised from a watcher to end the forward pass once it has what it needs."""


#: hf_model -> (its modeling files that define eager attention, ids of its modules).
#: Walking a model's modules costs about a millisecond, and a corpus pass watches every
#: batch; a loaded model's modules do not change.
_SCANNED: weakref.WeakKeyDictionary[Any, tuple[dict[str, Any], frozenset[int]]] = weakref.WeakKeyDictionary()


def _scan(hf_model) -> tuple[dict[str, Any], frozenset[int]]:
    found = _SCANNED.get(hf_model)
    if found is None:
        files, own = {}, set()
        for module in hf_model.modules():
            own.add(id(module))
            source = sys.modules.get(type(module).__module__)
            if source is not None and callable(getattr(source, "eager_attention_forward", None)):
                files[source.__name__] = source
        found = _SCANNED[hf_model] = (files, frozenset(own))
    return found


@contextmanager
def wrapped_eager(hf_model, wrap: Callable[[Callable], Callable]):
    """Swap each modeling file's ``eager_attention_forward`` for ``wrap(original)``, then restore."""
    files = _scan(hf_model)[0]
    with _SWAP_LOCK:
        originals = {name: f.eager_attention_forward for name, f in files.items()}
        try:
            for name, f in files.items():
                f.eager_attention_forward = wrap(originals[name])
            yield
        finally:
            for name, f in files.items():
                f.eager_attention_forward = originals[name]


@contextmanager
def watching_attention(hf_model, on_call: Callable[..., Any]):
    """Call ``on_call(module, query, key, value, mask, args, kwargs, output)`` after each
    eager attention call of ``hf_model``'s own modules (another model running meanwhile is
    left alone); ``on_call`` may raise :class:`StopPass`, which the caller catches."""
    own = _scan(hf_model)[1]

    def wrap(original):
        def eager_attention_forward(module, query, key, value, attention_mask, *args, **kwargs):
            output = original(module, query, key, value, attention_mask, *args, **kwargs)
            if id(module) in own:
                on_call(module, query, key, value, attention_mask, args, kwargs, output)
            return output

        return eager_attention_forward

    with wrapped_eager(hf_model, wrap):
        yield
