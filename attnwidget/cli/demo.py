"""`attnwidget demo`: a standalone page of the widget for a sample sentence.

Uses the embedded offline model and spaCy syntax, so it works on a fresh machine with no
network; the page itself needs no network either.
"""

from __future__ import annotations

import tempfile
import webbrowser
from pathlib import Path
from typing import Any

from attnwidget.keywords import checked_keywords
from attnwidget.progress import importing, status
from attnwidget.text.syntax import spacy_pipeline

#: A sentence with a relative clause and a long-distance subject-verb agreement, the kind
#: of structure Vig & Belinkov look for in attention heads.
SAMPLE_TEXT = "The keys that the man left on the kitchen table were gone by the morning."


@checked_keywords
def demo(
    out: str | Path | None = None,
    open_browser: bool = False,
    text: str | None = None,
    progress: bool = True,
    model: Any = None,
) -> Path:
    """Write the demo page and return its path.

    ``out``: where to write it (default: ``attnwidget-demo.html`` in the temp folder).
    ``open_browser``: open it in the default web browser. ``text``: the sentence shown.
    ``progress``: status lines while torch is imported, the model and spaCy load, and the
    page is written. ``model``: an already loaded model (default: the embedded offline one).
    """
    with importing("torch", enabled=progress):
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.loading import OFFLINE_MODEL, load_model
    # lazy: keeps anywidget, traitlets out of importing this module
    from attnwidget.widget.attention_widget import AttentionWidget

    model = load_model(OFFLINE_MODEL if model is None else model, device="cpu", progress=progress)
    spacy_pipeline(progress=progress)
    path = Path(out) if out is not None else Path(tempfile.gettempdir()) / "attnwidget-demo.html"
    with status(f"writing {path.name}", enabled=progress):
        widget = AttentionWidget(text or SAMPLE_TEXT, model=model, annotations="spacy")
        widget.layer = min(2, widget.num_layers - 1)
        widget.save_html(path, title=f"attnwidget demo · {widget._data.model_name}")
    widget.close()
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
    return path.resolve()
