"""The static picture every widget output carries, for pages where no kernel runs.

nbconvert's HTML, Jupyter Book (myst-nb) and GitHub's preview show the first MIME type
they can render (text/html, then image/svg+xml, then image/png) when a widget has no
saved state (run notebooks with ``store_widget_state=False``; see docs/static.md). So the
bundle gets an SVG of the current view (tokens as text, XML-escaped by matplotlib) while
it stays small, else a PNG, never more than :data:`MAX_BYTES`: it is stored in every
saved notebook. A live front end picks the widget view, ranked higher, and never shows it.

Drawing it costs ~0.1-0.5 s (see bench/bench_fallback.py); ``FALLBACK = None`` turns it off,
``"png"``/``"svg"`` forces one format. A long input (past 1,024 tokens) is drawn from what
its store keeps of the shown layer: the matrix view's overview, the head view's first rows;
its model view only once every layer is summarised (else the shown layer's matrix view).
When no picture can be had, the text/plain output says why.
"""

from __future__ import annotations

import base64
import logging

from attnwidget.errors import AttnWidgetError
from attnwidget.widget.long_payload import summarised

#: "auto" (SVG when under MAX_SVG_BYTES, else PNG), "svg", "png", or None: no fallback.
FALLBACK: str | None = "auto"
#: The picture is drawn to fit this box (inches) at PNG_DPI: about 720 x 860 pixels.
FIT_IN = (7.5, 9.0)
PNG_DPI = 96
MAX_SVG_BYTES = 250_000
#: A fallback larger than this is left out (the text/plain repr remains).
MAX_BYTES = 600_000
#: The head view's strongest lines kept in a fallback (each row keeps its strongest).
LINES = 1_500

#: Past this many tokens a fallback shows the model view: a head or matrix view of
#: thousands of rows cannot be read at page size, and would take seconds to draw.
MAX_TOKENS = 1024

log = logging.getLogger(__name__)


#: The text/plain line of an output whose picture could not be drawn starts with this.
NO_PICTURE = "(no static picture of this widget:"


def view_for(widget) -> str | None:
    """The view the fallback draws: the one shown, or for a long input what is cheap now.

    A long input's store answers the head, matrix and neuron views from the shown layer;
    its model view needs every layer summarised (minutes at 8,192 tokens x 32 layers), so
    until they are the fallback shows the shown layer's matrix view. Dense attention with
    more keys than :data:`MAX_TOKENS` (cross-attention) shows the model view."""
    data = widget._data
    if summarised(data):
        done, total = data.store.progress()
        return "matrix" if widget.view == "model" and done < total else None
    return "model" if max(data.num_tokens, data.num_keys) > MAX_TOKENS and widget.view != "model" else None


IMAGE_TYPES = ("image/svg+xml", "image/png")


def wanted(include=None, exclude=None) -> bool:
    """Whether the front end's include/exclude lets an image through."""
    if FALLBACK is None:
        return False
    types = [t for t in IMAGE_TYPES if (include is None or t in include) and not (exclude and t in exclude)]
    return bool(types)


def picture_bundle(draw_figure) -> dict[str, str]:
    """``{mime: data}`` of the figure ``draw_figure()`` returns; when it cannot be drawn
    (a fallback must never stop the widget from displaying), ``{"text/plain": why}``, which
    :func:`with_fallback` adds to the output's text."""
    # lazy: keeps matplotlib out of importing this module
    from .files import figure_bytes

    try:
        fig = draw_figure()
        if FALLBACK in ("auto", "svg"):
            svg = figure_bytes(fig, "svg", PNG_DPI)
            if FALLBACK == "svg" or len(svg) <= MAX_SVG_BYTES:
                if len(svg) <= MAX_BYTES:
                    return {"image/svg+xml": svg.decode("utf-8")}
                return _why(f"its SVG is {len(svg):,} bytes, over the {MAX_BYTES:,} kept in a notebook")
        png = small_png(figure_bytes(fig, "png", PNG_DPI))
        if len(png) <= MAX_BYTES:
            return {"image/png": base64.b64encode(png).decode("ascii")}
        return _why(f"its PNG is {len(png):,} bytes, over the {MAX_BYTES:,} kept in a notebook")
    except AttnWidgetError as exc:  # e.g. no head selected, a neuron view without a model
        log.info("attnwidget: no static picture for this output: %s", exc)
        return _why(str(exc))
    except Exception as exc:  # noqa: BLE001 - the live widget matters more than its picture
        log.warning("attnwidget: no static picture for this output (%s: %s)", type(exc).__name__, exc)
        return _why(f"{type(exc).__name__}: {exc}")


def _why(reason: str) -> dict[str, str]:
    return {"text/plain": f"{NO_PICTURE} {reason})"}


def small_png(png: bytes, colours: int = 128) -> bytes:
    """The PNG with a palette of ``colours``: a third of the bytes, the same to the eye."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        dpi = image.info.get("dpi")
        out = io.BytesIO()
        image.convert("RGB").quantize(colors=colours).save(out, "png", optimize=True, **({"dpi": dpi} if dpi else {}))
    return out.getvalue()


def with_fallback(bundle, pictures: dict[str, str]):
    """The widget's mimebundle (a dict or a (data, metadata) pair) with ``pictures`` added
    (a ``text/plain`` note, why there is no picture, goes under the widget's own text)."""
    data, meta = bundle if isinstance(bundle, tuple) else (bundle, None)
    note = pictures.get("text/plain")
    data = {**data, **pictures}
    if note is not None:
        own = (bundle[0] if isinstance(bundle, tuple) else bundle).get("text/plain", "")
        data["text/plain"] = f"{own}\n{note}" if own else note
    return (data, meta) if meta is not None else data


def load_matplotlib() -> None:
    """Import what the static pictures draw with, and fill the font cache (seconds, cold)."""
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.backends.backend_svg
        import matplotlib.figure  # noqa: F401 (loaded for later)

        # lazy: keeps matplotlib out of importing this module
        from .style import text_width

        text_width("warm", 9.0)  # the font cache and glyph metrics
    except Exception as exc:  # noqa: BLE001 - the fallback will say what is wrong, if anything
        log.debug("attnwidget: matplotlib warm-up failed: %s", exc)
