"""The HeadExplorer's grid as a picture: a layer x head heat map of the metric shown
(two side by side, or the difference of two statistics on a diverging scale), the
selected head outlined. Drawn on standard matplotlib axes: it is a chart, not a layout."""

from __future__ import annotations

import numpy as np

from .canvas import Size
from .style import SEQUENTIAL, palette, signed_cmap


def draw_grid(explorer, size: Size | None = None):
    """A Figure of what the explorer's grid shows now."""
    from matplotlib.figure import Figure

    # lazy: corpus/plots.py imports pictures (a circle at module level)
    from attnwidget.corpus.plots import TITLES

    explorer._check_open()
    pal = palette(explorer.theme)
    L, H = explorer.num_layers, explorer.num_heads
    panels = [(explorer.metric, explorer.key)]
    if explorer.mode == "side_by_side":
        panels.append((explorer.metric2, explorer.key2))
    cell = 0.22 if max(L, H) <= 24 else 0.12
    w_in, h_in = (size or Size()).inches(72 * len(panels) * (1.6 + cell * H), 72 * (1.3 + cell * L))
    fig = Figure(figsize=(w_in, h_in), facecolor=pal.background, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, key) in zip(axes, panels):
        title = TITLES[metric].format(key=key or "")
        if explorer.mode == "difference":
            values = explorer.values()
            top = float(np.nanmax(np.abs(values), initial=0.0)) or 1.0
            image = ax.imshow(
                np.ma.masked_invalid(values),
                cmap=signed_cmap(pal.name),
                vmin=-top,
                vmax=top,
                interpolation="nearest",
                aspect="auto",
            )
            title += " \u2014 difference"
        else:
            values = explorer.stats.values(metric, key or None)
            finite = values[np.isfinite(values)]
            image = ax.imshow(
                np.ma.masked_invalid(values),
                cmap=SEQUENTIAL,
                vmin=0.0,
                vmax=float(finite.max()) if finite.size and finite.max() > 0 else 1.0,
                interpolation="nearest",
                aspect="auto",
            )
        step = max(1, H // 16)
        ax.set_xticks(range(0, H, step))
        ax.set_yticks(range(0, L, max(1, L // 16)))
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(title, fontsize=9, color=pal.foreground, loc="left")
        ax.tick_params(colors=pal.foreground)
        for spine in ax.spines.values():
            spine.set_color(pal.grid)
        ax.xaxis.label.set_color(pal.foreground)
        ax.yaxis.label.set_color(pal.foreground)
        ax.set_facecolor(pal.mask)  # no value (NaN)
        if explorer.layer is not None and explorer.head is not None:
            from matplotlib.patches import Rectangle

            ax.add_patch(
                Rectangle(
                    (explorer.head - 0.5, explorer.layer - 0.5),
                    1,
                    1,
                    facecolor="none",
                    edgecolor=pal.foreground,
                    linewidth=1.5,
                )
            )
        bar = fig.colorbar(image, ax=ax, shrink=0.85)
        bar.ax.tick_params(labelsize=7, colors=pal.foreground)
    return fig
