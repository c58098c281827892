"""Exported HTML of a long input within a byte budget.

A whole layer of 12 heads at 2,048 tokens is 11 MB gzipped, and every layer of 32 x 32
heads at 8,192 tokens would be gigabytes: a file cannot carry everything. It carries, in
this order, as much as ``max_bytes`` (the size of the HTML file) allows:

1. the model view's thumbnails (plain and hide_first) and the shown layer's overview;
2. the shown layer's strongest lines: each row's top keys (k = 16, or fewer);
3. every layer's overview at the largest size that fits them all;
4. the shown layer in full (sqrt-quantised, lower triangle), so zooming reaches single cells;
5. the other layers' strongest lines, k from 4 down to 1, the nearest layers first.

Nothing is compressed to find out that it does not fit: each candidate's gzipped size is
first estimated from a few spread samples (:class:`Part`), and only what the estimate
admits is compressed (and kept). Compressing whole layers and then dropping them made the
2,048-token export take minutes.

The file lists what it holds (``holds``), and the page says so plainly when a view asks
for more: "this file holds layer 7 at 16 tokens per cell; open it in the notebook for
detail" - never a blank or a silent crop.
"""

from __future__ import annotations

import numpy as np

from attnwidget.widget.payload import AttentionData, gzip_bytes, gzip_packer, quantise_sqrt, with_base64
from attnwidget.widget.pooling import max_pool

#: Default size limit of an exported file, in bytes.
MAX_BYTES = 25_000_000
#: Base64 turns 3 bytes into 4.
BASE64 = 4 / 3
#: Arrays up to this size are compressed outright (estimating them would cost as much).
EXACT_BELOW = 64 * 1024
#: An estimate reads this many spread samples of up to this many bytes each (at most half the array).
SAMPLES, SAMPLE_BYTES = 16, 16 * 1024
#: JSON around one encoded array (dtype, shape, compression).
OVERHEAD = 120


def _encoded(buffer: bytes, dtype: str, shape) -> dict:
    return {"buffer": buffer, "dtype": dtype, "shape": [int(n) for n in shape], "compression": "gzip"}


def _size(encoded: dict) -> int:
    return int(len(encoded["buffer"]) * BASE64) + OVERHEAD


def _sampled_ratio(raw: memoryview, quantised: bool) -> float:
    """Compressed / raw bytes of ``raw``, from :data:`SAMPLES` pieces spread over it."""
    step = len(raw) // SAMPLES
    size = min(SAMPLE_BYTES, step // 2)
    pieces = [raw[i * step : i * step + size] for i in range(SAMPLES)]
    return sum(_deflated(p, quantised) for p in pieces) / sum(len(p) for p in pieces)


def _deflated(raw, quantised: bool) -> int:
    """Bytes ``raw`` deflates to as a file's arrays are (no gzip member: nothing to keep)."""
    packer = gzip_packer(quantised, wbits=-15)
    return len(packer.compress(raw)) + len(packer.flush())


class Part:
    """One array the file may carry: its size estimated cheaply, compressed once, when taken."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.ascontiguousarray(array)
        self.quantised = self.array.dtype == np.uint8  # sqrt-quantised weights (else key indices)
        self._encoded: dict | None = None
        raw = memoryview(self.array).cast("B")
        if len(raw) <= EXACT_BELOW:  # cheaper to compress than to estimate
            self._encoded = self.encode()
            self.estimate = _size(self._encoded)
        else:
            self.estimate = int(len(raw) * _sampled_ratio(raw, self.quantised) * BASE64) + OVERHEAD

    def encode(self) -> dict:
        if self._encoded is None:
            buffer = gzip_bytes([memoryview(self.array).cast("B")], self.quantised)
            self._encoded = _encoded(buffer, self.array.dtype.name, self.array.shape)
        return self._encoded


class FullLayer:
    """One layer's weights, sqrt-quantised and packed (lower triangle when causal), estimated
    from spread bands of rows before the whole layer is quantised or compressed."""

    def __init__(self, weights: np.ndarray, causal: bool) -> None:
        self.weights, self.causal = weights, causal
        heads, n, cols = weights.shape
        self.packing = "tril" if causal else "full"
        self.values = heads * n * (n + 1) // 2 if causal else heads * n * cols
        self.estimate = int(self.values * self._ratio() * BASE64) + OVERHEAD

    def _band(self, head: int, r0: int, r1: int) -> np.ndarray:
        rows = self.weights[head, r0:r1]
        if self.causal:  # row i keeps keys 0..i
            rows = rows[np.tri(r1 - r0, rows.shape[1], r0, dtype=bool)]
        return quantise_sqrt(rows)

    def _ratio(self) -> float:
        heads, n, cols = self.weights.shape
        per_band = max(1, SAMPLE_BYTES // max(1, cols // 2 if self.causal else cols))
        starts = np.linspace(0, max(0, n - per_band), SAMPLES).astype(int)
        bands = [self._band(b % heads, s, min(n, s + per_band)) for b, s in enumerate(starts)]
        return sum(_deflated(b.tobytes(), True) for b in bands) / max(1, sum(b.size for b in bands))

    def encode(self, room: int) -> dict | None:
        """The packed layer gzipped, head by head; None as soon as it passes ``room`` bytes of base64."""
        heads, n, cols = self.weights.shape
        keep = np.tri(n, cols, dtype=bool) if self.causal else slice(None)
        stream, out, size = gzip_packer(True), [], 0
        for head in range(heads):  # the same bytes as payload.pack_layer, a head at a time
            out.append(stream.compress(quantise_sqrt(self.weights[head][keep]).tobytes()))
            size += len(out[-1])
            if size * BASE64 > room:
                return None
        out.append(stream.flush())
        return {"packing": self.packing, "data": _encoded(b"".join(out), "uint8", [self.values])}


class Budget:
    """Bytes of base64 left in the file; parts are taken whole or not at all."""

    def __init__(self, total: int) -> None:
        self.total, self.spent = total, 0

    @property
    def left(self) -> int:
        return self.total - self.spent

    def take(self, parts: dict[str, Part], extra: dict | None = None) -> dict | None:
        """``parts`` encoded (plus ``extra``) if their estimate fits, and they really do; else None."""
        if sum(p.estimate for p in parts.values()) > self.left:
            return None
        encoded = {name: p.encode() for name, p in parts.items()}
        size = sum(_size(e) for e in encoded.values())
        if size > self.left:  # the estimate was a little low: not carried (rare)
            return None
        self.spent += size
        return {**(extra or {}), **encoded}


def _row_parts(data: AttentionData, layer: int, k: int, rows: dict[str, np.ndarray] | None = None) -> dict[str, Part]:
    """Every row's k strongest keys of every head, compact: uint16/int32 keys, uint8 sqrt weights."""
    if rows is None:
        rows = data.store.rows(layer, list(range(data.num_heads)), 0, data.num_tokens)
    top = rows["top"][..., :k]
    if data.num_keys < 0xFFFF:
        top = np.where(top < 0, 0xFFFF, top).astype(np.uint16)
    return {
        "top": Part(top),
        "weights": Part(quantise_sqrt(rows["weights"][..., :k])),
        "covered": Part(quantise_sqrt(rows["covered"])),
        "first": Part(quantise_sqrt(rows["first"])),
    }


def long_bundle(data: AttentionData, layer: int, budget: int) -> dict:
    """What a long input's file carries within ``budget`` bytes of base64 (see the module's list)."""
    store = data.store
    L = data.num_layers
    room = Budget(budget)
    overviews: dict[int, dict] = {}
    rows: dict[int, dict] = {}
    dense: dict[int, dict] = {}
    notes: list[str] = []

    def overview_parts(at: int, factor: int) -> dict[str, Part]:
        return {
            "plain": Part(max_pool(store.overview(at, False), factor)),
            "hide_first": Part(max_pool(store.overview(at, True), factor)),
        }

    def overview_extra(factor: int) -> dict:
        return {"factor": factor, "block": store.block * factor}

    current = overview_parts(layer, 1)
    for part in current.values():  # always carried (the minimum the caller checks)
        room.spent += _size(part.encode())
    overviews[layer] = {**overview_extra(1), **{name: p.encode() for name, p in current.items()}}
    shown_rows = store.rows(layer, list(range(data.num_heads)), 0, data.num_tokens)
    for k in (store.top_k, 8, 4, 2, 1):
        taken = room.take(_row_parts(data, layer, k, shown_rows), {"k": k})
        if taken is not None:
            rows[layer] = taken
            break
    # Every other layer's overview, all at one size: the largest whose estimate fits them all.
    others = [at for at in range(L) if at != layer]
    factor = 1
    while others:
        parts = {at: overview_parts(at, factor) for at in others}
        estimate = sum(p.estimate for ps in parts.values() for p in ps.values())
        if estimate <= room.left:
            taken = {at: room.take(ps, overview_extra(factor)) for at, ps in parts.items()}
            overviews.update({at: t for at, t in taken.items() if t is not None})
            if any(t is None for t in taken.values()):
                notes.append("some layers' overviews left out (over the budget)")
            break
        if store.cells // factor <= 8:
            notes.append("no overviews of the other layers (over the budget)")
            break
        factor *= 2
    if factor > 1 and len(overviews) > 1:
        notes.append(f"other layers' overviews at {store.block * factor} tokens per cell")
    if data.attention is not None:  # the shown layer in full, when its estimate says it fits
        full = FullLayer(data.attention[layer], data.is_causal)
        if full.estimate <= room.left:
            encoded = full.encode(room.left)
            if encoded is not None:
                dense[layer] = encoded
                room.spent += _size(encoded["data"])
    nearest = sorted((at for at in range(L) if at != layer), key=lambda a: (abs(a - layer), a))
    for k in (4, 2, 1):  # the other layers' strongest lines, nearest first
        typical = 0  # the last layer's size at this k: layers alike in size are not tried past the budget
        for at in nearest:
            if at in rows or typical > room.left:
                continue
            parts = _row_parts(data, at, k)
            typical = sum(p.estimate for p in parts.values())
            taken = room.take(parts, {"k": k})
            if taken is not None:
                rows[at] = taken
    holds = {
        "overview": sorted(overviews),
        "rows": {str(at): r["k"] for at, r in rows.items()},
        "full": sorted(dense),
        "block": {str(at): o["block"] for at, o in overviews.items()},
        "notes": notes,
    }
    return {
        "budget": budget,
        "bytes": room.spent,
        "holds": holds,
        "overviews": {
            str(at): {**o, "plain": with_base64(o["plain"]), "hide_first": with_base64(o["hide_first"])}
            for at, o in overviews.items()
        },
        "rows": {
            str(at): {**r, **{n: with_base64(r[n]) for n in ("top", "weights", "covered", "first")}}
            for at, r in rows.items()
        },
        "full": {str(at): {**d, "data": with_base64(d["data"])} for at, d in dense.items()},
    }
