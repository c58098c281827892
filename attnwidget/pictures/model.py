"""The model view: every layer x head as a small heat map (block-max thumbnails for long
inputs, as the widget sends them), on one square-root colour scale with a colour bar; the
current layer's selected heads outlined."""

from __future__ import annotations

import numpy as np

from attnwidget.widget.long_payload import store_thumbnails, summarised
from attnwidget.widget.payload import decode_array, dequantise_sqrt, thumbnails_payload

from .canvas import new_canvas
from .legend import draw_legend, legend_height
from .scene import Scene
from .style import FONT_PT, SEQUENTIAL, SMALL_PT, palette, weight_norm

TITLE_H = 20.0


def draw_model(scene: Scene, size=None):
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import to_rgba

    pal = palette(scene.theme)
    data = scene.data
    layers, heads = data.num_layers, data.num_heads
    hide_first = scene.hide_first
    payload = _thumbnails(scene)  # the widget's own, computed once
    values, block = dequantise_sqrt(decode_array(payload["data"])), payload["blocks"]  # [L, H, S, S]
    S = values.shape[-1]
    r0, r1, c0, c1 = _window(scene, block, S)
    values = values[..., r0:r1, c0:c1]
    rows, cols = r1 - r0, c1 - c0
    thumb = float(max(16, min(54, int(560 / heads) - 4)))
    gap = 4.0
    left, top = 30.0, TITLE_H + 14
    grid_w, grid_h = heads * (thumb + gap), layers * (thumb + gap)
    width = left + grid_w + 12 + 60
    entries = [("outlined: the widget's layer and heads", {"box": "none", "edge": pal.foreground})]
    if data.is_causal:
        entries.append(("causal mask", {"box": pal.mask, "edge": pal.grid}))
    height = top + grid_h + 8 + legend_height(entries, width - 16)
    c = new_canvas(width, height, pal.background, size)
    title = f"{data.model_name} · every layer and head" + (
        " · attention to the first token left out" if hide_first else ""
    )
    c.text(8, TITLE_H / 2, title, size=FONT_PT, colour=pal.foreground, weight="bold")

    # One image of the whole grid: each thumbnail drawn at `px` image pixels per cell,
    # gaps in the background colour (thousands of separate images would be slow and heavy).
    px = max(1, int(np.ceil(64 / max(rows, cols))))
    cell_px = max(rows, cols) * px
    gap_px = max(1, round(cell_px * gap / thumb))
    image = np.empty((layers * (cell_px + gap_px), heads * (cell_px + gap_px), 4), dtype=np.uint8)
    image[:] = np.rint(np.array(to_rgba(pal.background)) * 255)
    cmap, norm = colormaps[SEQUENTIAL], weight_norm(1.0)
    masked = np.zeros((rows, cols), dtype=bool)
    if data.is_causal:
        masked = np.arange(c0, c1)[None, :] > np.arange(r0, r1)[:, None]
    mask_rgba = np.rint(np.array(to_rgba(pal.mask)) * 255).astype(np.uint8)
    for layer in range(layers):
        rgba = cmap(norm(values[layer]), bytes=True)  # uint8 [H, rows, cols, 4]: 32 x 32 heads stay small
        rgba[:, masked] = mask_rgba
        rgba = rgba.repeat(px, axis=1).repeat(px, axis=2)
        y = layer * (cell_px + gap_px)
        for h in range(heads):
            x = h * (cell_px + gap_px)
            image[y : y + rows * px, x : x + cols * px] = rgba[h]
    scale = (thumb + gap) / (cell_px + gap_px)
    c.ax.imshow(
        image,
        extent=(left, left + image.shape[1] * scale, top + image.shape[0] * scale, top),
        interpolation="nearest",
        aspect="auto",
    )
    for h in range(heads):
        c.text(
            left + h * (thumb + gap) + cols * px * scale / 2,
            top - 6,
            str(h),
            size=SMALL_PT,
            colour=pal.muted,
            ha="center",
            va="bottom",
        )
    for layer in range(layers):
        c.text(
            left - 5,
            top + layer * (thumb + gap) + rows * px * scale / 2,
            f"L{layer}",
            size=SMALL_PT,
            colour=pal.muted,
            ha="right",
        )
    c.text(left - 5, top - 6, "head", size=SMALL_PT, colour=pal.muted, ha="right", va="bottom")
    from matplotlib.patches import Rectangle

    for h in scene.heads:
        x, y = left + h * (thumb + gap), top + scene.layer * (thumb + gap)
        c.ax.add_artist(
            Rectangle(
                (x - 1, y - 1),
                cols * px * scale + 2,
                rows * px * scale + 2,
                facecolor="none",
                edgecolor=pal.foreground,
                linewidth=c.pt(1.2),
            )
        )
    bar = c.fig.add_axes(c.fraction(left + grid_w + 12, top, 9, min(grid_h, 200)))
    cb = c.fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar)
    cb.set_ticks([0, 0.01, 0.1, 0.25, 0.5, 1.0])
    cb.ax.tick_params(labelsize=c.pt(SMALL_PT), colors=pal.foreground, width=c.pt(0.5), length=c.pt(2))
    cb.outline.set_linewidth(c.pt(0.5))
    label = "attention weight (\u221a scale)" + (f"\nmax of {block}\u00d7{block} tokens per cell" if block > 1 else "")
    cb.set_label(label, fontsize=c.pt(SMALL_PT), color=pal.foreground)
    draw_legend(c, entries, 8, top + grid_h + 8, width - 16, pal.foreground)
    return c.fig


def _thumbnails(scene: Scene) -> dict:
    """The model view's thumbnails: of the whole layers, or a long input's from its store's
    overviews (every layer summarised first, the shown one first, with a progress bar)."""
    data = scene.data
    if not summarised(data):
        return thumbnails_payload(data, scene.hide_first)
    data.store.summarise_all(first=scene.layer)
    return store_thumbnails(data, scene.hide_first)


def _window(scene: Scene, block: int, size: int) -> tuple[int, int, int, int]:
    """Thumbnail cells of a pair's block (filters.ts: thumbWindow), else all of them."""
    data = scene.data
    split = data.split or {}
    at = split.get("at")
    pair_filter = scene.pair_filter
    if split.get("names", [None])[0] != "A" or data.kind == "cross" or pair_filter == "all" or not at:
        return 0, size, 0, size
    first, second = pair_filter.split("->")
    side = {"A": (0, at), "B": (at, data.num_tokens)}
    (ra, rb), (ca, cb) = side[first], side[second]
    return ra // block, -(-rb // block), ca // block, -(-cb // block)
