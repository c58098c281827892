"""The key under each view: what every colour and mark means."""

from __future__ import annotations

from .canvas import Canvas
from .style import SMALL_PT, text_width

ROW = 12.0  # points per legend row at the natural size


def legend_rows(entries: list[tuple[str, dict]], width: float) -> list[list[tuple[str, dict]]]:
    """Entries (label, swatch) flowed into rows that fit ``width`` points."""
    rows: list[list] = [[]]
    used = 0.0
    for label, swatch in entries:
        need = 22 + text_width(label, SMALL_PT) + 10
        if rows[-1] and used + need > width:
            rows.append([])
            used = 0.0
        rows[-1].append((label, swatch))
        used += need
    return rows


def legend_height(entries: list[tuple[str, dict]], width: float) -> float:
    return 0.0 if not entries else ROW * len(legend_rows(entries, width)) + 6


def draw_legend(c: Canvas, entries: list[tuple[str, dict]], x0: float, y0: float, width: float, colour: str) -> None:
    """Swatches (``{"line": colour, "dash": bool}`` or ``{"box": colour}``) and their labels."""
    from matplotlib.patches import Rectangle

    y = y0 + ROW / 2 + 3
    for row in legend_rows(entries, width):
        x = x0
        for label, swatch in row:
            if "box" in swatch:
                c.ax.add_artist(
                    Rectangle(
                        (x, y - 4),
                        16,
                        8,
                        facecolor=swatch["box"],
                        edgecolor=swatch.get("edge", "none"),
                        linewidth=c.pt(0.6),
                    )
                )
            else:
                c.ax.plot(
                    [x, x + 16],
                    [y, y],
                    color=swatch["line"],
                    linewidth=c.pt(swatch.get("width", 1.5)),
                    linestyle=(0, (3, 2)) if swatch.get("dash") else "-",
                    solid_capstyle="butt",
                )
            c.text(x + 20, y, label, size=SMALL_PT, colour=colour)
            x += 22 + text_width(label, SMALL_PT) + 10
        y += ROW
