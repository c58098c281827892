"""The built JS bundles in ``static/``, as the widgets load them.

The bundles are built by the hatch hook from ``js/`` on install; a missing one must show a
message in the notebook saying how to build it, not a blank output.

A widget's ``_esm`` is the bundle's *text*, never its path: anywidget (0.11) connects every
widget whose ``_esm`` is a file to that file's process-wide "changed" signal through a
closure over the widget, so each widget, and every array it holds, would live as long as
the process. Live reload while developing the JS is still there, on request
(``ANYWIDGET_HMR=1``, as anywidget's own switch): :func:`live_bundle`, which the widgets
connect to weakly (see :mod:`attnwidget.widget.lifetime`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent.parent / "static"  # attnwidget/static

#: Watched bundles (anywidget FileContents), one per file, only under ANYWIDGET_HMR=1.
_LIVE: dict[str, Any] = {}


def esm(name: str) -> str:
    """An anywidget ``_esm``: the bundle's text, or a module that explains how to build it."""
    bundle = STATIC / name
    if bundle.exists():
        text = bundle.read_text(encoding="utf-8")
        # anywidget takes a one-line string ending in ".xyz" for a file name: keep it multi-line.
        return text if "\n" in text else text + "\n"
    return (
        "export default { render({ el }) {\n"
        f'  el.textContent = "attnwidget: the JavaScript bundle is missing (attnwidget/static/{name}). "\n'
        '    + "Reinstall with `pip install .` on a machine with Node.js, or run `npm run build` in js/.";\n'
        "} };\n"
    )


def live_bundle(name: str):
    """The bundle as anywidget's watched ``FileContents`` when the developer asked for live
    reload (``ANYWIDGET_HMR=1``, watchfiles installed, a source checkout), else None.

    Its ``changed`` signal fires with the new text after each ``npm run build``.
    """
    if os.environ.get("ANYWIDGET_HMR") != "1":
        return None
    if name not in _LIVE:
        bundle = STATIC / name
        try:  # anywidget's own watcher and its own rules (not in site-packages, watchfiles installed)
            from anywidget._file_contents import FileContents
            from anywidget._util import _should_start_thread
        except ImportError:  # another anywidget version: no live reload, nothing breaks
            _LIVE[name] = None
        else:
            _LIVE[name] = FileContents(bundle) if bundle.exists() and _should_start_thread(bundle) else None
    return _LIVE[name]


def inline_script(name: str) -> str:
    """A bundle's text, safe to inline in a ``<script>`` element of an exported page."""
    bundle = STATIC / name
    if not bundle.exists():
        raise FileNotFoundError(
            f"{bundle} is missing: build the JS (`npm run build` in js/) or reinstall "
            "attnwidget with `pip install .` on a machine with Node.js."
        )
    return bundle.read_text(encoding="utf-8").replace("</script", "<\\/script")
