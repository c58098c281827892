"""Models held by interpretability libraries, read as attnwidget's own :class:`LoadedModel`.

TransformerLens (``TransformerBridge`` in 4.x, ``HookedTransformer`` in 3.x) and nnsight
(``LanguageModel`` and the other ``NNsight`` wrappers) are optional extras. An object of
theirs is recognised by the module its class comes from, so neither library is imported
unless the user already holds one of its objects (TransformerLens alone takes ~10 s to
import). :func:`adapt` turns such an object into a :class:`~attnwidget.transformer.loading.LoadedModel`:

- an nnsight model wraps a Hugging Face model without changing it, so it is unwrapped and
  loaded as any ``(model, tokenizer)`` pair (:mod:`attnwidget.transformer.nnsight_models`);
- a TransformerLens model computes attention in its own modules (TransformerLens 4 rewires
  the Hugging Face model it bridges), so attention, queries and keys are read from its
  hook points and generation runs through its ``generate`` (:mod:`attnwidget.transformer.lens`).
"""

from __future__ import annotations

import importlib
from typing import Any

from attnwidget.errors import ModelLoadError

#: library import name -> (the extra that installs it, its PyPI name)
EXTRAS = {
    "transformer_lens": ("transformer-lens", "transformer-lens"),
    "nnsight": ("nnsight", "nnsight"),
}


def library_of(obj: Any) -> str | None:
    """``"transformer_lens"`` or ``"nnsight"`` when ``obj``'s class (or a base class) comes
    from that library, else None. Reads class module names only: imports nothing."""
    for cls in type(obj).__mro__:
        root = (getattr(cls, "__module__", None) or "").split(".", 1)[0]
        if root in EXTRAS:
            return root
    return None


def require(library: str, what: str) -> Any:
    """Import ``library`` (a key of :data:`EXTRAS`), or say which extra installs it."""
    extra, package = EXTRAS[library]
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise ModelLoadError(
            f"{what} needs {package}, which is not installed here ({exc}); install it with "
            f"`pip install 'attnwidget[{extra}]'`."
        ) from exc


def adapt(model: Any, device: Any, lm_head: bool) -> Any:
    """The :class:`~attnwidget.transformer.loading.LoadedModel` for a TransformerLens or nnsight model,
    or None when ``model`` is neither. ``device="auto"`` (or None) leaves the model where it is."""
    library = library_of(model)
    if library == "transformer_lens":
        # lazy: lens.py imports this module (a circle at module level)
        from attnwidget.transformer.lens import load_lens_model

        return load_lens_model(model, device)
    if library == "nnsight":
        # lazy: nnsight_models.py imports this module (a circle at module level)
        from attnwidget.transformer.nnsight_models import load_nnsight_model

        return load_nnsight_model(model, device, lm_head)
    return None


def model_device(module: Any, device: Any):
    """The device to use for a library's model: ``device`` if given, else where its weights are."""
    import torch

    # lazy: loading.py imports this module (a circle at module level)
    from attnwidget.transformer.loading import resolve_device

    if device not in (None, "auto"):
        return resolve_device(device)
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")
