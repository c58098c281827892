"""A long input's attention kept as its queries and keys, summarised layer by layer.

The store holds every layer's q ``[H, T, d]`` and k ``[G, T, d]`` (float32: 0.64 GB at
8,192 tokens x 32 layers x 32 heads of 16 dims with 8 key heads) and, once made, each
layer's summary (:class:`attnwidget.attention_store.LayerSummary`, ~35 MB per layer there).
Weights are recomputed on request from q, k and the row statistics m, Z of the summary:
a 256 x 256 exact tile costs under a millisecond, so no T x T array is ever needed.
Rows asked for before their layer is summarised are computed on their own (the head view's
first screen does not wait for the layer). Where the model ran on an accelerator, summaries
and tiles are computed there by torch (:mod:`attnwidget.widget.summary_torch`), and a
layer's summary, made first, answers its rows and tiles; the vectors stay in the host's
memory, and each layer is copied over only while it is summarised.
"""

from __future__ import annotations

import threading

import numpy as np

from attnwidget.transformer.qk_capture import CapturedQK
from attnwidget.widget import summary_torch
from attnwidget.widget.attention_store import AttentionStore, LayerSummary, first_scale, head_pool
from attnwidget.widget.summary_kernel import qk_rows, qk_window


class QKStore(AttentionStore):
    """Summaries, rows and tiles of causal self-attention rebuilt from :class:`CapturedQK`."""

    def __init__(self, qk: CapturedQK, device=None, **options) -> None:
        """``device``: the accelerator (a torch device, not the CPU) that summarises and makes
        tiles; None keeps them on the CPU's compiled loops."""
        self.qk = qk
        self.device = None if device is None or str(device) == "cpu" else device
        self.num_layers, self.num_heads = qk.num_layers, qk.num_heads
        self.num_tokens = self.num_keys = qk.num_tokens
        self.is_causal = qk.is_causal
        self._keys_t: dict[tuple[int, int], np.ndarray] = {}
        super().__init__(**options)
        threading.Thread(target=warm_up, name="attnwidget-compile", daemon=True).start()

    def close(self) -> None:
        super().close()
        self._keys_t.clear()
        if self.device is not None:
            summary_torch.release(self.device)

    def _kt(self, layer: int, head: int) -> np.ndarray:
        """The keys head ``head`` reads, transposed ``[d, T]`` (so a row's dot products vectorise)."""
        g = self.qk.kv_head(head)
        kt = self._keys_t.get((layer, g))
        if kt is None:
            kt = self._keys_t[layer, g] = np.ascontiguousarray(self.qk.key[layer, g].T)
        return kt

    def _summarise(self, layer: int) -> LayerSummary:
        if self.device is not None:
            return self._summarise_on_device(layer)
        pooled, pooled_hf, top, weights, covered, first, (m, z) = self._new_summary(True)
        scale = np.float32(self.qk.scale)

        def head(h: int) -> None:
            self._check_running()
            qk_rows(
                self.qk.query[layer, h],
                self._kt(layer, h),
                scale,
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
                m[h],
                z[h],
            )

        try:
            list(head_pool().map(head, range(self.num_heads)))
        finally:  # the transposed keys of a summarised layer are rebuilt cheaply when a tile needs them
            for g in range(self.qk.num_kv_heads):
                self._keys_t.pop((layer, g), None)
        return self._finish(pooled, pooled_hf, top, weights, covered, first, m, z)

    def _summarise_on_device(self, layer: int) -> LayerSummary:
        got = summary_torch.summarise_layer(
            self.qk.query[layer],
            self.qk.key[layer],
            float(self.qk.scale),
            self.is_causal,
            self.block,
            self.cells,
            self.top_k,
            self.device,
            check=self._check_running,
        )
        return LayerSummary(block=self.block, **got)

    def _scored_rows(self, layer: int, head: int, r0: int, r1: int) -> dict[str, np.ndarray]:
        """Rows r0..r1 of one head scored on their own (their layer not summarised yet):
        full-length arrays (the kernel indexes them by row) of which rows r0..r1 are set."""
        T, k = self.num_tokens, self.top_k
        pooled = np.zeros((self.cells, self.cells), np.float32)  # scratch: only the rows are kept
        out = {
            "top": np.full((T, k), -1, np.int32),
            "weights": np.zeros((T, k), np.float32),
            "covered": np.zeros(T, np.float32),
            "first": np.zeros(T, np.float32),
            "m": np.zeros(T, np.float32),
            "z": np.zeros(T, np.float32),
        }
        qk_rows(
            self.qk.query[layer, head],
            self._kt(layer, head),
            np.float32(self.qk.scale),
            self.is_causal,
            self.block,
            k,
            r0,
            r1,
            pooled,
            pooled,
            out["top"],
            out["weights"],
            out["covered"],
            out["first"],
            out["m"],
            out["z"],
        )
        return out

    def rows(self, layer: int, heads: list[int], r0: int, r1: int) -> dict[str, np.ndarray]:
        whole = len(heads) * (r1 - r0) * 2 >= self.num_heads * self.num_tokens
        if self.has_summary(layer) or whole or self.device is not None:
            # Half the layer or more (the default heads score all of it), or an accelerator that
            # summarises a layer in a fraction of a second: the layer's summary, made once.
            return super().rows(layer, heads, r0, r1)
        # In the asking thread: the pool may be busy with whole layers.
        scored = [self._scored_rows(layer, h, r0, r1) for h in heads]
        return {name: np.stack([one[name][r0:r1] for one in scored]) for name in ("top", "weights", "covered", "first")}

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
        r1 = min(self.num_tokens, r0 + cells * r)
        # On an accelerator the layer's summary comes quicker than these rows on the CPU.
        if self.has_summary(layer) or self.device is not None:
            s = self.summary(layer)
            m, z, first = s.m[head], s.z[head], s.first[head]
        else:  # the rows' max and denominator from their own scores: no wait for the whole layer
            scored = self._scored_rows(layer, head, r0, r1)
            m, z, first = scored["m"], scored["z"], scored["first"]
        if hide_first and renormalise:  # Z without key 0's term: the rows' weights renormalised
            z = z.copy()
            z[r0:r1] /= first_scale(first[r0:r1])
        if self.device is not None:
            return summary_torch.window(
                self.qk.query[layer, head],
                self.qk.key[layer, self.qk.kv_head(head)],
                float(self.qk.scale),
                self.is_causal,
                m,
                z,
                r0,
                c0,
                cells,
                r,
                hide_first,
                self.device,
            )
        out = np.zeros((cells, cells), np.float32)
        qk_window(
            self.qk.query[layer, head],
            self._kt(layer, head),
            np.float32(self.qk.scale),
            self.is_causal,
            m,
            z,
            r0,
            c0,
            cells,
            r,
            hide_first,
            out,
        )
        return out


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernels on a tiny input, so that the first
    tile a view asks for does not wait for the compiler (~1-9 s on a busy machine)."""
    q = np.zeros((8, 4), np.float32)
    kt = np.zeros((4, 8), np.float32)
    ones = np.ones(8, np.float32)
    qk_window(q, kt, np.float32(1.0), True, ones, ones, 0, 0, 2, 1, False, np.zeros((2, 2), np.float32))
    qk_window(q, kt, np.float32(1.0), True, ones, ones, 0, 0, 2, 2, False, np.zeros((2, 2), np.float32))  # pooled
    pooled = np.zeros((8, 8), np.float32)
    rows = [np.zeros((8, 2), np.int32), np.zeros((8, 2), np.float32)] + [np.zeros(8, np.float32) for _ in range(4)]
    qk_rows(q, kt, np.float32(1.0), True, 1, 2, 0, 8, pooled, pooled.copy(), *rows)
