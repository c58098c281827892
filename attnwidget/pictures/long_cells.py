"""What the pictures of a long input draw, asked of the widget's store (never a T x T array).

Past 1,024 tokens a widget keeps its attention in a store (``attention_store``): each
layer's max-pooled overview, each row's strongest keys, exact tiles on request. The
pictures ask it for what the browser's long views draw (js/src/views/long_*.ts):

- :func:`matrix_cells`: the matrix view's heat map. The whole matrix, or a region coarse
  enough, is the overview (a block's *largest* weight, so one strong cell is never
  averaged away); a finer region is made of exact tiles of at most :data:`TILE` x
  :data:`TILE` tokens, max-pooled here when a cell holds several tokens;
- :func:`head_rows` / :func:`row_lines`: the head view's window of rows and each row's
  strongest keys until ``prune`` of its mass, with the share they cover;
- :func:`neuron_keys`: the keys the neuron view lists (a range, or the query's strongest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnwidget.errors import AttnWidgetError
from attnwidget.progress import bar
from attnwidget.widget.quantise import dequantise_sqrt

#: Heat-map cells a side at most (a store's overview has at most 512).
MAX_CELLS = 512
#: Tokens a side of one exact tile asked of the store (the browser's tile size).
TILE = 256
#: Rows the head view shows unless asked (about a printed page), and at most.
HEAD_ROWS = 40
MAX_HEAD_ROWS = 1024
#: Keys the neuron view lists unless a range is asked (the query's strongest), and at most.
NEURON_KEYS = 32
MAX_NEURON_KEYS = 512
#: Tile requests past which a region's heat map shows a progress bar.
_BAR_AFTER = 64


@dataclass
class Cells:
    """A heat map of the matrix: ``values[i, j]`` covers queries ``r0 + i*ry ..`` and keys ``c0 + j*cx ..``."""

    values: np.ndarray  # float32 [n, m]
    masked: np.ndarray  # bool [n, m]: wholly hidden from its queries (causal) or past the matrix
    r0: int
    c0: int
    ry: int  # tokens per cell down
    cx: int  # tokens per cell across
    stop_row: int  # the rows and keys covered end here (exclusive; at most the matrix's size)
    stop_col: int
    exact: bool  # one token per cell, exact weights (several heads: their mean)
    from_overview: bool

    def caption(self, heads: int) -> str:
        """What a cell holds, for the colour bar."""
        if self.exact:
            return "exact weight" + (f", mean of {heads} heads" if heads > 1 else "")
        over = f" over {heads} heads" if heads > 1 else ""
        return f"largest of {self.ry}\u00d7{self.cx} tokens per cell{over}"


def span(region: tuple[int, int] | None, total: int) -> tuple[int, int]:
    return (0, total) if region is None else (int(region[0]), min(total, int(region[1])))


def capped_span(name: str, region, total: int, most: int, view: str, what: str) -> tuple[int, int]:
    """:func:`span` of ``region``, refused when it holds more than ``most`` tokens."""
    start, stop = span(region, total)
    if stop - start > most:
        raise AttnWidgetError(
            f"{name}={tuple(region)} asks {view} for {stop - start:,} {what}; a picture shows at most "
            f"{most:,} (use the matrix view for more, or several pictures)"
        )
    return start, stop


def matrix_cells(store, layer: int, heads: list[int], rows, cols, hide_first: bool, renormalise: bool) -> Cells:
    """The heat map of ``rows`` x ``cols`` (``(start, stop)`` or None: all) of ``heads``."""
    r0, r1 = span(rows, store.num_tokens)
    c0, c1 = span(cols, store.num_keys)
    ry, cx = -(-(r1 - r0) // MAX_CELLS), -(-(c1 - c0) // MAX_CELLS)
    if ry >= store.block and cx >= store.block:  # the overview is as fine as the picture can be
        return _overview_cells(store, layer, heads, r0, r1, c0, c1, hide_first)
    return _tiled_cells(store, layer, heads, r0, r1, c0, c1, ry, cx, hide_first, renormalise)


def _overview_cells(store, layer, heads, r0, r1, c0, c1, hide_first) -> Cells:
    b = store.block
    quantised = store.overview(layer, hide_first)[heads].max(axis=0)  # the strongest head, as the browser
    bi0, bi1, bj0, bj1 = r0 // b, -(-r1 // b), c0 // b, -(-c1 // b)
    values = dequantise_sqrt(quantised[bi0:bi1, bj0:bj1])
    bi, bj = np.arange(bi0, bi1)[:, None], np.arange(bj0, bj1)[None, :]
    masked = (bi * b >= store.num_tokens) | (bj * b >= store.num_keys)
    if store.is_causal:
        masked |= bj * b > bi * b + b - 1  # every key of the block comes after every query
    return Cells(
        values,
        masked,
        bi0 * b,
        bj0 * b,
        b,
        b,
        min(store.num_tokens, bi1 * b),
        min(store.num_keys, bj1 * b),
        exact=b == 1 and len(heads) == 1,
        from_overview=True,
    )


def _tiled_cells(store, layer, heads, r0, r1, c0, c1, ry, cx, hide_first, renormalise) -> Cells:
    """Exact tiles of at most TILE x TILE tokens; cells of several tokens keep their largest
    (and the largest of the heads), one-token cells the heads' mean (long_payload: tile)."""
    ny, nx = -(-(r1 - r0) // ry), -(-(c1 - c0) // cx)
    exact = ry == cx == 1
    out = np.zeros((ny, nx), np.float32)
    sy, sx = ry * max(1, TILE // ry), cx * max(1, TILE // cx)  # tokens a tile, whole cells
    scale = None
    if hide_first and renormalise:  # rows renormalised without key 0: each row's weight on it
        first = store.rows(layer, heads, r0, min(store.num_tokens, r0 + ny * ry))["first"]
        scale = np.ones((len(heads), ny * ry), np.float32)  # rows past the matrix stay as they are
        scale[:, : first.shape[1]] = np.where(first < 1, 1.0 / np.maximum(1.0 - first, 1e-9), 1.0)
    tiles = [
        (ty, tx)
        for ty in range(r0, r0 + ny * ry, sy)
        for tx in range(c0, c0 + nx * cx, sx)
        if not (store.is_causal and tx > min(store.num_tokens, ty + sy) - 1)  # wholly above the diagonal
    ]
    with bar(
        total=len(tiles) * len(heads),
        desc=f"exact tiles of layer {layer}",
        unit="tile",
        enabled=len(tiles) * len(heads) > _BAR_AFTER,
        leave=False,
    ) as line:
        for ty, tx in tiles:
            h_rows, h_cols = min(sy, r0 + ny * ry - ty), min(sx, c0 + nx * cx - tx)
            at = np.s_[(ty - r0) // ry : (ty - r0 + h_rows) // ry, (tx - c0) // cx : (tx - c0 + h_cols) // cx]
            for k, h in enumerate(heads):
                tile = store.window(layer, h, ty, tx, max(h_rows, h_cols), 1)[:h_rows, :h_cols]
                if hide_first and tx == 0:
                    tile[:, 0] = 0.0
                if scale is not None:
                    tile *= scale[k, ty - r0 : ty - r0 + h_rows, None]
                if exact:
                    out[at] += tile / len(heads)
                else:
                    pooled = tile.reshape(h_rows // ry, ry, h_cols // cx, cx).max(axis=(1, 3))
                    np.maximum(out[at], pooled, out=out[at])
                line.update(1)
    i0 = r0 + np.arange(ny)[:, None] * ry
    j0 = c0 + np.arange(nx)[None, :] * cx
    masked = (i0 >= store.num_tokens) | (j0 >= store.num_keys)
    if store.is_causal:
        masked |= j0 > i0 + ry - 1
    return Cells(
        out,
        masked,
        r0,
        c0,
        ry,
        cx,
        min(store.num_tokens, r0 + ny * ry),
        min(store.num_keys, c0 + nx * cx),
        exact=exact,
        from_overview=False,
    )


# ------------------------------------------------------------------------ head view


def head_rows(rows: tuple[int, int] | None, token: int | None, total: int) -> tuple[int, int]:
    """The head view's rows: those asked, else :data:`HEAD_ROWS` around the locked token or from the start."""
    if rows is not None:
        return capped_span("rows", rows, total, MAX_HEAD_ROWS, "the head view", "rows")
    n = min(HEAD_ROWS, total)
    start = 0 if token is None else max(0, min(total - n, token - n // 2))
    return start, start + n


@dataclass
class RowLines:
    head: np.ndarray  # the drawn lines: head, query row, key, weight
    row: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    covered: np.ndarray  # [rows]: the least share of its mass a row's kept keys cover over the heads
    short: int  # (row, head)s whose kept keys fall short of `prune`
    top_k: int


def row_lines(store, layer, heads, r0, r1, prune, threshold, hide_first, renormalise) -> RowLines:
    """Each row's strongest keys until ``prune`` of its mass, none under ``threshold``
    (long_head_view.ts: kept), with the share of the mass they cover."""
    got = store.rows(layer, heads, r0, r1)
    top, w = got["top"], got["weights"]  # [h, rows, k], strongest first; -1: no key
    valid = top >= 0
    if hide_first:
        valid &= top != 0
        if renormalise:
            first = got["first"]
            w = w * np.where(first < 1, 1.0 / np.maximum(1.0 - first, 1e-9), 1.0)[..., None]
    w = np.where(valid, w, 0.0)
    before = np.cumsum(w, axis=-1) - w
    kept = valid & (before < prune)
    share = np.where(kept, w, 0.0).sum(axis=-1)  # [h, rows]
    drawn = kept & (w >= threshold)
    h, i, t = np.nonzero(drawn)
    order = np.argsort(w[h, i, t], kind="stable")  # strongest drawn last, on top
    h, i, t = h[order], i[order], t[order]
    return RowLines(
        head=np.asarray(heads)[h],
        row=i + r0,
        col=top[h, i, t].astype(np.int64),
        weight=w[h, i, t].astype(np.float32),
        covered=share.min(axis=0),
        short=int((share < prune - 1e-6).sum()),
        top_k=int(top.shape[-1]),
    )


# ---------------------------------------------------------------------- neuron view


def neuron_keys(weights: np.ndarray, cols: tuple[int, int] | None, long: bool) -> tuple[np.ndarray, str]:
    """The keys the neuron view lists and a note saying which: ``cols`` asked, every key of
    a short input, else the query's :data:`NEURON_KEYS` strongest, in key order."""
    n = len(weights)
    if cols is not None:
        c0, c1 = capped_span("cols", cols, n, MAX_NEURON_KEYS, "the neuron view", "keys")
        keys = np.arange(c0, c1)
        return keys, f"keys {c0}\u2013{c1 - 1} of {n:,}"
    if not long or n <= NEURON_KEYS:
        return np.arange(n), ""
    keys = np.sort(np.argpartition(-np.asarray(weights), NEURON_KEYS)[:NEURON_KEYS])
    covered = float(np.asarray(weights)[keys].sum())
    return keys, f"the query's {NEURON_KEYS} strongest of {n:,} keys ({covered:.0%} of its attention), in order"
