"""nnsight models (``LanguageModel``, ``TransformersModel``, ``NNsight``) as attnwidget models.

nnsight wraps a Hugging Face model and leaves it as it is: its interventions live only
inside a ``trace``. The wrapped model (``model._module``) and the wrapper's tokenizer are
therefore loaded as any ``(model, tokenizer)`` pair, and every view, generation and the
corpus pass run exactly as for the Hugging Face model (tests/transformer/test_adapters.py checks the
attention against nnsight's own ``trace(..., output_attentions=True)``).
"""

from __future__ import annotations

from typing import Any

from attnwidget.errors import ModelLoadError
from attnwidget.transformer.hf_loading import loaded_from_objects
from attnwidget.transformer.library_models import model_device


def load_nnsight_model(model: Any, device: Any, lm_head: bool):
    """A :class:`~attnwidget.transformer.loading.LoadedModel` for the Hugging Face model an nnsight model wraps."""

    if not getattr(model, "dispatched", True) and callable(getattr(model, "dispatch", None)):
        model.dispatch()  # a lazily loaded model holds meta tensors until its weights are loaded
    hf = getattr(model, "_module", None)  # nnsight 0.8; before 0.5 it was _model
    if hf is None:
        hf = getattr(model, "_model", None)
    if hf is None:
        raise ModelLoadError(
            f"cannot reach the model inside this {type(model).__name__}; pass the Hugging Face model "
            "and its tokenizer as a (model, tokenizer) pair instead"
        )
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ModelLoadError(
            f"this {type(model).__name__} has no tokenizer; wrap the model as nnsight.LanguageModel(hf_model, "
            "tokenizer=tokenizer), or pass (model._module, tokenizer)"
        )
    if not hasattr(hf, "config"):
        raise ModelLoadError(
            f"this {type(model).__name__} wraps a {type(hf).__name__}, not a Hugging Face transformers model; "
            "attnwidget reads the attention of transformers models"
        )
    return loaded_from_objects((hf, tokenizer), model_device(hf, device), lm_head)
