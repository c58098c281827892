"""The paper's figure forms, drawn with matplotlib from an :class:`AttentionStats`.

- layer × head heat maps (Vig & Belinkov Figs 5–7 and 10–12): ``first_token``,
  ``pos_to``/``pos_from`` for a tag, ``dep_to`` for a relation, ``distance``, ``entropy``,
  ``variability``, ``head_accuracy`` for a ``RELATION:DIRECTION`` key;
- per-layer lines with the corpus baseline (Figs 8–9): ``dep_align`` (one line per
  direction, with the share of pairs that are dependencies) and ``dep_to`` (one line per
  relation).

A keyed heat-map metric without a key draws small multiples of its most frequent keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from attnwidget.corpus.registry import REGISTRY, names
from attnwidget.errors import AttnWidgetError
from attnwidget.pictures.canvas import Size
from attnwidget.pictures.files import DEFAULT_DPI, FORMATS, check_dpi, save_figure
from attnwidget.pictures.style import HEAD_CYCLE, SEQUENTIAL, drawing

if TYPE_CHECKING:  # pragma: no cover
    from attnwidget.corpus.stats import AttentionStats

HEATMAP_METRICS = names(plot="heatmap")
LINE_METRICS = names(plot="lines")
#: Titles that say what a cell holds.
TITLES = {m.name: m.title for m in REGISTRY if m.per_head}
#: Titles of figures that show every key at once.
OVERVIEW_TITLES = {m.name: m.overview for m in REGISTRY if m.overview}
#: Small multiples drawn when a keyed heat map is asked for without a key.
MAX_PANELS = 12


def plot_metric(
    stats: AttentionStats,
    metric: str,
    key: str | None = None,
    ax=None,
    *,
    path: str | Path | None = None,
    width_in: float | None = None,
    height_in: float | None = None,
    dpi: float = DEFAULT_DPI,
):
    """Draw one metric the way the paper does; returns the matplotlib Figure.

    ``path``: also write it there, as PNG, SVG (text as text) or PDF by its suffix,
    replacing the file whole; ``width_in`` / ``height_in``: its size in inches (one given,
    the other keeps the aspect); ``dpi``: its resolution (PNG, and images inside SVG/PDF).
    """
    if metric not in HEATMAP_METRICS + LINE_METRICS:
        raise ValueError(f"cannot plot {metric!r}; choose from {', '.join(HEATMAP_METRICS + LINE_METRICS)}")
    fmt = None if path is None else _format_of(path, dpi)
    with drawing():
        if metric in LINE_METRICS or (metric == "dep_to" and key is None):
            fig = layer_lines(stats, metric, None if key is None else [key], ax=ax)
        elif key is None and stats.keys(metric) != [""]:
            fig = small_multiples(stats, metric, frequent_keys(stats, metric)[:MAX_PANELS])
        else:
            fig = heatmap(stats, metric, key, ax=ax)
        if width_in is not None or height_in is not None:
            w, h = fig.get_size_inches()
            fig.set_size_inches(*Size(width_in, height_in).inches(w * 72, h * 72))
    if fmt is not None:
        save_figure(fig, path, fmt, dpi)
    return fig


def _format_of(path: str | Path, dpi: float) -> str:
    """The format a path's suffix names (checked with the dpi before anything is drawn)."""
    check_dpi(dpi)
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise AttnWidgetError(
            f"{Path(str(path)).name}: name the figure file .png, .svg or .pdf (the suffix picks the format)"
        )
    return suffix


def heatmap(stats: AttentionStats, metric: str, key: str | None = None, ax=None, colorbar=True):
    """Layer (rows, 0 at the top) × head (columns) heat map of one metric and key."""
    import matplotlib.pyplot as plt

    values = stats.values(metric, key)
    if ax is None:
        L, H = values.shape
        fig, ax = plt.subplots(figsize=(1.0 + 0.42 * H, 1.0 + 0.42 * L), layout="constrained")
    fig = ax.figure
    finite = values[np.isfinite(values)]
    shares = metric not in ("distance", "entropy")
    vmax = max(float(finite.max()), 1e-9) if finite.size else 1.0
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap="cividis" if shares else SEQUENTIAL,
        vmin=0.0,
        vmax=vmax,
        aspect="equal",
        interpolation="nearest",
    )
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(TITLES[metric].format(key=key or ""), fontsize=9)
    if colorbar:
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def small_multiples(stats: AttentionStats, metric: str, keys: list[str]):
    """One heat map per key (like the paper's per-tag panels), sharing a layout."""
    import matplotlib.pyplot as plt

    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    L, H = stats.num_layers, stats.num_heads
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * (0.8 + 0.3 * H), rows * (1.0 + 0.3 * L)), layout="constrained", squeeze=False
    )
    for ax, key in zip(axes.ravel(), keys):
        heatmap(stats, metric, key, ax=ax)
        ax.set_title(key, fontsize=9)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.suptitle(OVERVIEW_TITLES[metric], fontsize=10)
    return fig


def layer_lines(stats: AttentionStats, metric: str, keys: list[str] | None = None, ax=None):
    """Per-layer share of attention (all heads of a layer pooled), one line per key, with
    the corpus baseline dashed where there is one (Figs 8–9)."""
    import matplotlib.pyplot as plt

    if keys is None:
        keys = list(stats.keys(metric)) if metric == "dep_align" else frequent_keys(stats, metric)[:8]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    fig = ax.figure
    layers = np.arange(stats.num_layers)
    baseline = stats.baseline("dep_align_baseline") if metric == "dep_align" else None
    for k, key in enumerate(keys):
        color = HEAD_CYCLE[k % len(HEAD_CYCLE)]  # Okabe-Ito: told apart under colour-vision deficiencies
        ax.plot(layers, stats.by_layer(metric, key), marker="o", color=color, label=key)
        if baseline is not None and key in baseline.index:
            ax.axhline(float(baseline[key]), color=color, linestyle="--", linewidth=1, label=f"{key} baseline")
    ax.set_xticks(layers)
    ax.set_xlabel("layer")
    ax.set_ylabel("share of attention")
    ax.set_ylim(bottom=0)
    ax.set_title(OVERVIEW_TITLES[metric] if len(keys) > 1 else TITLES[metric].format(key=keys[0]), fontsize=10)
    ax.legend(fontsize=7, ncol=2 if len(keys) > 4 else 1)
    return fig


def frequent_keys(stats: AttentionStats, metric: str) -> list[str]:
    """A keyed metric's keys, most attended first (the order the paper's panels use)."""
    keys = [k for k in stats.keys(metric) if k]
    if metric == "head_accuracy":
        return keys
    weight = {k: np.nansum(stats.by_layer(metric, k)) for k in keys}
    return sorted(keys, key=lambda k: -weight[k])


def save_figures(
    stats: AttentionStats, out_dir: str | Path, formats: tuple[str, ...] = ("png",), dpi: float = 110
) -> list[Path]:
    """Write the paper's figures in ``out_dir`` in each of ``formats`` (``"png"``, ``"svg"``,
    ``"pdf"``) at ``dpi``, each file replaced whole; returns their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = [
        (m, None)
        for m in ("first_token", "pos_to", "pos_from", "dep_align", "dep_to", "distance", "entropy", "variability")
    ]
    for direction in ("dependent_to_head", "head_to_dependent"):
        if f"ALL:{direction}" in stats.keys("head_accuracy"):
            plans.append(("head_accuracy", f"ALL:{direction}"))
    paths = []
    for metric, key in plans:
        fig = plot_metric(stats, metric, key)
        name = metric if key is None else f"{metric}_{key.replace(':', '_')}"
        for fmt in formats:
            paths.append(save_figure(fig, out_dir / f"{name}.{fmt}", fmt, dpi))
        plt.close(fig)
    return paths
