"""The built JS bundles in ``static/`` and the message kinds the views use to ask for data.

The bundles are built by the hatch hook from ``js/`` on install; a missing one must show a
message in the notebook saying how to build it, not a blank output.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"

#: Custom-message kinds of the request/reply protocol between a view and the kernel.
REQUEST = "attnwidget:request"
REPLY = "attnwidget:reply"


def esm(name: str) -> Path | str:
    """An anywidget ``_esm``: the bundle's path, or a module that explains how to build it."""
    bundle = STATIC / name
    if bundle.exists():
        return bundle
    return (
        "export default { render({ el }) {\n"
        f'  el.textContent = "attnwidget: the JavaScript bundle is missing (attnwidget/static/{name}). "\n'
        '    + "Reinstall with `pip install .` on a machine with Node.js, or run `npm run build` in js/.";\n'
        "} };\n"
    )


def inline_script(name: str) -> str:
    """A bundle's text, safe to inline in a ``<script>`` element of an exported page."""
    bundle = STATIC / name
    if not bundle.exists():
        raise FileNotFoundError(
            f"{bundle} is missing: build the JS (`npm run build` in js/) or reinstall "
            "attnwidget with `pip install .` on a machine with Node.js."
        )
    return bundle.read_text(encoding="utf-8").replace("</script", "<\\/script")
