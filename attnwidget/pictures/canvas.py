"""A figure laid out in points, as the views lay out pixels, at any size asked.

Each view computes its natural size (what its text needs at :data:`style.FONT_PT`) and
draws on one full-figure axes whose data units are those points, y growing downwards.
Asked for another size, the drawing stretches to fill it and the text scales with the
tighter direction, so labels never overlap their rows. No pyplot: figures are made and
written without a GUI backend or global state.
"""

from __future__ import annotations

from dataclasses import dataclass

from attnwidget.errors import AttnWidgetError

#: Agg cannot raster more pixels than this along a side.
MAX_PIXELS = 65_000


@dataclass
class Canvas:
    fig: object
    ax: object
    width: float  # natural width in points (the data units)
    height: float
    scale: float  # text and line scale: figure size over natural size

    def pt(self, size: float) -> float:
        """A font size or line width at the natural size, at the figure's size."""
        return size * self.scale

    def text(self, x, y, s, *, size, colour, ha="left", va="center", **kw):
        """Literal text (no mathtext) at data point (x, y)."""
        return self.ax.text(
            x, y, s, fontsize=self.pt(size), color=colour, ha=ha, va=va, parse_math=False, clip_on=False, **kw
        )

    def fraction(self, x: float, y: float, w: float, h: float) -> list[float]:
        """A rectangle in points (top-left x, y) as a figure fraction, for an inset axes."""
        return [x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height]


@dataclass(frozen=True)
class Size:
    """The size asked for: ``width_in`` / ``height_in`` in inches (None: from the content;
    one given: the other keeps the aspect), or ``fit_in`` (w, h): the natural size shrunk
    to fit that box (notebook fallbacks)."""

    width_in: float | None = None
    height_in: float | None = None
    fit_in: tuple[float, float] | None = None

    def __post_init__(self):
        for name in ("width_in", "height_in"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.2 <= value <= 200
            ):
                raise AttnWidgetError(f"{name} is a size in inches between 0.2 and 200, not {value!r}")

    def inches(self, natural_w: float, natural_h: float) -> tuple[float, float]:
        w, h = natural_w / 72.0, natural_h / 72.0
        if self.width_in is not None and self.height_in is not None:
            return float(self.width_in), float(self.height_in)
        if self.width_in is not None:
            return float(self.width_in), h * self.width_in / w
        if self.height_in is not None:
            return w * self.height_in / h, float(self.height_in)
        if self.fit_in is not None:
            shrink = min(1.0, self.fit_in[0] / w, self.fit_in[1] / h)
            return w * shrink, h * shrink
        return w, h


def new_canvas(natural_w: float, natural_h: float, background: str, size: Size | None = None) -> Canvas:
    from matplotlib.figure import Figure

    w_in, h_in = (size or Size()).inches(natural_w, natural_h)
    fig = Figure(figsize=(w_in, h_in), facecolor=background)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, natural_w)
    ax.set_ylim(natural_h, 0)
    ax.set_axis_off()
    ax.set_facecolor(background)
    scale = min(w_in * 72.0 / natural_w, h_in * 72.0 / natural_h)
    return Canvas(fig, ax, natural_w, natural_h, scale)


def check_pixels(fig, dpi: float) -> None:
    """A clear error before Agg fails on a picture too large to raster."""
    w, h = fig.get_size_inches()
    if max(w, h) * dpi > MAX_PIXELS:
        raise AttnWidgetError(
            f"a {w:.1f} x {h:.1f} in picture at {dpi:g} dpi is {max(w, h) * dpi:,.0f} pixels along a side, "
            f"more than a PNG can be drawn with ({MAX_PIXELS:,}); lower dpi=, give width_in=/height_in=, "
            "use save_svg (vector, no limit), or show fewer tokens (window=, a pair's block, level='word')"
        )
