"""The neuron view: for one layer, head and query token, the query vector, every key
vector (components coloured by sign and size), the scaled scores q·k and their softmax,
the head's attention row. Vectors come from the model (``AttentionWidget.neuron``)."""

from __future__ import annotations

import numpy as np

from .canvas import new_canvas
from .legend import draw_legend, legend_height
from .scene import Scene
from .style import (
    FONT_PT,
    SIGNED_ENDS,
    SMALL_PT,
    head_colours,
    label_width,
    palette,
    short_label,
    signed_cmap,
    text_width,
)

TITLE_H = 20.0
ROW_H = 11.0
BAR_W = 70.0


def neuron_token(scene: Scene) -> int:
    """The query token the view shows (attention_app.ts): the locked one, the step's row, else
    the last token of a causal model and the first of any other."""
    n = len(scene.labels)
    if scene.token is not None:
        return min(n - 1, scene.token)
    if scene.step_row is not None:
        return scene.step_row
    return n - 1 if scene.causal else 0


def draw_neuron(scene: Scene, vectors: dict, size=None, keys_shown=None, note: str = ""):
    """``keys_shown``: the keys listed, in order (default: every key); ``note`` says which."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    pal = palette(scene.theme)
    keys, query = np.asarray(vectors["keys"]), np.asarray(vectors["query"])
    scores, weights, masked = vectors["scores"], vectors["weights"], np.asarray(vectors["masked"], bool)
    shown = np.arange(keys.shape[0]) if keys_shown is None else np.asarray(keys_shown, dtype=np.int64)
    some = len(shown) < keys.shape[0]  # a choice of keys: each named with its index, gaps marked
    keys, scores, weights, masked = keys[shown], np.asarray(scores)[shown], np.asarray(weights)[shown], masked[shown]
    nk, d = keys.shape
    token = int(vectors["token"])
    key_labels = [short_label(scene.key_labels[j]) + (f" {j}" if some else "") for j in shown.tolist()]
    label_w = max([label_width([scene.labels[token]])] + [text_width(k, FONT_PT) for k in key_labels]) + 6
    cell = float(max(1.5, min(8, 200 / d)))
    keys_x = 8 + label_w + 8
    scores_x = keys_x + d * cell + 16
    weights_x = scores_x + BAR_W + 16
    width = max(weights_x + BAR_W + 40, 16 + text_width(note, SMALL_PT))
    query_y = TITLE_H + 14 + (12 if note else 0)
    top = query_y + ROW_H + 22
    head = int(vectors["head"])
    colour = head_colours([head])[head]
    entries = [
        ("\u2212 component / score", {"box": SIGNED_ENDS[0]}),
        ("+ component / score", {"box": SIGNED_ENDS[1]}),
        ("softmax weight", {"box": colour}),
    ]
    if masked.any():
        entries.append(("masked key (weight 0)", {"box": pal.mask, "edge": pal.grid}))
    height = top + nk * ROW_H + 10 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    kv = f" (key/value head {vectors['kv_head']})" if vectors["kv_head"] != head else ""
    title = (
        f"{scene.data.model_name} · layer {vectors['layer']} · head {head}{kv} · query {token} "
        f"\u201c{short_label(scene.labels[token])}\u201d"
    )
    c.text(8, TITLE_H / 2, title, size=FONT_PT, colour=pal.foreground, weight="bold")
    if note:
        c.text(8, TITLE_H + 4, note, size=SMALL_PT, colour=pal.muted)

    vmax = float(max(np.abs(query).max(initial=0), np.abs(keys).max(initial=0), 1e-12))
    cmap, norm = signed_cmap(pal.name), Normalize(-vmax, vmax)
    c.ax.imshow(
        query[None, :],
        cmap=cmap,
        norm=norm,
        aspect="auto",
        interpolation="nearest",
        extent=(keys_x, keys_x + d * cell, query_y + ROW_H - 2, query_y),
    )
    c.ax.imshow(
        keys,
        cmap=cmap,
        norm=norm,
        aspect="auto",
        interpolation="nearest",
        extent=(keys_x, keys_x + d * cell, top + nk * ROW_H, top),
    )
    c.ax.add_artist(Rectangle((8, query_y), keys_x - 14, ROW_H - 2, color=pal.highlight, linewidth=0))
    c.text(
        keys_x - 6,
        query_y + (ROW_H - 2) / 2,
        short_label(scene.labels[token]),
        size=FONT_PT,
        colour=pal.foreground,
        ha="right",
    )
    c.text(8, query_y - 6, "query q", size=SMALL_PT, colour=pal.muted)
    bias = " + bias" if np.any(vectors.get("bias", 0)) else ""
    for x, text in (
        (keys_x, f"keys k_j (d = {d})"),
        (scores_x, f"q\u00b7k \u00d7 {vectors['scale']:.3g}{bias}"),
        (weights_x, "softmax"),
    ):
        c.text(x, top - 7, text, size=SMALL_PT, colour=pal.muted)
    top_score = float(np.abs(np.where(masked, 0, scores)).max(initial=0)) or 1.0
    centre = scores_x + BAR_W / 2
    self_attention = scene.data.key_tokens is None
    for j in range(nk):
        y = top + j * ROW_H
        mid = y + ROW_H / 2
        if self_attention and shown[j] == token:
            c.ax.add_artist(Rectangle((8, y), keys_x - 14, ROW_H - 1, color=pal.highlight, linewidth=0))
        second = scene.split is not None and shown[j] >= scene.split and self_attention
        if some and j and shown[j] - shown[j - 1] > 1:  # keys left out between these two
            c.ax.plot([8, width - 8], [y, y], color=pal.grid, linewidth=c.pt(0.6), linestyle=(0, (2, 2)))
        c.text(
            keys_x - 6,
            mid,
            key_labels[j],
            size=FONT_PT - 1,
            colour=pal.muted if masked[j] else pal.accent if second else pal.foreground,
            ha="right",
        )
        if masked[j]:
            c.ax.add_artist(Rectangle((keys_x, y), d * cell, ROW_H, color=pal.mask, alpha=0.8, linewidth=0))
            c.text(centre, mid, "masked", size=SMALL_PT - 1, colour=pal.muted, ha="center")
        else:
            length = abs(float(scores[j])) / top_score * BAR_W / 2
            c.ax.add_artist(
                Rectangle(
                    (centre - length if scores[j] < 0 else centre, y + 2),
                    max(0.5, length),
                    ROW_H - 4,
                    color=SIGNED_ENDS[0] if scores[j] < 0 else SIGNED_ENDS[1],
                    linewidth=0,
                )
            )
        w = float(weights[j])
        c.ax.add_artist(Rectangle((weights_x, y + 2), BAR_W, ROW_H - 4, color=pal.grid, alpha=0.35, linewidth=0))
        if w > 0:
            c.ax.add_artist(Rectangle((weights_x, y + 2), max(0.5, w * BAR_W), ROW_H - 4, color=colour, linewidth=0))
        c.text(
            weights_x + BAR_W + 4,
            mid,
            "\u2013" if masked[j] else f"{w:.3f}",
            size=SMALL_PT - 1,
            colour=pal.foreground if w >= 0.005 else pal.muted,
        )
    c.ax.plot([centre, centre], [top, top + nk * ROW_H], color=pal.grid, linewidth=c.pt(0.6))
    bar = c.fig.add_axes(c.fraction(keys_x + d * cell * 0.55, query_y - 10, d * cell * 0.45, 4))
    cb = c.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar, orientation="horizontal")
    cb.set_ticks([-vmax, 0, vmax], labels=[f"{-vmax:.2g}", "0", f"{vmax:.2g}"])
    cb.ax.tick_params(
        labelsize=c.pt(SMALL_PT - 1), colors=pal.foreground, width=c.pt(0.4), length=c.pt(1.5), pad=c.pt(1)
    )
    cb.ax.xaxis.set_ticks_position("top")
    cb.outline.set_linewidth(c.pt(0.4))
    draw_legend(c, entries, 8, top + nk * ROW_H + 10, width - 16, pal.foreground)
    return c.fig
