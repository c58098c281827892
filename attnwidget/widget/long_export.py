"""Exported HTML of a long input within a byte budget.

A whole layer of 12 heads at 2,048 tokens is 11 MB gzipped, and every layer of 32 x 32
heads at 8,192 tokens would be gigabytes: a file cannot carry everything. It carries, in
this order, as much as ``max_bytes`` (the size of the HTML file) allows:

1. the model view's thumbnails (plain and hide_first) and the shown layer's overview;
2. the shown layer's strongest lines: each row's top keys (k = 16, or fewer);
3. every layer's overview at the largest size that fits them all;
4. the shown layer in full (sqrt-quantised, lower triangle), so zooming reaches single cells;
5. the other layers' strongest lines, k from 4 down to 1, the nearest layers first.

The file lists what it holds (``holds``), and the page says so plainly when a view asks
for more: "this file holds layer 7 at 16 tokens per cell; open it in the notebook for
detail" - never a blank or a silent crop.
"""

from __future__ import annotations

import numpy as np

from attnwidget.widget.payload import (
    AttentionData,
    encode_array,
    pack_layer,
    quantise_sqrt,
    with_base64,
)

#: Default size limit of an exported file, in bytes.
MAX_BYTES = 25_000_000
#: Base64 turns 3 bytes into 4.
BASE64 = 4 / 3


def _enc(array: np.ndarray) -> dict:
    return encode_array(array, compress=True)


def _size(encoded: dict) -> int:
    return int(len(encoded["buffer"]) * BASE64) + 120


def _pool(overview: np.ndarray, factor: int) -> np.ndarray:
    """uint8 ``[H, P, P]`` max-pooled by ``factor`` (max commutes with the sqrt quantisation)."""
    if factor == 1:
        return overview
    h, p, _ = overview.shape
    cells = -(-p // factor)
    padded = np.zeros((h, cells * factor, cells * factor), np.uint8)
    padded[:, :p, :p] = overview
    return padded.reshape(h, cells, factor, cells, factor).max(axis=(2, 4))


def _rows(data: AttentionData, layer: int, k: int) -> dict:
    """Every row's k strongest keys of every head, compact: uint16/int32 keys, uint8 sqrt weights."""
    rows = data.store.rows(layer, list(range(data.num_heads)), 0, data.num_tokens)
    top = rows["top"][..., :k]
    if data.num_keys < 0xFFFF:
        top = np.where(top < 0, 0xFFFF, top).astype(np.uint16)
    return {
        "k": k,
        "top": _enc(top),
        "weights": _enc(quantise_sqrt(rows["weights"][..., :k])),
        "covered": _enc(quantise_sqrt(rows["covered"])),
        "first": _enc(quantise_sqrt(rows["first"])),
    }


def long_bundle(data: AttentionData, layer: int, budget: int) -> dict:
    """What a long input's file carries within ``budget`` bytes of base64 (see the module's list)."""
    store = data.store
    L = data.num_layers
    spent = 0
    overviews: dict[int, dict] = {}
    rows: dict[int, dict] = {}
    dense: dict[int, dict] = {}
    notes: list[str] = []

    def fits(parts: dict | list) -> int:
        values = parts.values() if isinstance(parts, dict) else parts
        return sum(_size(v) for v in values if isinstance(v, dict) and "buffer" in v)

    def overview_of(at: int, factor: int) -> dict:
        return {
            "factor": factor,
            "block": store.block * factor,
            "plain": _enc(_pool(store.overview(at, False), factor)),
            "hide_first": _enc(_pool(store.overview(at, True), factor)),
        }

    current = overview_of(layer, 1)
    overviews[layer] = current
    spent += fits(current)
    for k in (store.top_k, 8, 4, 2, 1):
        r = _rows(data, layer, k)
        if spent + fits(r) <= budget:
            rows[layer] = r
            spent += fits(r)
            break
    # Every other layer's overview, all at one size: the largest that fits.
    factor = 1
    while True:
        others = {at: overview_of(at, factor) for at in range(L) if at != layer}
        size = sum(fits(o) for o in others.values())
        if spent + size <= budget or store.cells // factor <= 8:
            if spent + size <= budget:
                overviews.update(others)
                spent += size
            else:
                notes.append("no overviews of the other layers (over the budget)")
            break
        factor *= 2
    if factor > 1 and len(overviews) > 1:
        notes.append(f"other layers' overviews at {store.block * factor} tokens per cell")
    if data.attention is not None:  # the shown layer in full, when it fits
        packed, packing = pack_layer(data.attention[layer], data.is_causal)
        enc = _enc(packed)
        if spent + _size(enc) <= budget:
            dense[layer] = {"packing": packing, "data": enc}
            spent += _size(enc)
    for k in (4, 2, 1):  # the other layers' strongest lines, nearest first
        for at in sorted(range(L), key=lambda a: (abs(a - layer), a)):
            if at in rows:
                continue
            r = _rows(data, at, k)
            if spent + fits(r) <= budget:
                rows[at] = r
                spent += fits(r)
    holds = {
        "overview": sorted(overviews),
        "rows": {str(at): r["k"] for at, r in rows.items()},
        "full": sorted(dense),
        "block": {str(at): o["block"] for at, o in overviews.items()},
        "notes": notes,
    }
    return {
        "budget": budget,
        "bytes": spent,
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
