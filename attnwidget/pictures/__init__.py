"""Static pictures of the views, drawn with matplotlib in the kernel (no browser).

``draw(widget, view=...)`` returns a matplotlib Figure of the head, model, matrix or
neuron view as the widget shows it now (or with the layer, heads, token... given);
``save(widget, path, fmt, ...)`` writes it as PNG, SVG or PDF. The widget's
``save_png``/``save_svg``/``figure`` methods and its static fallback in notebooks use these.
Modules: ``scene`` (what the views draw: the browser's transforms, filters and pruning in
numpy), ``head``, ``matrix``, ``model``, ``neuron`` (one view each), ``arcs`` and
``legend`` (shared marks), ``canvas`` (a figure laid out in points at any size),
``style`` (colour-blind-safe palettes, fonts, vector text), ``files`` (formats, dpi,
atomic writes), ``grid`` (the HeadExplorer's grid), ``fallback`` (the picture in notebook
outputs), ``methods`` (the widgets' ``figure``/``save_png``/``save_svg``). The corpus
figures (``attnwidget.corpus.plots``) use ``style`` and ``files``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnwidget.errors import AttnWidgetError

from .files import DEFAULT_DPI, save_figure
from .style import drawing

VIEWS = ("head", "model", "matrix", "neuron")


def draw(
    widget: Any,
    view: str | None = None,
    *,
    layer: int | None = None,
    heads: Any = None,
    token: int | None = None,
    theme: str | None = None,
    width_in: float | None = None,
    height_in: float | None = None,
    fit_in: tuple[float, float] | None = None,
    line_budget: int | None = None,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
):
    """A matplotlib Figure of ``view`` (default: the widget's) as the widget shows it.

    ``layer``, ``heads``, ``token``, ``theme``: instead of the widget's. ``rows`` /
    ``cols``: ``(start, stop)`` of the query / key tokens (units) drawn: a region of the
    matrix view, the head view's window of rows (and of keys), the neuron view's keys.
    A long input (past 1,024 tokens) is drawn from the widget's store: the matrix view's
    overview or exact tiles of a region, the head view's rows (default: 40 around the
    locked token, or from the start), the model view's thumbnails. ``width_in`` /
    ``height_in``: the size in inches (default: what the text needs at 9 pt; one given,
    the other keeps the aspect). ``fit_in``: shrink the natural size into this box.
    ``line_budget``: most lines the head view draws (each row keeps its strongest).
    """
    # lazy: keeps matplotlib and the drawing code out of importing this module
    from .canvas import Size

    # lazy: keeps matplotlib and the drawing code out of importing this module
    from .scene import scene_of

    widget._check_open()
    size = Size(width_in, height_in, fit_in)
    overrides = _checked(widget, view, layer, heads, token, theme)
    overrides.update(_region(widget, overrides.get("view", widget.view), rows, cols))
    with drawing():
        scene = scene_of(widget, **overrides)
        if scene.view == "head" and scene.long:
            # lazy: keeps matplotlib and the drawing code out of importing this module
            from .long_head import draw_long_head

            return draw_long_head(scene, size)
        if scene.view == "matrix" and scene.long:
            # lazy: keeps matplotlib and the drawing code out of importing this module
            from .long_matrix import draw_long_matrix

            return draw_long_matrix(scene, size)
        if scene.view == "head":
            # lazy: keeps matplotlib and the drawing code out of importing this module
            from .head import draw_head

            return draw_head(scene, size, line_budget=line_budget)
        if scene.view == "matrix":
            # lazy: keeps matplotlib and the drawing code out of importing this module
            from .matrix import draw_matrix

            return draw_matrix(scene, size)
        if scene.view == "model":
            # lazy: keeps matplotlib and the drawing code out of importing this module
            from .model import draw_model

            return draw_model(scene, size)
        # lazy: keeps matplotlib and the drawing code out of importing this module
        from .long_cells import neuron_keys

        # lazy: keeps matplotlib and the drawing code out of importing this module
        from .neuron import draw_neuron, neuron_token

        head = scene.heads[0] if scene.heads else 0
        vectors = widget.neuron(scene.layer, head, neuron_token(scene))
        keys, note = neuron_keys(vectors["weights"], scene.cols, scene.long)
        return draw_neuron(scene, vectors, size, keys_shown=keys, note=note)


def save(widget: Any, path: str | Path, fmt: str, *, dpi: float = DEFAULT_DPI, **options: Any) -> Path:
    """Write :func:`draw`'s figure to ``path`` as ``fmt`` (``"png"``, ``"svg"``, ``"pdf"``), atomically."""
    # lazy: keeps matplotlib and the drawing code out of importing this module
    from .files import check_dpi, target_path

    check_dpi(dpi)
    target_path(path, fmt)  # a bad path fails before the drawing
    fig = draw(widget, **options)
    return save_figure(fig, path, fmt, dpi)


def _region(widget: Any, view: str, rows, cols) -> dict:
    """``rows`` / ``cols`` checked: ``(start, stop)`` of the tokens (units) the view has."""
    out = {}
    data = widget._data
    for name, value, total in (("rows", rows, data.num_tokens), ("cols", cols, data.num_keys)):
        if value is None:
            continue
        if view == "model" or (view == "neuron" and name == "rows"):
            shown = "every head of every layer" if view == "model" else "one query (token=)"
            raise AttnWidgetError(
                f"{name}= picks tokens of the head, matrix or neuron view; the {view} view shows {shown}"
            )
        ok = (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        )
        if not ok or not 0 <= value[0] < value[1] <= total:
            raise AttnWidgetError(
                f"{name} must be a (start, stop) pair of token positions with 0 <= start < stop <= {total}, "
                f"not {value!r}"
            )
        out[name] = (int(value[0]), int(value[1]))
    return out


def _checked(widget: Any, view, layer, heads, token, theme) -> dict:
    """The asked state, checked as the widget checks its traits (same messages)."""
    import traitlets

    out: dict[str, Any] = {}
    try:
        if view is not None:
            out["view"] = widget.traits()["view"].validate(widget, view)  # the trait's own check and message
        if layer is not None:
            if isinstance(layer, bool) or not isinstance(layer, int):
                raise AttnWidgetError(f"layer must be an int, not {layer!r}")
            out["layer"] = widget._check_layer({"value": layer})
        if heads is not None:
            if isinstance(heads, int) and not isinstance(heads, bool):
                heads = [heads]
            if isinstance(heads, (str, bytes)) or not all(
                isinstance(h, int) and not isinstance(h, bool) for h in heads
            ):
                raise AttnWidgetError(f"heads must be an int or a list of ints, not {heads!r}")
            out["heads"] = widget._check_heads({"value": list(heads)})
        if token is not None:
            if isinstance(token, bool) or not isinstance(token, int):
                raise AttnWidgetError(f"token must be an int, not {token!r}")
            out["token"] = widget._check_token({"value": token})
        if theme is not None:
            out["theme"] = widget.traits()["theme"].validate(widget, theme)
    except traitlets.TraitError as err:
        raise AttnWidgetError(str(err)) from None
    view = out.get("view", widget.view)
    if view in ("head", "matrix", "neuron") and not out.get("heads", widget.heads):
        raise AttnWidgetError(f"the {view} view draws the selected heads, and none is selected: pass heads=[...]")
    if view == "neuron" and widget._input is None:
        # lazy: keeps matplotlib and the drawing code out of importing this module
        from attnwidget.widget.attention_widget import NEEDS_MODEL

        raise AttnWidgetError(NEEDS_MODEL)
    return out
