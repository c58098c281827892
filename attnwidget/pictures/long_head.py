"""The head view of a long input: a window of query rows (``rows=``, else
:data:`long_cells.HEAD_ROWS` around the locked token or from the start) and their
strongest keys, as the browser's scrolling long head view draws them
(js/src/views/long_head_view.ts): keys beside the same rows (or ``cols=``) on the right,
each row's share of its attention the lines cover beside it, and keys before or after the
window gathered above and below it, the strongest named."""

from __future__ import annotations

import numpy as np

from .canvas import new_canvas
from .head import draw_lines
from .legend import draw_legend, legend_height
from .long_cells import head_rows, row_lines, span
from .scene import Scene
from .style import FONT_PT, SMALL_PT, head_colours, label_width, palette, short_label, text_width

ROW_H = 13.0
TITLE_H = 32.0
GAP = 190.0
#: Keys outside the window named in their own row above (or below) it; the rest share one.
NAMED_OUTSIDE = 4


def draw_long_head(scene: Scene, size=None):
    from matplotlib.patches import Rectangle

    pal = palette(scene.theme)
    data = scene.data
    r0, r1 = head_rows(scene.rows, scene.token, data.num_tokens)
    k0, k1 = span(scene.cols, data.num_keys) if scene.cols is not None else (r0, min(r1, data.num_keys))
    lines = row_lines(
        data.store,
        scene.layer,
        scene.heads,
        r0,
        r1,
        scene.prune,
        scene.threshold,
        scene.hide_first,
        scene.renormalise,
    )
    # A locked token isolates its lines: a query's to its keys, a key's from the rows shown.
    unit, role = scene.focus if scene.focus is not None else (None, "query")
    show = np.ones(len(lines.row), bool) if unit is None else (lines.row if role == "query" else lines.col) == unit
    before, after = _outside(lines, show, k0, k1, scene.key_labels)
    band_top, band_bottom = len(before) * ROW_H, len(after) * ROW_H
    query_labels = [f"{short_label(scene.labels[i])}" for i in range(r0, r1)]
    key_labels = [short_label(scene.key_labels[j]) for j in range(k0, k1)]
    label_w = label_width(query_labels + key_labels) + 6
    index_w = text_width(f"{max(r1, k1):,}", SMALL_PT) + 6
    pct_w = text_width("100%", SMALL_PT) + 8
    query_right = 8 + index_w + pct_w + label_w
    key_left = query_right + GAP
    width = max(
        key_left + label_w + index_w + 12, 24 + 1.05 * text_width(_subtitle(scene, r0, r1, k0, k1, lines), SMALL_PT)
    )
    colours = head_colours(scene.heads)
    entries = [(f"head {h}", {"line": colour, "width": 2.0}) for h, colour in colours.items()]
    entries.append(
        (f"% = share of the row's attention its lines cover (of its {lines.top_k} strongest keys)", {"box": "none"})
    )
    top = TITLE_H + 6 + band_top
    body = max(r1 - r0, k1 - k0) * ROW_H
    height = top + body + band_bottom + 10 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    c.text(8, 10, scene.title(), size=FONT_PT, colour=pal.foreground, weight="bold")
    c.text(8, 24, _subtitle(scene, r0, r1, k0, k1, lines), size=SMALL_PT, colour=pal.muted)

    def y_row(i):
        return top + (np.asarray(i) - r0 + 0.5) * ROW_H

    # A key's place: its row in the window, or its row in the band above / below.
    yb = np.full(len(lines.col), np.nan)
    inside = (lines.col >= k0) & (lines.col < k1)
    yb[inside] = top + (lines.col[inside] - k0 + 0.5) * ROW_H
    band_y = []
    for band, y0 in ((before, TITLE_H + 6), (after, top + body)):
        for slot, (keys, text) in enumerate(band):
            y = y0 + (slot + 0.5) * ROW_H
            yb[np.isin(lines.col, keys)] = y
            band_y.append((y, text))
    ok = show & ~np.isnan(yb)
    if unit is not None and role == "query" and r0 <= unit < r1:
        box = (query_right - label_w - 2, float(y_row(unit)) - ROW_H / 2)
    elif unit is not None and role == "key" and k0 <= unit < k1:
        box = (key_left - 2, top + (unit - k0) * ROW_H)
    else:
        box = None
    if box is not None:
        c.ax.add_artist(Rectangle(box, label_w + 4, ROW_H, color=pal.highlight, zorder=1))
    draw_lines(c, scene, lines, ok, y_row(lines.row), yb, query_right + 4, key_left - 4, colours, pal)
    for i in range(r0, r1):
        y = float(y_row(i))
        c.text(8 + index_w - 6, y, f"{i:,}", size=SMALL_PT, colour=pal.muted, ha="right")
        c.text(8 + index_w + pct_w - 6, y, f"{lines.covered[i - r0]:.0%}", size=SMALL_PT, colour=pal.muted, ha="right")
        c.text(query_right, y, query_labels[i - r0], size=FONT_PT, colour=pal.foreground, ha="right")
    for j in range(k0, k1):
        y = top + (j - k0 + 0.5) * ROW_H
        c.text(key_left, y, key_labels[j - k0], size=FONT_PT, colour=pal.foreground)
        c.text(key_left + label_w, y, f"{j:,}", size=SMALL_PT, colour=pal.muted)
    for y, text in band_y:
        c.text(key_left, y, text, size=SMALL_PT, colour=pal.muted)
    if before:
        c.ax.plot([key_left - 4, width - 8], [top - 2] * 2, color=pal.grid, lw=c.pt(0.6), ls=(0, (3, 2)))
    if after:
        c.ax.plot([key_left - 4, width - 8], [top + body + 2] * 2, color=pal.grid, lw=c.pt(0.6), ls=(0, (3, 2)))
    draw_legend(c, entries, 8, top + body + band_bottom + 10, width - 16, pal.foreground)
    return c.fig


def _outside(lines, show, k0: int, k1: int, labels: list[str]):
    """The band rows above and below the keys shown, as (keys, text): the
    :data:`NAMED_OUTSIDE` keys that draw the most weight from the window, each named, in
    key order, then one row for the others."""
    bands = []
    for side, arrow, where in ((lines.col < k0, "\u2191", "earlier"), (lines.col >= k1, "\u2193", "later")):
        pick = show & side
        keys, inverse = np.unique(lines.col[pick], return_inverse=True)
        mass = np.bincount(inverse, weights=lines.weight[pick], minlength=len(keys))
        named = np.sort(keys[np.argsort(-mass, kind="stable")[:NAMED_OUTSIDE]])
        band = [([int(j)], f"{arrow} {short_label(labels[j])} {j:,}") for j in named.tolist()]
        rest = np.setdiff1d(keys, named)
        if len(rest):
            band.append((rest, f"{arrow} {len(rest)} other {where} key{'s' if len(rest) > 1 else ''}"))
        bands.append(band)
    return bands[0], bands[1]


def _subtitle(scene: Scene, r0: int, r1: int, k0: int, k1: int, lines) -> str:
    n = scene.data.num_tokens
    keys = "" if (k0, k1) == (r0, r1) else f" \u00b7 keys {k0:,}\u2013{k1 - 1:,}"
    notes = [
        f"queries {r0:,}\u2013{r1 - 1:,} of {n:,}{keys}",
        f"each row's strongest keys until {scene.prune:.0%} of its attention",
    ]
    if lines.short:
        notes.append(
            f"{lines.short} row\u00d7head{'s' if lines.short > 1 else ''} fall short of it in {lines.top_k} keys"
        )
    if scene.hide_first:
        notes.append("first token left out" + (", rows renormalised" if scene.renormalise else ""))
    if scene.word_level_dropped:
        notes.append("word level is not available past 1,024 tokens: token level shown")
    return " \u00b7 ".join(notes)
