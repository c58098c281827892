"""The head view: query units left, key units right, one line per kept weight in its
head's colour (alpha and width grow with sqrt(weight)); with syntax, UPOS beside each
unit, dependency arcs left of the queries, and a dashed overlay on lines along a dependency."""

from __future__ import annotations

import numpy as np

from .arcs import LabelPlacer, arc_depth, arc_path
from .canvas import Canvas, new_canvas
from .legend import draw_legend, legend_height
from .scene import Scene, lines_to_draw
from .style import (
    FONT_PT,
    SMALL_PT,
    head_colours,
    label_width,
    palette,
    short_label,
    text_width,
)

ROW_H = 13.0
TITLE_H = 20.0
GAP = 170.0


def draw_head(scene: Scene, size=None, line_budget: int | None = None):
    pal = palette(scene.theme)
    rows, keys = scene.row_axis, scene.col_axis
    label_w = label_width([scene.labels[u] for u in rows.units] + [scene.key_labels[u] for u in keys.units]) + 6
    arcs_w = 110.0 if scene.has_syntax else 0.0
    upos_w = 30.0 if scene.has_syntax else 0.0
    query_right = 8 + arcs_w + upos_w + label_w
    key_left = query_right + GAP
    width = key_left + label_w + upos_w + 12
    colours = head_colours(scene.heads)
    entries = _legend(scene, colours, pal)
    top = TITLE_H
    body = max(len(rows.units), len(keys.units)) * ROW_H
    height = top + body + 8 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    y_of = lambda i: top + (np.asarray(i) + 0.5) * ROW_H  # noqa: E731 - a short local helper
    c.text(8, TITLE_H / 2, scene.title(), size=FONT_PT, colour=pal.foreground, weight="bold")

    lines = lines_to_draw(scene, **({} if line_budget is None else {"budget": line_budget}))
    rpos, kpos = rows.pos[lines.row], keys.pos[lines.col]
    ok = (rpos >= 0) & (kpos >= 0)
    if scene.focus is not None:
        _focus_boxes(c, scene, lines, query_right, key_left, label_w, y_of, pal)
    draw_lines(c, scene, lines, ok, y_of(rpos), y_of(kpos), query_right + 4, key_left - 4, colours, pal)
    _labels(c, scene, query_right, key_left, label_w, y_of, pal)
    if scene.has_syntax:
        _arcs(c, scene, 8 + arcs_w, y_of, pal)
    draw_legend(c, entries, 8, top + body + 8, width - 16, pal.foreground)
    return c.fig


def _legend(scene: Scene, colours: dict[int, str], pal) -> list[tuple[str, dict]]:
    entries = [(f"head {h}", {"line": colour, "width": 2.0}) for h, colour in colours.items()]
    if scene.has_syntax:
        entries.append(("attention along a dependency (weight \u2265 0.1)", {"line": pal.foreground, "dash": True}))
        entries.append(("dependency arc (head \u2192 dependent)", {"line": pal.arc, "width": 1.0}))
    if scene.split is not None:
        names = scene.data.split["names"]
        entries.append((f"{names[1]} tokens", {"box": pal.accent}))
    return entries


#: Line alphas are drawn in this many steps: the lines of one head and step share one
#: path, so a picture of thousands of lines stays small (one SVG element per step).
ALPHA_STEPS = 16


def draw_lines(c: Canvas, scene: Scene, lines, ok, ya, yb, x1, x2, colours, pal) -> None:
    """Lines ``ok`` of ``lines`` (head, row, col, weight) from (x1, ya) to (x2, yb), one path per head and alpha step."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    if not ok.any():
        return
    w = lines.weight[ok]
    step = np.ceil(np.minimum(1.0, np.sqrt(w)) * ALPHA_STEPS).astype(int)  # 1..ALPHA_STEPS
    heads, ya, yb = lines.head[ok], ya[ok], yb[ok]
    for level in range(1, ALPHA_STEPS + 1):  # faint first, strong on top
        for h in np.unique(heads[step == level]).tolist():
            pick = (step == level) & (heads == h)
            k = int(pick.sum())
            vertices = np.empty((2 * k, 2))
            vertices[0::2, 0], vertices[1::2, 0] = x1, x2
            vertices[0::2, 1], vertices[1::2, 1] = ya[pick], yb[pick]
            alpha = level / ALPHA_STEPS
            c.ax.add_artist(
                PathPatch(
                    Path(vertices, np.tile([Path.MOVETO, Path.LINETO], k)),
                    facecolor="none",
                    edgecolor=colours[h],
                    alpha=alpha,
                    linewidth=c.pt(0.6 + 1.4 * alpha),
                    capstyle="round",
                    zorder=2,
                    gid=f"attention-lines-head{h}-{level}",
                )
            )
    along = (w >= 0.1) & scene.related(lines.row[ok], lines.col[ok])
    if along.any():
        from matplotlib.collections import LineCollection

        segments = np.stack(
            [
                np.stack([np.full(int(along.sum()), x1), ya[along]], 1),
                np.stack([np.full(int(along.sum()), x2), yb[along]], 1),
            ],
            1,
        )
        c.ax.add_collection(
            LineCollection(
                segments,
                colors=pal.foreground,
                alpha=0.9,
                linewidths=c.pt(0.9),
                linestyles=[(0, (3, 2.5))],
                zorder=3,
                gid="dependency-lines",
            )
        )


def _labels(c: Canvas, scene: Scene, query_right, key_left, label_w, y_of, pal) -> None:
    def colour(u, on):
        if on is not None and not on[u]:
            return pal.muted
        return pal.accent if scene.split is not None and u >= scene.split else pal.foreground

    for i, u in enumerate(scene.row_axis.units.tolist()):
        y = float(y_of(i))
        c.text(query_right, y, short_label(scene.labels[u]), size=FONT_PT, colour=colour(u, scene.rows_on), ha="right")
        if scene.upos and scene.upos[u]:
            c.text(query_right - label_w - 4, y, scene.upos[u], size=SMALL_PT, colour=pal.muted, ha="right")
    for i, u in enumerate(scene.col_axis.units.tolist()):
        y = float(y_of(i))
        c.text(key_left, y, short_label(scene.key_labels[u]), size=FONT_PT, colour=colour(u, scene.cols_on), ha="left")
        if scene.upos and scene.data.key_tokens is None and scene.upos[u]:
            c.text(key_left + label_w + 4, y, scene.upos[u], size=SMALL_PT, colour=pal.muted, ha="left")
    for axis, x0, x1 in (
        (scene.row_axis, query_right - label_w, query_right + 2),
        (scene.col_axis, key_left - 2, key_left + label_w),
    ):
        if axis.split is not None:  # where the second part starts
            y = float(y_of(axis.split)) - ROW_H / 2
            c.ax.plot([x0, x1], [y, y], color=pal.foreground, linewidth=c.pt(0.6), linestyle=(0, (4, 3)))


def _focus_boxes(c: Canvas, scene: Scene, lines, query_right, key_left, label_w, y_of, pal) -> None:
    from matplotlib.patches import Rectangle

    unit, role = scene.focus
    own, partners = (scene.row_axis, scene.col_axis) if role == "query" else (scene.col_axis, scene.row_axis)
    at = own.pos[unit]
    own_x = query_right - label_w if role == "query" else key_left
    c.ax.add_artist(
        Rectangle((own_x - 2, float(y_of(at)) - ROW_H / 2), label_w + 4, ROW_H, color=pal.highlight, zorder=1)
    )
    partner_x = key_left if role == "query" else query_right - label_w
    strongest: dict[int, float] = {}
    for r, k, w in zip(lines.row.tolist(), lines.col.tolist(), lines.weight.tolist()):
        p = k if role == "query" else r
        strongest[p] = max(strongest.get(p, 0.0), w)
    pos = partners.pos
    for u, w in strongest.items():
        if pos[u] >= 0:
            c.ax.add_artist(
                Rectangle(
                    (partner_x - 2, float(y_of(pos[u])) - ROW_H / 2),
                    label_w + 4,
                    ROW_H,
                    color=pal.accent,
                    alpha=0.15 + 0.6 * min(1.0, w**0.5),
                    zorder=1,
                    linewidth=0,
                )
            )


def _arcs(c: Canvas, scene: Scene, x0: float, y_of, pal) -> None:
    from matplotlib.patches import PathPatch

    pos = scene.row_axis.pos
    curves, heads = [], []
    placer = LabelPlacer("y", 9)
    for dependent, head, label in scene.arcs:
        d, h = pos[dependent], pos[head]
        if d < 0 or h < 0:  # arcs run beside the query column: both ends must be shown
            continue
        ya, yb = float(y_of(d)), float(y_of(h))
        depth = arc_depth(d - h, x0 - 50)
        curves.append((x0, yb, x0 - 2 * depth, (ya + yb) / 2, x0, ya))
        heads.append([(x0 - 4, ya - 2.5), (x0, ya), (x0 - 4, ya + 2.5)])
        w = text_width(label, SMALL_PT)
        shift = placer.place(x0 - depth - 3 - w, (ya + yb) / 2 - 5, w, 10)
        if shift is not None:
            c.text(x0 - depth - 3, (ya + yb) / 2 + shift, label, size=SMALL_PT, colour=pal.muted, ha="right")
    path = arc_path(curves)
    if path is not None:
        c.ax.add_artist(
            PathPatch(path, facecolor="none", edgecolor=pal.arc, linewidth=c.pt(0.8), gid="dependency-arcs")
        )
        from matplotlib.collections import LineCollection

        c.ax.add_collection(LineCollection(heads, colors=pal.arc, linewidths=c.pt(0.8)))
