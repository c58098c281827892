"""Load the heavy libraries in the background while a notebook's user writes the next cell.

Nine tenths of the first widget's wait in a fresh kernel is importing torch, transformers'
modelling code, spaCy and matplotlib (``bench/bench_cold_start.py``), none of it ours. When
``AttentionWidget`` is first imported into a notebook kernel (Jupyter, VS Code, Colab,
marimo), one daemon thread imports them and loads the spaCy pipeline, so the widget cell that
follows finds them loaded. Nothing runs in a script or a terminal unless asked for:
``attnwidget.preload()``, or ``ATTNWIDGET_PRELOAD=1``; ``ATTNWIDGET_PRELOAD=0`` turns it off.

Work that needs these libraries first waits for the thread (:func:`settled`), so no two
threads ever import the same library at once. The thread only warms caches: any error in it
is dropped here and raised, with its advice, by the call that really needs the library.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from attnwidget.defaults import DEFAULT_MODEL, OFFLINE_MODEL
from attnwidget.progress import status

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

_thread: threading.Thread | None = None
_lock = threading.Lock()


def preload(model: Any = None, spacy: bool = True) -> threading.Thread:
    """Start (once) loading torch, transformers' modelling code, spaCy's English pipeline and
    matplotlib in a background thread, and return that thread.

    ``model``: an id or folder whose modelling code to import too (read from a local folder or
    the Hugging Face cache, never downloaded); the defaults' code is imported either way.
    ``spacy=False`` leaves spaCy out (for work on gold CoNLL-U only). Calls after the first
    return the first call's thread.
    """
    global _thread
    with _lock:
        if _thread is None:
            families = _families(model)
            _thread = threading.Thread(target=_load, args=(families, spacy), name="attnwidget-preload", daemon=True)
            _thread.start()
        return _thread


def preload_in_notebook() -> None:
    """Preload if this process is a notebook kernel (or ``ATTNWIDGET_PRELOAD`` says so)."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower()
    if wanted in ("0", "off", "false", "no"):
        return
    if wanted in ("1", "on", "true", "yes") or _in_notebook():
        preload()


def started() -> bool:
    """Whether this process has started preloading (it may have finished)."""
    return _thread is not None


def settled(timeout: float = 300.0) -> None:
    """Wait for the preload thread, if one runs, before loading what it loads; a status line
    says why the caller waits. Returns at once in that thread itself, or when none was started."""
    thread = _thread
    if thread is None or not thread.is_alive() or thread is threading.current_thread():
        return
    with status("finishing attnwidget's background loading (torch, transformers, spaCy)"):
        thread.join(timeout)  # bounded: a stuck import must not hang the cell for ever


def _in_notebook() -> bool:
    """A Jupyter kernel (JupyterLab, Notebook, VS Code, Colab) or a marimo notebook."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None and type(shell).__name__ in ("ZMQInteractiveShell", "Shell"):  # Shell: Colab
        return True
    marimo = sys.modules.get("marimo")
    try:
        return bool(marimo is not None and marimo.running_in_notebook())
    except Exception:  # noqa: BLE001 - an old marimo without the call: not worth a failure
        return False


def _families(model: Any) -> list[str]:
    """The models whose modelling code to import: the defaults, and ``model`` if named."""
    names = [OFFLINE_MODEL, DEFAULT_MODEL]
    if isinstance(model, (str, os.PathLike)):
        names.append(str(model))
    return names


def _load(models: list[str], spacy: bool) -> None:
    steps = [("torch", _import_torch), ("transformers", lambda: _import_transformers(models))]
    if spacy:
        steps.append(("spaCy", _load_spacy))
    steps.append(("matplotlib", _import_matplotlib))
    for name, step in steps:
        try:
            step()
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

    # lazy: the loader's modules import torch, which this thread has imported by now
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
