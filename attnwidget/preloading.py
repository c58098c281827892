"""Load the heavy libraries while a notebook's user writes the next cell.

Nine tenths of the first widget's wait in a fresh kernel is importing torch, transformers'
modelling code, spaCy and matplotlib (``bench/bench_cold_start.py``), none of it ours. When
``AttentionWidget`` is first imported into a Jupyter kernel (JupyterLab, Notebook, VS Code,
Colab), the kernel loads them while it is idle, in steps on its own event loop, so the
widget cell that follows finds them loaded. ``ATTNWIDGET_PRELOAD=0`` turns it off.

Why not a background thread (as this module did before): Python imports one package on
two threads at once poorly. A thread importing transformers while the user's cell did
``from transformers import PreTrainedTokenizerFast`` made that import fail with an
ImportError (importlib hands one of two threads in a circular import a half-made module).
Steps on the kernel's main thread never run beside the user's code: a cell sent meanwhile
runs as soon as the step under way (at most a few seconds) is done.

Outside a Jupyter kernel (a script, marimo) nothing is preloaded unless asked for, and
then at once: ``attnwidget.preload()`` or ``ATTNWIDGET_PRELOAD=1`` load everything before
returning, as the first widget would.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from attnwidget.defaults import DEFAULT_MODEL, OFFLINE_MODEL

log = logging.getLogger(__name__)

#: Read at the first import of ``AttentionWidget``: "0"/"off" never preloads, "1"/"on" always.
ENVIRONMENT = "ATTNWIDGET_PRELOAD"

#: Generic modelling code every model loads (``-X importtime``: torch.distributed.tensor and
#: torch._dynamo come in through these), then the modelling modules of the two default models.
TRANSFORMERS_MODULES = (
    "transformers.modeling_utils",
    "transformers.masking_utils",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "transformers.tokenization_utils_fast",
)

#: Seconds between two steps on a kernel's loop: a message that came meanwhile goes first.
STEP_GAP = 0.02

_state = {"started": False, "left": 0, "stopped": False}


def preload(model: Any = None, spacy: bool = True) -> bool:
    """Load (once) torch, transformers' modelling code, spaCy's English pipeline and
    matplotlib: in a Jupyter kernel, in steps while the kernel is idle (returns at once);
    elsewhere, now. Returns whether the steps were left to the kernel's loop.

    ``model``: an id or folder whose modelling code to import too (read from a local folder or
    the Hugging Face cache, never downloaded); the defaults' code is imported either way.
    ``spacy=False`` leaves spaCy out (for work on gold CoNLL-U only). Calls after the first
    do nothing.
    """
    if _state["started"]:
        return False
    _state["started"] = True
    steps = _steps(_families(model), spacy)
    loop = _kernel_loop()
    if loop is None:
        for step in steps:
            _run(step)
        return False
    _state["left"] = len(steps)

    def next_step() -> None:
        if _state["stopped"]:
            steps.clear()
        else:
            _run(steps.pop(0))
        _state["left"] = len(steps)
        if steps:
            loop.call_later(STEP_GAP, next_step)

    loop.call_later(STEP_GAP, next_step)
    return True


def preload_in_notebook() -> None:
    """Preload if this process is a Jupyter kernel (or ``ATTNWIDGET_PRELOAD`` says so)."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower()
    if wanted in ("0", "off", "false", "no"):
        return
    if wanted in ("1", "on", "true", "yes") or _kernel_loop() is not None:
        preload()


def stop_preloading() -> None:
    """Leave the steps not yet run: a widget was made, which loaded what it needs itself (a
    widget of given attention needs none of it), and its requests to the kernel would wait
    behind each step (a layer switch behind a 3 s import of transformers)."""
    _state["stopped"] = True


def started() -> bool:
    """Whether this process has started preloading (it may have finished)."""
    return _state["started"]


def steps_left() -> int:
    """Steps a kernel's loop has still to run (0: done, or none were left to it)."""
    return _state["left"]


def _kernel_loop():
    """The event loop of the Jupyter kernel this process is (its main thread's), or None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    kernel = getattr(shell, "kernel", None)
    return getattr(kernel, "io_loop", None)


def _families(model: Any) -> list[str]:
    """The models whose modelling code to import: the defaults, and ``model`` if named."""
    names = [OFFLINE_MODEL, DEFAULT_MODEL]
    if isinstance(model, (str, os.PathLike)):
        names.append(str(model))
    return names


def _steps(models: list[str], spacy: bool) -> list[tuple[str, Callable[[], None]]]:
    steps = [("torch", _import_torch), ("transformers", lambda: _import_transformers(models))]
    if spacy:
        steps.append(("spaCy", _load_spacy))
    steps.append(("matplotlib", _import_matplotlib))
    return steps


def _run(step: tuple[str, Callable[[], None]]) -> None:
    name, load = step
    try:
        load()
    except Exception as exc:  # noqa: BLE001 - the real call raises it again, with advice
        log.debug("attnwidget: preloading %s failed: %s", name, exc)


def _import_torch() -> None:
    import torch  # noqa: F401


def _import_transformers(models: list[str]) -> None:
    import importlib

    for module in TRANSFORMERS_MODULES:
        importlib.import_module(module)
    for model in models:
        family = _model_type(model)
        if family:
            importlib.import_module(f"transformers.models.{family}.modeling_{family}")


def _model_type(model: str) -> str | None:
    """The ``model_type`` of a local folder, the embedded model or a cached id; None if unknown."""
    from transformers import AutoConfig

    # lazy: the loader's modules import torch, which the step before imported
    from attnwidget.transformer.hf_loading import embedded_model_path

    source = embedded_model_path(model) or model
    try:
        return AutoConfig.from_pretrained(source, local_files_only=True).model_type.replace("-", "_")
    except (OSError, ValueError):
        return None


def _load_spacy() -> None:
    # lazy: syntax imports spaCy's helpers only when called
    from attnwidget.text.syntax import spacy_pipeline

    spacy_pipeline(None)


def _import_matplotlib() -> None:
    # lazy: the fallback module is the one place that knows what its pictures load
    from attnwidget.pictures.fallback import FALLBACK, load_matplotlib

    if FALLBACK is not None:  # no static pictures asked for: no matplotlib
        load_matplotlib()
