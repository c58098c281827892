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

from typing import Any

from attnwidget.transformer.library_models import library_of


def adapt(model: Any, device: Any, lm_head: bool) -> Any:
    """The :class:`~attnwidget.transformer.loading.LoadedModel` for a TransformerLens or nnsight model,
    or None when ``model`` is neither. ``device="auto"`` (or None) leaves the model where it is."""
    library = library_of(model)
    if library == "transformer_lens":
        # lazy: keeps TransformerLens's code out until such a model is given
        from attnwidget.transformer.lens import load_lens_model

        return load_lens_model(model, device)
    if library == "nnsight":
        # lazy: keeps nnsight's code out until such a model is given
        from attnwidget.transformer.nnsight_models import load_nnsight_model

        return load_nnsight_model(model, device, lm_head)
    return None
