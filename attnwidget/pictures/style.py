"""How the static pictures look: colour-blind-safe colours, fonts, vector text.

Categories (heads, the two parts of an input) take the Okabe-Ito colours; scales take
viridis (attention weights, square-root scaled as in the views) or a blue-white-orange
diverging map (vector components, signed differences). Text stays text in SVG
(``svg.fonttype: none``) and every string is drawn literally (``parse_math=False``), so
a token such as ``$x$`` is not read as mathematics.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

#: Okabe & Ito (2008), "Color Universal Design": distinct under the common colour-vision
#: deficiencies. Black is left out of the head cycle (it is the text colour).
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
HEAD_CYCLE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
#: The sequential scale of attention weights, and the diverging one of signed values.
SEQUENTIAL = "viridis"
SIGNED_ENDS = ("#2166ac", "#d95f02")  # the views' blue / orange, safe for red-green deficiencies
#: Laid out with DejaVu Sans (shipped with matplotlib); an SVG names the generic family after it.
SANS = ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"]
#: Base font size in points at the natural size; the views scale it with the figure.
FONT_PT = 9.0
SMALL_PT = 7.0


@dataclass(frozen=True)
class Palette:
    name: str
    background: str
    foreground: str
    muted: str
    grid: str
    mask: str
    highlight: str
    arc: str
    accent: str


PALETTES = {
    "light": Palette("light", "#ffffff", "#1f2328", "#57606a", "#d0d7de", "#e7e9ec", "#fff3b0", "#57606a", "#0072B2"),
    "dark": Palette("dark", "#1e1e1e", "#e6edf3", "#9198a1", "#3d444d", "#2a2d31", "#5a4b00", "#b0b8c1", "#56B4E9"),
}


def palette(theme: str | None) -> Palette:
    """``"dark"`` or the light palette (``"auto"``: a page or a paper is light)."""
    return PALETTES["dark" if theme == "dark" else "light"]


def head_colours(heads: list[int]) -> dict[int, str]:
    """A colour per drawn head: Okabe-Ito while they last, then evenly spread viridis shades
    (more than seven heads cannot all be told apart by hue alone; the legend names them)."""
    if len(heads) <= len(HEAD_CYCLE):
        return {h: HEAD_CYCLE[k] for k, h in enumerate(heads)}
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps[SEQUENTIAL]
    return {h: to_hex(cmap(0.92 * k / max(1, len(heads) - 1))) for k, h in enumerate(heads)}


@lru_cache(maxsize=4)
def signed_cmap(theme: str = "light"):
    """Blue (negative) - background (zero) - orange (positive), as the neuron view."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        f"attnwidget_signed_{theme}", [SIGNED_ENDS[0], palette(theme).background, SIGNED_ENDS[1]], N=511
    )


def weight_norm(vmax: float = 1.0):
    """The views' square-root scale: equal steps in sqrt(weight) look equal."""
    from matplotlib.colors import PowerNorm

    return PowerNorm(gamma=0.5, vmin=0.0, vmax=max(float(vmax), 1e-9))


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """rcParams of every picture: vector text in SVG, embeddable fonts in PDF, our fonts;
    glyph warnings silenced (a missing glyph draws a box; the SVG keeps the text)."""
    import matplotlib as mpl

    with (
        mpl.rc_context(
            {
                "svg.fonttype": "none",
                "pdf.fonttype": 42,
                "ps.fonttype": 42,
                "font.family": "sans-serif",
                "font.sans-serif": SANS,
                "font.size": FONT_PT,
                "axes.titlesize": FONT_PT + 1,
                "axes.labelsize": FONT_PT,
                "xtick.labelsize": SMALL_PT,
                "ytick.labelsize": SMALL_PT,
                "legend.fontsize": SMALL_PT,
                "svg.hashsalt": "attnwidget",  # the same picture gives the same file
                "image.interpolation": "nearest",
            }
        ),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        warnings.filterwarnings("ignore", message="Matplotlib currently does not support")
        yield


def short_label(text: str, limit: int = 16) -> str:
    """A token as the views label it: newlines and tabs made visible, long ones cut."""
    visible = text.replace("\n", "\u23ce").replace("\t", "\u21e5")
    return visible if len(visible) <= limit else visible[: limit - 1] + "\u2026"


@lru_cache(maxsize=4096)
def text_width(text: str, size: float) -> float:
    """Width of ``text`` in points at ``size`` in our font (laid out without a renderer)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    with drawing():
        prop = FontProperties(family="DejaVu Sans", size=size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return float(width)


def label_width(labels, size: float = FONT_PT) -> float:
    """Width in points of the widest of ``labels``, at least a short token's."""
    return max([20.0] + [text_width(short_label(s), size) for s in labels])
