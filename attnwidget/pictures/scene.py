"""What a static picture of an AttentionWidget shows: the views' scene, computed in numpy.

The same steps as the browser (``js/src/data``: transform.ts, filters.ts, prune.ts,
syntax.ts), so a picture follows the widget's state: the layer, the heads, hide_first and
renormalise, the token or word level, threshold and prune, the locked token, a pair's
block and a generation step. Only the shown layer is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnwidget.widget.export import EXPORTED_TRAITS
from attnwidget.widget.long_payload import summarised
from attnwidget.widget.payload import AttentionData, meta_payload

#: The traits a picture follows: the exported page's starting view, less which attention
#: (a picture draws the attention the widget shows now).
VIEW_STATE = tuple(name for name in EXPORTED_TRAITS if name != "attention_kind")

#: Below this weight a line's alpha is under one 8-bit step (prune.ts: INVISIBLE).
INVISIBLE = 1.0 / (255 * 255)
#: Lines drawn at most without a locked token; long rows are cut to their strongest.
LINE_BUDGET = 24_000
#: Rows pruned at once (bounds the sort's memory at 8,192 tokens).
_CHUNK = 256


@dataclass
class Axis:
    """The units one side of a view shows, in order (a pair's block shows part of them)."""

    units: np.ndarray  # original unit at each shown position
    total: int
    split: int | None  # shown position of the second part's first unit, when both parts show

    @property
    def pos(self) -> np.ndarray:
        """Shown position of each original unit (-1: not shown)."""
        out = np.full(self.total, -1, dtype=np.int64)
        out[self.units] = np.arange(len(self.units))
        return out


@dataclass
class Scene:
    data: AttentionData
    view: str
    layer: int
    heads: list[int]
    level: str
    labels: list[str]  # row units' labels
    key_labels: list[str]
    unit_word: np.ndarray  # word of each unit (-1: none)
    matrix: np.ndarray | None  # [heads of the layer, rows, cols] after hide_first and word merging; None: long
    rows_on: np.ndarray | None  # 1 = the row is drawn (generation step / pair block)
    cols_on: np.ndarray | None
    split: int | None  # first unit of the second part, for colours
    step_row: int | None
    row_axis: Axis
    col_axis: Axis
    focus: tuple[int, str] | None  # (original unit, "query" | "key")
    threshold: float
    prune: float
    theme: str
    token: int | None
    pair_filter: str = "all"
    hide_first: bool = False
    upos: list[str | None] | None = None
    arcs: list[tuple[int, int, str]] = field(default_factory=list)  # (dependent, head, label) units
    renormalise: bool = False
    rows: tuple[int, int] | None = None  # the (start, stop) of query units asked for
    cols: tuple[int, int] | None = None  # ... of key units
    word_level_dropped: bool = False  # word level asked of a long input (token level is drawn)

    @property
    def long(self) -> bool:
        """A long input: drawn from the widget's store (overviews, rows, tiles), never whole layers."""
        return self.matrix is None

    @property
    def causal(self) -> bool:
        return self.data.is_causal

    @property
    def has_syntax(self) -> bool:
        return self.upos is not None

    def related(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
        """True where units a and b are a dependent and its head, either way round."""
        syntax = self.data.syntax
        if syntax is None or not self.has_syntax:
            return np.zeros(np.broadcast(a, b).shape, dtype=bool)
        heads = np.asarray([int(h) for h in syntax.heads] + [-2])
        wa, wb = self.unit_word[a], self.unit_word[b]
        ok = (wa >= 0) & (wb >= 0) & (wa != wb)
        return ok & ((heads[np.where(wa >= 0, wa, -1)] == wb) | (heads[np.where(wb >= 0, wb, -1)] == wa))

    def values(self) -> np.ndarray:
        """The matrix view's values: the one selected head, or the mean of the selected heads."""
        if not self.heads:
            return np.zeros(self.matrix.shape[1:], dtype=np.float32)
        return self.matrix[self.heads].mean(axis=0)

    def title(self) -> str:
        kind = f" · {self.data.kind} attention" if self.data.kind != "self" else ""
        if len(self.heads) == 1:
            which = f"head {self.heads[0]}"
        elif len(self.heads) == self.data.num_heads:
            which = f"all {len(self.heads)} heads"
        else:
            which = "heads " + ", ".join(map(str, self.heads))
        return f"{self.data.model_name} · layer {self.layer} · {which}{kind}"


def scene_of(widget: Any, **override: Any) -> Scene:
    """The scene of ``widget`` as it is now, with ``override`` (view, layer, heads, token,
    token_role, level, threshold, prune, hide_first, renormalise, theme, pair_filter, step, and
    ``rows`` / ``cols``: the (start, stop) of the query / key units drawn)."""
    region = {name: override.pop(name, None) for name in ("rows", "cols")}
    state = {name: getattr(widget, name) for name in VIEW_STATE}
    state.update({k: v for k, v in override.items() if v is not None})
    data = widget._data
    long = summarised(data)  # past 1,024 tokens: the store answers, token level only
    word = state["level"] == "word" and data.has_words and state["view"] != "neuron"
    level = "word" if word and not long else "token"
    meta = meta_payload(data)
    units = meta["levels"][level]
    labels = list(units["labels"])
    key_labels = list(data.key_tokens) if data.key_tokens is not None else labels
    heads = [int(h) for h in state["heads"]]
    matrix = None if long else data.attention[state["layer"]]
    if state["hide_first"] and not long:
        matrix = hide_first(matrix, state["renormalise"])
    if level == "word":
        matrix = merge_units(matrix, np.asarray(units["of_token"]), len(labels))
    drawn = drawn_units(data, units, state["pair_filter"], state["step"], len(key_labels))
    if not long:  # a long input's pictures ask the store for the region itself
        for name, key in (("rows", "row_axis"), ("cols", "col_axis")):
            if region[name] is not None:
                drawn[key] = within(drawn[key], *region[name])
    focus = None
    token = state["token"]
    if token is not None and 0 <= token < len(labels):
        role = state["token_role"]
        axis = drawn["row_axis"] if role == "query" else drawn["col_axis"]
        if axis.pos[token] >= 0:  # a locked token outside the block shown isolates nothing
            focus = (int(token), role)
    if focus is None and drawn["step_row"] is not None:
        focus = (drawn["step_row"], "query")
    scene = Scene(
        data=data,
        view=state["view"],
        layer=int(state["layer"]),
        heads=heads,
        level=level,
        labels=labels,
        key_labels=key_labels,
        unit_word=np.asarray(units["word"], dtype=np.int64),
        matrix=matrix,
        threshold=float(state["threshold"]),
        prune=float(state["prune"]),
        theme=state["theme"],
        token=token,
        focus=focus,
        pair_filter=state["pair_filter"],
        hide_first=bool(state["hide_first"]),
        renormalise=bool(state["renormalise"]),
        word_level_dropped=word and long,
        **region,
        **drawn,
    )
    if meta["syntax"] is not None:
        scene.upos, scene.arcs = unit_syntax(meta["syntax"], scene.unit_word)
    return scene


# ------------------------------------------------------------------ transforms


def hide_first(matrix: np.ndarray, renormalise: bool) -> np.ndarray:
    """Leave out attention to the first token; with ``renormalise`` rows sum as before."""
    out = np.array(matrix, dtype=np.float32, copy=True)
    first = out[..., 0].copy()
    out[..., 0] = 0.0
    if renormalise:
        rest = 1.0 - first
        scale = np.where(rest > 1e-9, 1.0 / np.maximum(rest, 1e-9), 1.0)
        out *= scale[..., None]
    return out


def merge_units(matrix: np.ndarray, unit_of: np.ndarray, units: int) -> np.ndarray:
    """Attention *to* a word sums its tokens' columns; *from* a word is its rows' mean."""
    heads, n, _ = matrix.shape
    cols = np.zeros((heads, n, units), dtype=np.float32)
    np.add.at(cols, (slice(None), slice(None), unit_of), matrix)
    out = np.zeros((heads, units, units), dtype=np.float32)
    np.add.at(out, (slice(None), unit_of), cols)
    counts = np.bincount(unit_of, minlength=units).astype(np.float32)
    return out / np.maximum(counts, 1.0)[None, :, None]


def unit_syntax(syntax: dict, unit_word: np.ndarray) -> tuple[list[str | None], list[tuple[int, int, str]]]:
    """UPOS of each unit and the dependency arcs between units (at a word's first unit)."""
    upos = [syntax["upos"][w] if w >= 0 else None for w in unit_word.tolist()]
    first = np.full(len(syntax["words"]), -1, dtype=np.int64)
    for u, w in enumerate(unit_word.tolist()):
        if w >= 0 and first[w] < 0:
            first[w] = u
    arcs = []
    for w, h in enumerate(syntax["head"]):
        if h >= 0 and first[w] >= 0 and first[h] >= 0:
            arcs.append((int(first[w]), int(first[h]), syntax["deprel"][w] or ""))
    return upos, arcs


def _axis(units: range | list[int], total: int, split: int | None) -> Axis:
    shown = np.asarray(list(units), dtype=np.int64)
    at = None
    if split is not None and len(shown) and shown[0] < split <= shown[-1]:
        at = int(np.argmax(shown >= split))
    return Axis(shown, total, at)


def within(axis: Axis, start: int, stop: int) -> Axis:
    """``axis`` cut to the units ``start .. stop - 1`` (the region a picture asks for: its rows or cols)."""
    units = axis.units[(axis.units >= start) & (axis.units < stop)]
    split = None
    if axis.split is not None:
        first = axis.units[axis.split]
        split = int(np.argmax(units >= first)) if len(units) and units[0] < first <= units[-1] else None
    return Axis(units, axis.total, split)


def drawn_units(data: AttentionData, units: dict, pair_filter: str, step: int | None, n_cols: int) -> dict:
    """Rows and columns drawn: a pair's block or a generation step (filters.ts: drawnUnits)."""
    of_token = units["of_token"]
    n_rows = len(units["labels"])
    at = (data.split or {}).get("at")
    split = None
    if data.kind != "cross" and at is not None and 0 < at < len(of_token):
        split = int(of_token[at])
    is_pair = bool(data.split) and data.split["names"][0] == "A"
    out = {
        "rows_on": None,
        "cols_on": None,
        "split": split,
        "step_row": None,
        "row_axis": _axis(range(n_rows), n_rows, split),
        "col_axis": _axis(range(n_cols), n_cols, split),
    }
    if split is not None and step is not None and not is_pair:
        row = int(of_token[at + step - 1])  # the newest token when generated token `step` was written
        out.update(rows_on=np.arange(n_rows) == row, cols_on=np.arange(n_rows) <= row, step_row=row)
    elif split is not None and is_pair and pair_filter != "all":
        side_of = {"A": lambda n: range(min(split, n)), "B": lambda n: range(min(split, n), n)}
        first, second = pair_filter.split("->")
        rows, cols = side_of[first](n_rows), side_of[second](n_cols)
        out.update(
            rows_on=np.isin(np.arange(n_rows), rows),
            cols_on=np.isin(np.arange(n_cols), cols),
            row_axis=_axis(rows, n_rows, split),
            col_axis=_axis(cols, n_cols, split),
        )
    return out


# ------------------------------------------------------------------------ lines


def _eligible_buckets(rows: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, which may be drawn, and their strength step (0 = strongest, 256 = not drawn)."""
    w = np.asarray(rows, dtype=np.float32)
    eligible = (w > 0) & (w >= threshold) & (w > INVISIBLE)
    bucket = np.where(eligible, 255 - np.minimum(255, np.rint(np.sqrt(np.clip(w, 0, 1)) * 255)), 256)
    return w, eligible, bucket


def _kept_in_order(w, eligible, order, share) -> np.ndarray:
    """Of the entries in strength ``order``, those before the row's ``share`` is covered."""
    sorted_w = np.take_along_axis(np.where(eligible, w, 0.0), order, axis=-1)
    before = np.cumsum(sorted_w, axis=-1) - sorted_w
    target = share * np.where(w > 0, w, 0.0).sum(axis=-1, keepdims=True) - 1e-7
    return np.take_along_axis(eligible, order, axis=-1) & (before < target)


def kept_mask(rows: np.ndarray, share: float, threshold: float) -> np.ndarray:
    """Entries each row keeps: its strongest (in the views' 256 sqrt steps, ties in column
    order) until ``share`` of the row's mass is covered, none below ``threshold``."""
    w, eligible, bucket = _eligible_buckets(rows, threshold)
    order = np.argsort(bucket, axis=-1, kind="stable")
    keep = np.zeros_like(eligible)
    np.put_along_axis(keep, order, _kept_in_order(w, eligible, order, share), axis=-1)
    return keep


def strength_rank(rows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Each kept entry's place in its row's strength order (256 sqrt steps, ties in column order)."""
    _, _, bucket = _eligible_buckets(rows, 0.0)
    order = np.argsort(np.where(keep, bucket, 257), axis=-1, kind="stable")
    return np.argsort(order, axis=-1, kind="stable")


def kept_strongest(rows: np.ndarray, share: float, threshold: float, limit: int) -> tuple[np.ndarray, bool]:
    """:func:`kept_mask` cut to each row's ``limit`` strongest, without sorting whole rows
    (8,192 keys a row): the kept entries are a prefix of the strength order, so only the
    ``limit + 1`` strongest matter. Returns the mask and whether any row was cut."""
    if limit + 1 >= np.shape(rows)[-1]:
        keep = kept_mask(rows, share, threshold)
        cut = bool((keep.sum(axis=-1) > limit).any())
        return keep & (strength_rank(rows, keep) < limit), cut
    w, eligible, bucket = _eligible_buckets(rows, threshold)
    # Strength step, then column: one key per entry, so ties fall as in the views.
    key = bucket.astype(np.int64) * w.shape[-1] + np.arange(w.shape[-1])
    top = np.argpartition(key, limit, axis=-1)[:, : limit + 1]
    top = np.take_along_axis(top, np.argsort(np.take_along_axis(key, top, axis=-1), axis=-1), axis=-1)
    sorted_w = np.take_along_axis(np.where(eligible, w, 0.0), top, axis=-1)
    before = np.cumsum(sorted_w, axis=-1) - sorted_w
    target = share * np.where(w > 0, w, 0.0).sum(axis=-1, keepdims=True) - 1e-7
    kept = np.take_along_axis(eligible, top, axis=-1) & (before < target)
    cut = bool(kept[:, limit].any())
    keep = np.zeros_like(eligible)
    np.put_along_axis(keep, top[:, :limit], kept[:, :limit], axis=-1)
    return keep, cut


@dataclass
class Lines:
    head: np.ndarray
    row: np.ndarray  # original row unit (query)
    col: np.ndarray  # original column unit (key)
    weight: np.ndarray
    capped: bool


def lines_to_draw(scene: Scene, budget: int = LINE_BUDGET) -> Lines:
    """The head view's lines (prune.ts: linesToDraw): kept entries of the drawn rows and
    columns; with a locked token only its lines; otherwise each row cut to its share of
    ``budget``, strongest first."""
    m = scene.matrix
    n, cols = m.shape[1], m.shape[2]
    heads = [h for h in scene.heads if 0 <= h < m.shape[0]]
    rows_on = np.ones(n, bool) if scene.rows_on is None else scene.rows_on
    cols_on = np.ones(cols, bool) if scene.cols_on is None else scene.cols_on
    per_row = max(2, budget // max(1, n * len(heads)))
    parts, capped = [], False
    # A locked query needs its own row only.
    starts = [scene.focus[0]] if scene.focus is not None and scene.focus[1] == "query" else range(0, n, _CHUNK)
    size = 1 if scene.focus is not None and scene.focus[1] == "query" else _CHUNK
    fast = scene.focus is None and scene.cols_on is None and 4 * per_row < cols
    for h in heads:
        for start in starts:
            block = m[h, start : start + size]
            if fast:  # long rows: only their strongest few are drawn anyway
                keep, cut = kept_strongest(block, scene.prune, scene.threshold, per_row)
                capped |= cut
            else:
                keep = kept_mask(block, scene.prune, scene.threshold) & cols_on[None, :]
                if scene.focus is not None and scene.focus[1] == "key":
                    keep &= (np.arange(cols) == scene.focus[0])[None, :]
                elif scene.focus is None and keep.sum(axis=1).max(initial=0) > per_row:
                    capped = True  # each row's first per_row in strength order
                    keep &= strength_rank(block, keep) < per_row
            keep &= rows_on[start : start + size, None]
            r, c = np.nonzero(keep)
            parts.append((np.full(len(r), h), r + start, c, block[r, c]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Lines(empty, empty, empty, np.zeros(0, np.float32), False)
    head, row, col, weight = (np.concatenate(p) for p in zip(*parts))
    order = np.argsort(weight, kind="stable")  # strongest drawn last, on top
    return Lines(head[order], row[order], col[order], weight[order], capped)
