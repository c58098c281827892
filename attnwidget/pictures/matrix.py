"""The matrix view: one head (or the selected heads' mean) as a heat map, query units
down the side and key units along the top, on the views' square-root scale with a colour
bar; the causal mask shaded; with syntax, UPOS beside the labels, dependency arcs over
the key axis and the cells of related pairs outlined."""

from __future__ import annotations

import numpy as np

from .arcs import LabelPlacer, arc_depth, arc_path
from .canvas import new_canvas
from .legend import draw_legend, legend_height
from .scene import Scene
from .style import (
    FONT_PT,
    SEQUENTIAL,
    SMALL_PT,
    label_width,
    palette,
    short_label,
    text_width,
    weight_norm,
)

TITLE_H = 20.0
BAR_W = 64.0  # the colour bar and its labels
MAX_CELLS = 1024  # heat-map cells a side; longer inputs are block-max pooled


def block_max(values: np.ndarray, pool: int) -> np.ndarray:
    """Maxima of ``pool`` x ``pool`` blocks (the edge padded): a one-token line stays visible."""
    n, m = values.shape
    padded = np.zeros((-(-n // pool) * pool, -(-m // pool) * pool), dtype=values.dtype)
    padded[:n, :m] = values
    return padded.reshape(padded.shape[0] // pool, pool, padded.shape[1] // pool, pool).max(axis=(1, 3))


def draw_matrix(scene: Scene, size=None):
    from matplotlib import colormaps

    pal = palette(scene.theme)
    R, C = scene.row_axis.units, scene.col_axis.units
    n, m = len(R), len(C)
    label_w = label_width([scene.labels[u] for u in R] + [scene.key_labels[u] for u in C]) + 6
    cell = float(min(18.0, 440.0 / max(1, n, m)))  # the heat map stays about 6 in across
    step = max(1, int(np.ceil(10 / cell)))  # every step-th label when cells are smaller than text
    upos_w = 28.0 if scene.has_syntax else 0.0
    arcs_h = 56.0 if scene.has_syntax else 0.0
    left = label_w + upos_w + 12
    top = TITLE_H + arcs_h + label_w + upos_w + 10
    width = left + m * cell + 16 + BAR_W
    entries = _legend(scene, pal)
    height = top + n * cell + 10 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    c.text(8, TITLE_H / 2, _title(scene), size=FONT_PT, colour=pal.foreground, weight="bold")

    values = scene.values()[np.ix_(R, C)]
    masked = np.zeros((n, m), dtype=bool)
    if scene.causal:
        masked |= C[None, :] > R[:, None]
    if scene.rows_on is not None:
        masked |= ~scene.rows_on[R][:, None]
    if scene.cols_on is not None:
        masked |= ~scene.cols_on[C][None, :]
    pool = -(-max(n, m) // MAX_CELLS)
    if pool > 1:  # thousands of tokens: block maxima, as the model view's thumbnails
        values, masked = block_max(np.where(masked, 0.0, values), pool), ~block_max(~masked, pool)
    cmap = colormaps[SEQUENTIAL].with_extremes(bad=pal.mask)
    norm = weight_norm(1.0)
    image = c.ax.imshow(
        np.ma.masked_array(values, masked),
        cmap=cmap,
        norm=norm,
        interpolation="nearest",
        extent=(left, left + m * cell, top + n * cell, top),
        aspect="auto",
        zorder=1,
    )
    c.ax.add_artist(_rect(left - 0.5, top - 0.5, m * cell + 1, n * cell + 1, pal.grid, c.pt(0.6)))
    for at, horizontal in ((scene.row_axis.split, True), (scene.col_axis.split, False)):
        if at is not None:  # where the second part starts
            xs, ys = (
                ([left - 4, left + m * cell], [top + at * cell] * 2)
                if horizontal
                else ([left + at * cell] * 2, [top - 4, top + n * cell])
            )
            c.ax.plot(xs, ys, color=pal.foreground, linewidth=c.pt(1.0), linestyle=(0, (4, 2.5)), zorder=3)
    if scene.has_syntax and cell >= 4:
        rel = scene.related(R[:, None], C[None, :])
        if scene.causal:
            rel &= C[None, :] <= R[:, None]
        from matplotlib.collections import PatchCollection

        boxes = [
            _rect(left + j * cell + 0.5, top + i * cell + 0.5, cell - 1, cell - 1) for i, j in zip(*np.nonzero(rel))
        ]
        if boxes:
            c.ax.add_collection(
                PatchCollection(boxes, facecolor="none", edgecolor=pal.foreground, linewidth=c.pt(0.7), zorder=3)
            )
    if scene.focus is not None:
        unit, role = scene.focus
        at = (scene.row_axis if role == "query" else scene.col_axis).pos[unit]
        box = (
            _rect(left, top + at * cell, m * cell, cell)
            if role == "query"
            else _rect(left + at * cell, top, cell, n * cell)
        )
        box.set(edgecolor=pal.foreground, linewidth=c.pt(1.5), zorder=4)
        c.ax.add_artist(box)

    def colour(u, on):
        if on is not None and not on[u]:
            return pal.muted
        return pal.accent if scene.split is not None and u >= scene.split else pal.foreground

    label_pt = min(FONT_PT, max(5.0, cell * 0.8 * step))
    for i in range(0, n, step):
        u = int(R[i])
        y = top + (i + 0.5) * cell
        c.text(left - 5, y, short_label(scene.labels[u]), size=label_pt, colour=colour(u, scene.rows_on), ha="right")
        if scene.upos and scene.upos[u]:
            c.text(left - 9 - label_w, y, scene.upos[u], size=SMALL_PT, colour=pal.muted, ha="right")
    for j in range(0, m, step):
        v = int(C[j])
        x = left + (j + 0.5) * cell
        c.text(
            x,
            top - 5,
            short_label(scene.key_labels[v]),
            size=label_pt,
            colour=colour(v, scene.cols_on),
            ha="center",
            va="bottom",
            rotation=90,
        )
        if scene.upos and scene.data.key_tokens is None and scene.upos[v]:
            c.text(
                x,
                top - 9 - label_w,
                scene.upos[v],
                size=SMALL_PT,
                colour=pal.muted,
                ha="center",
                va="bottom",
                rotation=90,
            )
    if scene.has_syntax and scene.data.key_tokens is None:
        _arcs(c, scene, left, TITLE_H + arcs_h, cell, arcs_h, pal)
    bar = c.fig.add_axes(c.fraction(left + m * cell + 16, top, 9, min(n * cell, 200)))
    cb = c.fig.colorbar(image, cax=bar)
    cb.set_ticks([0, 0.01, 0.1, 0.25, 0.5, 1.0])
    cb.ax.tick_params(labelsize=c.pt(SMALL_PT), colors=pal.foreground, width=c.pt(0.5), length=c.pt(2))
    cb.outline.set_linewidth(c.pt(0.5))
    pooled = f", max of {pool}\u00d7{pool} per cell" if pool > 1 else ""
    cb.set_label(f"attention weight (\u221a scale{pooled})", fontsize=c.pt(SMALL_PT), color=pal.foreground)
    draw_legend(c, entries, 8, top + n * cell + 10, width - 16, pal.foreground)
    return c.fig


def _title(scene: Scene) -> str:
    title = scene.title()
    return (
        title.replace("· heads", "· mean of heads").replace("· all", "· mean of all") if len(scene.heads) > 1 else title
    )


def _legend(scene: Scene, pal) -> list[tuple[str, dict]]:
    entries = []
    if scene.causal:
        entries.append(("causal mask (not visible to the query)", {"box": pal.mask, "edge": pal.grid}))
    elif scene.rows_on is not None or scene.cols_on is not None:
        entries.append(("outside the rows and columns shown", {"box": pal.mask, "edge": pal.grid}))
    if scene.has_syntax:
        entries.append(("outlined: the pair is a dependency", {"box": "none", "edge": pal.foreground}))
    if scene.split is not None:
        entries.append((f"{scene.data.split['names'][1]} tokens", {"box": pal.accent}))
    return entries


def _rect(x, y, w, h, edge="none", lw=1.0):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor="none", edgecolor=edge, linewidth=lw)


def _arcs(c, scene: Scene, left: float, base: float, cell: float, arcs_h: float, pal) -> None:
    from matplotlib.patches import PathPatch

    pos = scene.col_axis.pos
    curves = []
    placer = LabelPlacer("y", 8)
    for dependent, head, label in scene.arcs:
        d, h = pos[dependent], pos[head]
        if d < 0 or h < 0:
            continue
        xa, xb = left + (d + 0.5) * cell, left + (h + 0.5) * cell
        depth = arc_depth(d - h, arcs_h - 8)
        curves.append((xb, base, (xa + xb) / 2, base - 2 * depth, xa, base))
        if cell >= 9:
            w = text_width(label, SMALL_PT - 1)
            shift = placer.place((xa + xb) / 2 - w / 2, base - depth - 9, w, 8)
            if shift is not None:
                c.text((xa + xb) / 2, base - depth - 5 + shift, label, size=SMALL_PT - 1, colour=pal.muted, ha="center")
    path = arc_path(curves)
    if path is not None:
        c.ax.add_artist(
            PathPatch(path, facecolor="none", edgecolor=pal.arc, linewidth=c.pt(0.7), gid="dependency-arcs")
        )
