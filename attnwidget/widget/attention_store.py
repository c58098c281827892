"""Where the views' attention comes from: a store answers for overviews, rows and tiles.

A view never needs a whole ``[L, H, T, T]`` tensor at once. It needs, per layer, a
max-pooled overview of each head, each row's strongest keys with the share of mass they
cover, exact or pooled tiles of a region it zooms into, and single values. Two stores
give them:

- :class:`DenseStore`: the weights as an array (short inputs, ``from_attention``);
- :class:`attnwidget.qk_store.QKStore`: every layer's queries and keys of a long input,
  from which the same summaries are computed in blocks (no T x T array is ever held).

Summaries of a layer are made once, on first need, by :mod:`attnwidget.summary_kernel`
(heads on threads), and kept: at 8,192 tokens x 32 x 32 heads ~1.1 GB for all layers.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from attnwidget.errors import WidgetClosedError
from attnwidget.progress import bar
from attnwidget.widget.pooling import max_pool
from attnwidget.widget.quantise import quantise_sqrt
from attnwidget.widget.summary_kernel import blocks_for, dense_rows

#: Each row's strongest keys kept by a summary.
TOP_K = 16
#: Cells a side of a head's overview (fewer when the input is shorter).
OVERVIEW_CELLS = 512
#: Side of a model-view thumbnail, in cells.
THUMBNAIL_CELLS = 64
#: "No key" in a uint16 top-k index (rows shorter than k).
NO_KEY = 0xFFFF

_POOLS: dict[str, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()


def core_pool(name: str) -> ThreadPoolExecutor:
    """The process's pool of one thread per core named ``attnwidget-<name>`` (made on first use)."""
    with _POOL_LOCK:
        if name not in _POOLS:
            _POOLS[name] = ThreadPoolExecutor(max(1, os.cpu_count() or 1), thread_name_prefix=f"attnwidget-{name}")
        return _POOLS[name]


def head_pool() -> ThreadPoolExecutor:
    """Threads that summarise heads in parallel (the kernels release the GIL)."""
    return core_pool("heads")


def _pool_shut_down(err: RuntimeError) -> bool:
    """Whether ``err`` is the head pool refusing work because it was shut down (at exit,
    concurrent.futures shuts it down before the main thread is marked as ended)."""
    return "cannot schedule new futures" in str(err)


@dataclass
class LayerSummary:
    """One layer's summary, all heads.

    ``overview`` / ``overview_hf``: uint8 sqrt-quantised ``[H, P, P]``, each cell the largest
    weight of its ``block x block`` tokens (``_hf``: without key 0, rows renormalised).
    ``top``: ``[H, T, k]`` key indices, strongest first, kept as uint16 when T allows (then
    :data:`NO_KEY` where a row has fewer keys; :meth:`AttentionStore.rows` gives int32 and -1);
    ``weights``: float16 ``[H, T, k]``; ``covered``: float32 ``[H, T]``, the share of each
    row's mass the k keys hold; ``first``: float32 ``[H, T]``, each row's weight on key 0.
    ``m`` / ``z``: float32 ``[H, T]`` each row's score max and softmax denominator (QK only).
    """

    block: int
    overview: np.ndarray
    overview_hf: np.ndarray
    top: np.ndarray
    weights: np.ndarray
    covered: np.ndarray
    first: np.ndarray
    m: np.ndarray | None = None
    z: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (self.overview, self.overview_hf, self.top, self.weights, self.covered, self.first, self.m, self.z)
            if a is not None
        )


def first_scale(first: np.ndarray) -> np.ndarray:
    """Each row's factor once key 0 is left out and the rest renormalised (1 where all the
    mass was on key 0: nothing to rescale), as the pictures and the 512-token views do."""
    first = np.asarray(first, np.float32)
    return np.where(first < 1, 1.0 / np.maximum(1.0 - first, 1e-9), 1.0).astype(np.float32)


class AttentionStore:
    """The summaries, rows, tiles and values of one input's attention (subclasses give the source)."""

    num_layers: int
    num_heads: int
    num_tokens: int
    num_keys: int
    is_causal: bool

    def __init__(self, top_k: int = TOP_K, overview_cells: int = OVERVIEW_CELLS) -> None:
        self.top_k = top_k
        self.block, self.cells = blocks_for(max(self.num_tokens, self.num_keys), overview_cells)
        self._summaries: dict[int, LayerSummary] = {}
        self._locks = [threading.Lock() for _ in range(self.num_layers)]
        self._closed = threading.Event()
        self._background: threading.Thread | None = None

    # ------------------------------------------------------------------ summaries

    def summary(self, layer: int) -> LayerSummary:
        """Layer ``layer``'s summary, made now if it is not yet (once, whoever asks first)."""
        done = self._summaries.get(layer)
        if done is not None:
            return done
        with self._locks[layer]:
            if layer not in self._summaries:
                self._summaries[layer] = self._summarise(layer)
            return self._summaries[layer]

    def has_summary(self, layer: int) -> bool:
        return layer in self._summaries

    def progress(self) -> tuple[int, int]:
        """(layers summarised, layers)."""
        return len(self._summaries), self.num_layers

    def summarise_all(self, first: int = 0, progress: bool = True) -> None:
        """Every layer's summary, nearest to ``first`` first, with a progress bar; stops on :meth:`close`."""
        order = sorted(range(self.num_layers), key=lambda layer: (abs(layer - first), layer))
        todo = [layer for layer in order if layer not in self._summaries]
        with bar(
            total=len(todo), desc="summarising attention", unit="layer", enabled=progress and bool(todo), leave=False
        ) as line:
            for layer in todo:
                if self.stopping():
                    return
                try:
                    self.summary(layer)
                except WidgetClosedError:
                    if self.stopping():
                        return
                    raise
                except RuntimeError as err:
                    if self.stopping() or _pool_shut_down(err):  # Python is exiting: the head pool refuses work
                        return
                    raise
                line.update(1)

    def stopping(self) -> bool:
        """Whether summarising should stop: the store was closed, or Python is exiting (its
        main thread has ended; the head pool then refuses new work, and waits for what it has)."""
        return self._closed.is_set() or not threading.main_thread().is_alive()

    def _check_running(self) -> None:
        """Called as each head starts: queued heads of a stopped store end at once."""
        if self.stopping():
            raise WidgetClosedError("the attention store was closed (its widget closed, or Python is exiting)")

    def start_background(self, first: int = 0, progress: bool = True) -> None:
        """:meth:`summarise_all` in a daemon thread (requests for a layer still jump the queue)."""
        if self._background is None and len(self._summaries) < self.num_layers:
            self._background = threading.Thread(
                target=self.summarise_all, args=(first, progress), name="attnwidget-summaries", daemon=True
            )
            self._background.start()

    def wait(self, timeout: float | None = None) -> None:
        if self._background is not None:
            self._background.join(timeout)

    def close(self) -> None:
        """Stop background work and drop what is kept."""
        self._closed.set()
        self._summaries.clear()

    @property
    def summary_bytes(self) -> int:
        return sum(s.nbytes for s in list(self._summaries.values()))

    # ------------------------------------------------------------------ answers

    def rows(self, layer: int, heads: list[int], r0: int, r1: int) -> dict[str, np.ndarray]:
        """Rows ``r0..r1`` of ``heads``: ``top`` ``[h, rows, k]``, ``weights``, ``covered`` and ``first`` ``[h, rows]``."""
        s = self.summary(layer)
        h = np.asarray(heads, dtype=np.int64)
        top = s.top[h, r0:r1].astype(np.int32)
        if s.top.dtype == np.uint16:
            top[top == NO_KEY] = -1
        return {
            "top": top,
            "weights": s.weights[h, r0:r1].astype(np.float32),
            "covered": s.covered[h, r0:r1],
            "first": s.first[h, r0:r1],
        }

    def overview(self, layer: int, hide_first: bool = False) -> np.ndarray:
        s = self.summary(layer)
        return s.overview_hf if hide_first else s.overview

    def thumbnails(self, hide_first: bool = False, size: int = THUMBNAIL_CELLS) -> tuple[np.ndarray, int]:
        """uint8 ``[L, H, S, S]`` block-max thumbnails from the overviews, and tokens per cell."""
        factor, cells = blocks_for(self.cells, size)
        out = np.zeros((self.num_layers, self.num_heads, cells, cells), np.uint8)
        for layer in range(self.num_layers):
            out[layer] = max_pool(self.overview(layer, hide_first), factor, cells)
        return out, factor * self.block

    def window(
        self,
        layer: int,
        head: int,
        r0: int,
        c0: int,
        cells: int,
        r: int,
        hide_first: bool = False,
        renormalise: bool = False,
    ) -> np.ndarray:
        """float32 ``[cells, cells]``: the largest weight of each ``r x r`` block of rows ``r0..``,
        columns ``c0..`` (r = 1: the exact weights); zero past the matrix's edge.
        ``hide_first``: key 0 reads as 0 (and is no block's largest); with ``renormalise``
        each row is divided by its mass without key 0, as the views' hide_first does."""
        raise NotImplementedError

    def value(
        self, layer: int, head: int, i: int, j: int, hide_first: bool = False, renormalise: bool = False
    ) -> float:
        """The exact weight of query ``i`` on key ``j`` (``hide_first``/``renormalise`` as :meth:`window`)."""
        return float(self.window(layer, head, i, j, 1, 1, hide_first, renormalise)[0, 0])

    def _summarise(self, layer: int) -> LayerSummary:
        raise NotImplementedError

    def _new_summary(self, with_stats: bool) -> tuple[list[np.ndarray], ...]:
        H, T, k, P = self.num_heads, self.num_tokens, self.top_k, self.cells
        pooled = np.zeros((H, P, P), np.float32)
        pooled_hf = np.zeros((H, P, P), np.float32)
        top = np.full((H, T, k), -1, np.int32)
        weights = np.zeros((H, T, k), np.float32)
        covered = np.zeros((H, T), np.float32)
        first = np.zeros((H, T), np.float32)
        stats = (np.zeros((H, T), np.float32), np.zeros((H, T), np.float32)) if with_stats else (None, None)
        return pooled, pooled_hf, top, weights, covered, first, stats

    def _finish(self, pooled, pooled_hf, top, weights, covered, first, m=None, z=None) -> LayerSummary:
        if self.num_keys < NO_KEY:  # half the bytes: kept for every layer of a long input
            top = np.where(top < 0, NO_KEY, top).astype(np.uint16)
        return LayerSummary(
            block=self.block,
            overview=quantise_sqrt(pooled),
            overview_hf=quantise_sqrt(pooled_hf),
            top=top,
            weights=weights.astype(np.float16),
            covered=covered,
            first=first,
            m=m,
            z=z,
        )


class DenseStore(AttentionStore):
    """A store over float32 weights ``[L, H, T, T_k]`` held as an array."""

    def __init__(self, attention: np.ndarray, is_causal: bool, **options) -> None:
        self.attention = attention
        self.num_layers, self.num_heads, self.num_tokens, self.num_keys = (int(n) for n in attention.shape)
        self.is_causal = bool(is_causal)
        super().__init__(**options)

    def _summarise(self, layer: int) -> LayerSummary:
        pooled, pooled_hf, top, weights, covered, first, _ = self._new_summary(False)
        a = self.attention[layer]

        def head(h: int) -> None:
            self._check_running()
            dense_rows(
                a[h],
                self.is_causal,
                self.block,
                self.top_k,
                0,
                self.num_tokens,
                pooled[h],
                pooled_hf[h],
                top[h],
                weights[h],
                covered[h],
                first[h],
            )

        list(head_pool().map(head, range(self.num_heads)))
        return self._finish(pooled, pooled_hf, top, weights, covered, first)

    def window(
        self,
        layer: int,
        head: int,
        r0: int,
        c0: int,
        cells: int,
        r: int,
        hide_first: bool = False,
        renormalise: bool = False,
    ) -> np.ndarray:
        a = self.attention[layer, head, r0 : r0 + cells * r, c0 : c0 + cells * r]
        out = np.zeros((cells * r, cells * r), np.float32)
        out[: a.shape[0], : a.shape[1]] = a
        if hide_first:
            if c0 == 0:
                out[:, 0] = 0.0
            if renormalise:
                out[: a.shape[0]] *= first_scale(self.attention[layer, head, r0 : r0 + a.shape[0], 0])[:, None]
        return out.reshape(cells, r, cells, r).max(axis=(1, 3)) if r > 1 else out
