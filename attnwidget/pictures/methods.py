"""The picture methods of the widgets: ``figure``, ``save_png``, ``save_svg`` and the static
fallback in their notebook output. Mixins, listed before ``anywidget.AnyWidget``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from attnwidget.keywords import checked_keywords

from .files import DEFAULT_DPI


def _options(given: dict) -> dict:
    """A picture method's arguments (its ``locals()``) as :func:`draw`'s keywords."""
    return {name: value for name, value in given.items() if name not in ("self", "path", "dpi")}


class AttentionPictures:
    """Pictures of an AttentionWidget's views, drawn in the kernel with matplotlib."""

    @checked_keywords
    def figure(
        self,
        view: str | None = None,
        *,
        layer: int | None = None,
        heads: Any = None,
        token: int | None = None,
        theme: str | None = None,
        width_in: float | None = None,
        height_in: float | None = None,
        rows: tuple[int, int] | None = None,
        cols: tuple[int, int] | None = None,
    ):
        """A matplotlib Figure of ``view`` (default: the one shown) as the widget shows it now.

        Follows the widget's state (layer, heads, level, hide_first, threshold, prune, the
        locked token, a pair's block, a generation step) unless ``layer``, ``heads``,
        ``token`` or ``theme`` say otherwise. Size: what the text needs at 9 pt, or
        ``width_in`` / ``height_in`` inches (one given, the other keeps the aspect).
        ``rows`` / ``cols``: ``(start, stop)`` of the query / key tokens drawn (a region of
        the matrix view, the head view's rows and keys, the neuron view's keys). A long
        input (past 1,024 tokens) is drawn from the widget's store: the matrix view's
        max-pooled overview, or exact cells of a region; the head view's 40 rows around
        the locked token (or from the start) with each row's strongest keys.
        Head colours are Okabe-Ito (viridis shades past seven heads); weights use viridis
        on the views' square-root scale; vector components a blue-orange diverging scale.
        """
        options = _options(locals())
        # lazy: keeps matplotlib out of importing the widgets
        from . import draw

        return draw(self, **options)

    @checked_keywords
    def save_png(
        self,
        path: str | Path,
        view: str | None = None,
        *,
        layer: int | None = None,
        heads: Any = None,
        token: int | None = None,
        theme: str | None = None,
        width_in: float | None = None,
        height_in: float | None = None,
        rows: tuple[int, int] | None = None,
        cols: tuple[int, int] | None = None,
        dpi: float = DEFAULT_DPI,
    ) -> Path:
        """Write :meth:`figure` as a PNG of ``width_in x height_in`` inches at ``dpi`` (default
        300), replacing ``path`` whole; returns the path (``.png`` added when it has no suffix)."""
        options = _options(locals())
        # lazy: keeps matplotlib out of importing the widgets
        from . import save

        return save(self, path, "png", dpi=dpi, **options)

    @checked_keywords
    def save_svg(
        self,
        path: str | Path,
        view: str | None = None,
        *,
        layer: int | None = None,
        heads: Any = None,
        token: int | None = None,
        theme: str | None = None,
        width_in: float | None = None,
        height_in: float | None = None,
        rows: tuple[int, int] | None = None,
        cols: tuple[int, int] | None = None,
        dpi: float = DEFAULT_DPI,
    ) -> Path:
        """Write :meth:`figure` as an SVG (text stays text: tokens are ``<text>`` elements, in
        DejaVu Sans or the reader's sans-serif); ``dpi`` sets the resolution of the heat maps
        inside. Replaces ``path`` whole; returns the path."""
        options = _options(locals())
        # lazy: keeps matplotlib out of importing the widgets
        from . import save

        return save(self, path, "svg", dpi=dpi, **options)

    def _repr_mimebundle_(self, **kwargs):
        # lazy: keeps matplotlib out of importing the widgets
        from . import draw, fallback

        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self.closed or not fallback.wanted(kwargs.get("include"), kwargs.get("exclude")):
            return bundle
        pictures = fallback.picture_bundle(
            lambda: draw(self, fallback.view_for(self), fit_in=fallback.FIT_IN, line_budget=fallback.LINES)
        )
        return fallback.with_fallback(bundle, pictures)


class GridPictures:
    """Pictures of a HeadExplorer's grid."""

    @checked_keywords
    def figure(self, *, width_in: float | None = None, height_in: float | None = None):
        """A matplotlib Figure of the grid as shown now (metric, key, mode, selected head)."""
        # lazy: keeps matplotlib out of importing the widgets
        from .canvas import Size

        # lazy: keeps matplotlib out of importing the widgets
        from .grid import draw_grid

        # lazy: keeps matplotlib out of importing the widgets
        from .style import drawing

        with drawing():
            return draw_grid(self, Size(width_in, height_in))

    @checked_keywords
    def save_png(
        self,
        path: str | Path,
        *,
        width_in: float | None = None,
        height_in: float | None = None,
        dpi: float = DEFAULT_DPI,
    ) -> Path:
        """Write :meth:`figure` as a PNG at ``dpi``, replacing ``path`` whole."""
        return self._save_grid(path, "png", width_in, height_in, dpi)

    @checked_keywords
    def save_svg(
        self,
        path: str | Path,
        *,
        width_in: float | None = None,
        height_in: float | None = None,
        dpi: float = DEFAULT_DPI,
    ) -> Path:
        """Write :meth:`figure` as an SVG with text as text, replacing ``path`` whole."""
        return self._save_grid(path, "svg", width_in, height_in, dpi)

    def _save_grid(self, path, fmt, width_in, height_in, dpi) -> Path:
        # lazy: keeps matplotlib out of importing the widgets
        from .files import check_dpi, save_figure, target_path

        check_dpi(dpi)
        target_path(path, fmt)
        return save_figure(self.figure(width_in=width_in, height_in=height_in), path, fmt, dpi)

    def _repr_mimebundle_(self, **kwargs):
        # lazy: keeps matplotlib out of importing the widgets
        from . import fallback

        # lazy: keeps matplotlib out of importing the widgets
        from .canvas import Size

        # lazy: keeps matplotlib out of importing the widgets
        from .grid import draw_grid

        # lazy: keeps matplotlib out of importing the widgets
        from .style import drawing

        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self.closed or not fallback.wanted(kwargs.get("include"), kwargs.get("exclude")):
            return bundle

        def picture():
            with drawing():
                return draw_grid(self, Size(fit_in=fallback.FIT_IN))

        return fallback.with_fallback(bundle, fallback.picture_bundle(picture))
