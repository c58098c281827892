"""Which interpretability library an object comes from, importing it only on demand, and
the device its model should run on. Shared by ``adapters`` (which chooses), ``lens`` and
``nnsight_models`` (which read such models), so none of them imports another back.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from attnwidget.errors import ModelLoadError
from attnwidget.transformer.hf_loading import resolve_device

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


def model_device(module: Any, device: Any):
    """The device to use for a library's model: ``device`` if given, else where its weights are."""
    if device not in (None, "auto"):
        return resolve_device(device)
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")
