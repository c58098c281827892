"""The matrix view of a long input: the whole matrix from the layer's max-pooled overview,
or a region (``rows=`` / ``cols=``) from exact tiles, as the browser's zoomable long matrix
view draws it (js/src/views/long_matrix_view.ts). Tokens per cell are said on the colour
bar and under the title; token labels appear once a cell is one token and tall enough
to read, token positions otherwise."""

from __future__ import annotations

import numpy as np

from .canvas import new_canvas
from .legend import draw_legend, legend_height
from .long_cells import Cells, matrix_cells
from .scene import Scene
from .style import FONT_PT, SEQUENTIAL, SMALL_PT, palette, short_label, text_width, weight_norm

TITLE_H = 32.0  # the title and the line saying what the cells are
BAR_W = 64.0
PLOT = 440.0  # the heat map's longer side, in points (as the short matrix picture)
MAX_CELL = 18.0
LABEL_CELL = 7.0  # points a one-token cell needs for its label


def draw_long_matrix(scene: Scene, size=None):
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    pal = palette(scene.theme)
    store = scene.data.store
    cells = matrix_cells(store, scene.layer, scene.heads, scene.rows, scene.cols, scene.hide_first, scene.renormalise)
    ny, nx = cells.values.shape
    ch, cw = min(MAX_CELL, PLOT / ny), min(MAX_CELL, PLOT / nx)
    row_labels = _axis_labels(scene.labels, cells.r0, cells.ry, ny, ch)
    col_labels = _axis_labels(scene.key_labels, cells.c0, cells.cx, nx, cw)
    left = 12 + max([24.0] + [text_width(t, size) for _, t, size in row_labels]) + 8
    top = TITLE_H + 8 + max([24.0] + [text_width(t, size) for _, t, size in col_labels]) + 8
    width = max(
        left + nx * cw + 16 + BAR_W,
        24 + 1.05 * text_width(_subtitle(scene, cells), SMALL_PT),  # hinted text runs wider at low dpi
        24 + 1.05 * text_width(_title(scene, cells), FONT_PT),
    )
    entries = []
    if scene.causal:
        entries.append(("causal mask (not visible to the query)", {"box": pal.mask, "edge": pal.grid}))
    height = top + ny * ch + 10 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    c.text(8, 10, _title(scene, cells), size=FONT_PT, colour=pal.foreground, weight="bold")
    c.text(8, 24, _subtitle(scene, cells), size=SMALL_PT, colour=pal.muted)

    image = c.ax.imshow(
        np.ma.masked_array(cells.values, cells.masked),
        cmap=colormaps[SEQUENTIAL].with_extremes(bad=pal.mask),
        norm=weight_norm(1.0),
        interpolation="nearest",
        extent=(left, left + nx * cw, top + ny * ch, top),
        aspect="auto",
        zorder=1,
    )
    c.ax.add_artist(
        Rectangle((left - 0.5, top - 0.5), nx * cw + 1, ny * ch + 1, facecolor="none", edgecolor=pal.grid, lw=c.pt(0.6))
    )
    for at, text, pt in row_labels:
        c.text(left - 5, top + at * ch, text, size=pt, colour=pal.foreground, ha="right")
    for at, text, pt in col_labels:
        c.text(left + at * cw, top - 5, text, size=pt, colour=pal.foreground, ha="center", va="bottom", rotation=90)
    if scene.focus is not None:  # the locked token's row (or column), where it is shown
        unit, role = scene.focus
        if role == "query" and cells.r0 <= unit < cells.stop_row:
            box = Rectangle((left, top + (unit - cells.r0) // cells.ry * ch), nx * cw, ch)
        elif role == "key" and cells.c0 <= unit < cells.stop_col:
            box = Rectangle((left + (unit - cells.c0) // cells.cx * cw, top), cw, ny * ch)
        else:
            box = None
        if box is not None:
            box.set(facecolor="none", edgecolor=pal.foreground, linewidth=c.pt(1.5), zorder=4)
            c.ax.add_artist(box)
    bar = c.fig.add_axes(c.fraction(left + nx * cw + 16, top, 9, min(ny * ch, 200)))
    cb = c.fig.colorbar(image, cax=bar)
    cb.set_ticks([0, 0.01, 0.1, 0.25, 0.5, 1.0])
    cb.ax.tick_params(labelsize=c.pt(SMALL_PT), colors=pal.foreground, width=c.pt(0.5), length=c.pt(2))
    cb.outline.set_linewidth(c.pt(0.5))
    cb.set_label(
        f"attention weight (\u221a scale)\n{cells.caption(len(scene.heads))}",
        fontsize=c.pt(SMALL_PT),
        color=pal.foreground,
    )
    draw_legend(c, entries, 8, top + ny * ch + 10, width - 16, pal.foreground)
    return c.fig


def _axis_labels(labels: list[str], start: int, per_cell: int, cells: int, cell: float):
    """(position in cells, text, size): each token and its index once a cell is one token
    and tall enough to read, else token positions at a round step (the browser's ticks)."""
    if per_cell == 1 and cell >= LABEL_CELL:
        pt = min(FONT_PT, cell * 0.8)
        return [
            (k + 0.5, f"{short_label(labels[start + k])} {start + k}", pt)
            for k in range(cells)
            if start + k < len(labels)
        ]
    tokens_per_pt = per_cell / cell
    step = next(s * 10**e for e in range(9) for s in (1, 2, 5) if s * 10**e >= 40 * tokens_per_pt)
    first = -(-start // step) * step
    end = min(len(labels), start + cells * per_cell)
    return [((t - start) / per_cell, str(t), SMALL_PT) for t in range(first, end, step)]


def _title(scene: Scene, cells: Cells) -> str:
    title = scene.title()
    if len(scene.heads) > 1:  # one-token cells are the heads' mean, larger ones their largest
        which = "mean of" if cells.exact else "largest of"
        title = title.replace("· heads", f"· {which} heads").replace("· all", f"· {which} all")
    return title


def _subtitle(scene: Scene, cells: Cells) -> str:
    n, k = scene.data.num_tokens, scene.data.num_keys
    region = f"queries {cells.r0:,}\u2013{cells.stop_row - 1:,} \u00d7 keys {cells.c0:,}\u2013{cells.stop_col - 1:,}"
    if cells.exact:
        what = "1 token per cell (exact)"
    elif cells.ry == cells.cx:
        what = f"{cells.ry} \u00d7 {cells.cx} tokens per cell (each cell: the largest weight of its block)"
    else:
        what = f"{cells.ry} query \u00d7 {cells.cx} key tokens per cell (each cell: the largest weight of its block)"
    notes = [f"{region} of {n:,}" + (f" \u00d7 {k:,}" if k != n else "") + " tokens", what]
    if scene.hide_first:
        notes.append(
            "attention to the first token left out"
            + (", rows renormalised" if cells.from_overview or scene.renormalise else "")
        )
    if scene.word_level_dropped:
        notes.append("word level is not available past 1,024 tokens: token level shown")
    return " \u00b7 ".join(notes)
