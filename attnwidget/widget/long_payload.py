"""What the widget sends for a long input: a small layer description, then answers on request.

Up to :data:`LONG_TOKENS` tokens the synced ``_layer_data`` carries the whole layer (see
:mod:`attnwidget.payload`): at 512 tokens that is ~1 MB and every view draws from it. Past
that a layer is too big to ship (12 x 12 heads at 2,048 tokens: 11 MB gzipped per layer;
32 heads at 8,192: 1 GB), so ``_layer_data`` only describes the layer (``packing:
"summary"``) and the views ask the kernel, through the request/reply protocol
(``js/src/data/protocol.ts``), for what they draw:

- ``overview``: the layer's max-pooled overview, uint8 sqrt-quantised ``[H, P, P]``;
- ``rows``: rows ``r0..r1`` of some heads: the top-k key indices (uint16, or int32 past
  65,535 tokens; -1 / 65535 = none), their float32 weights, the mass they cover and the
  weight on key 0 (for ``hide_first``);
- ``tile``: a ``cells x cells`` window of the matrix, float32, ``r`` tokens a cell: the
  exact weights at r = 1 (the mean of the selected heads), the largest weight of each
  block above (the largest of the selected heads: a block's mean over heads cannot be
  made from per-head maxima);
- ``tiles``: the tiles of one zoom step at once (``tiles``: their ``[r0, c0]`` corners),
  computed in parallel off the kernel's message thread and sent in one reply
  (:mod:`attnwidget.widget.tile_batch`); a newer batch from the same view drops the
  tiles of older ones that have not started; with ``shade`` the tiles come as uint8 sqrt
  shades (what the view draws; a hovered cell's exact weight is a ``value``);
- ``value``: one cell's exact weight (mean of the selected heads).

Tiles and values take ``hide_first`` (key 0 reads as 0) and ``renormalise`` (each row
divided by its mass without key 0), as the 512-token views and the pictures apply them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from attnwidget.widget.payload import AttentionData, encode_array, layer_payload

#: Inputs longer than this are sent as summaries and answers, not whole layers.
LONG_TOKENS = 1024
#: Largest tile side and rows per request (a request is answered in one message).
MAX_CELLS = 512
MAX_ROWS = 1024
#: Most tiles one ``tiles`` request asks for (a zoom step needs ~8; a prefetch up to 24).
MAX_TILES = 64
#: Overview replies kept gzipped (each ~3 MB at 8,192 tokens x 32 heads).
KEPT_OVERVIEWS = 4


class BadRequest(ValueError):
    """A request the store cannot answer, with the reason to send back."""


def summarised(data: AttentionData) -> bool:
    """Whether ``data`` travels as summaries (long, or only queries and keys are kept)."""
    return data.attention is None or data.num_tokens > LONG_TOKENS


def synced_layer(data: AttentionData, layer: int) -> dict:
    """The ``_layer_data`` trait: the whole layer, or for a long input its description."""
    return layer_payload(data, layer) if not summarised(data) else layer_info(data, layer)


def layer_info(data: AttentionData, layer: int) -> dict:
    """A layer described, not carried: what the views need to ask for its pieces."""
    store = data.store
    done, total = store.progress()
    return {
        "layer": int(layer),
        "kind": data.kind,
        "heads": data.num_heads,
        "size": data.num_tokens,
        "cols": data.num_keys,
        "packing": "summary",
        "block": store.block,
        "cells": store.cells,
        "top_k": store.top_k,
        "summarised": done,
        "of": total,
    }


def _int(content: dict, name: str, low: int, high: int) -> int:
    value = content.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"{name} must be an int in {low}..{high}, not {value!r}")
    return value


def _heads(content: dict, data: AttentionData) -> list[int]:
    heads = content.get("heads")
    if (
        not isinstance(heads, list)
        or not heads
        or not all(isinstance(h, int) and 0 <= h < data.num_heads for h in heads)
    ):
        raise BadRequest(f"heads must be a non-empty list of heads in 0..{data.num_heads - 1}, not {heads!r}")
    return heads


def answer(data: AttentionData, what: str, content: dict) -> tuple[dict, list[bytes]]:
    """The body of the reply to a ``what`` request and its binary parts (raises BadRequest)."""
    store = data.store
    layer = _int(content, "layer", 0, data.num_layers - 1)
    if what == "overview":
        return _overview_reply(data, layer, bool(content.get("hide_first")))
    if what == "rows":
        heads = _heads(content, data)
        r0 = _int(content, "r0", 0, data.num_tokens - 1)
        r1 = _int(content, "r1", r0 + 1, min(data.num_tokens, r0 + MAX_ROWS))
        rows = store.rows(layer, heads, r0, r1)
        top = rows["top"]
        if data.num_keys < 0xFFFF:  # half the bytes; 65535 is "no key"
            top = np.where(top < 0, 0xFFFF, top).astype(np.uint16)
        return _arrays(
            {"layer": layer, "heads": heads, "r0": r0, "r1": r1},
            {
                "top": top,
                "weights": rows["weights"].astype(np.float32),
                "covered": rows["covered"].astype(np.float32),
                "first": rows["first"].astype(np.float32),
            },
        )
    if what == "tile":
        ask = tile_ask(content, data, layer, content.get("r0"), content.get("c0"))
        return _arrays(ask.body(), {"tile": tile_of(store, ask)})
    if what == "value":
        heads = _heads(content, data)
        i = _int(content, "i", 0, data.num_tokens - 1)
        j = _int(content, "j", 0, data.num_keys - 1)
        hide, renormalise = bool(content.get("hide_first")), bool(content.get("renormalise"))
        value = float(np.mean([store.value(layer, h, i, j, hide, renormalise) for h in heads]))
        return {"layer": layer, "heads": heads, "i": i, "j": j, "value": value}, []
    raise BadRequest(f"unknown request {what!r}")


@dataclass(frozen=True)
class TileAsk:
    """One tile asked for: its grid (layer, heads, side, tokens a cell, hide_first) and corner;
    equal asks have equal answers (a batch shares a tile with the one before it)."""

    layer: int
    heads: tuple[int, ...]
    r0: int
    c0: int
    cells: int
    r: int
    hide_first: bool = False
    renormalise: bool = False
    shade: bool = False  # send uint8 sqrt shades (what the view draws) instead of float32 weights

    @property
    def combine(self) -> str:
        return "mean" if self.r == 1 or len(self.heads) == 1 else "max"

    def body(self) -> dict:
        return {
            "layer": self.layer,
            "heads": list(self.heads),
            "r0": self.r0,
            "c0": self.c0,
            "cells": self.cells,
            "r": self.r,
            "combine": self.combine,
            "hide_first": self.hide_first,
            "renormalise": self.renormalise,
        }


def tile_ask(content: dict, data: AttentionData, layer: int, r0: Any, c0: Any) -> TileAsk:
    """The tile at (r0, c0) of the grid a ``tile`` or ``tiles`` request names (raises BadRequest)."""
    probe = {"r0": r0, "c0": c0}
    return TileAsk(
        layer=layer,
        heads=tuple(_heads(content, data)),
        r0=_int(probe, "r0", 0, data.num_tokens - 1),
        c0=_int(probe, "c0", 0, data.num_keys - 1),
        cells=_int(content, "cells", 1, MAX_CELLS),
        r=_int(content, "r", 1, max(1, data.num_tokens)),
        hide_first=bool(content.get("hide_first")),
        renormalise=bool(content.get("renormalise")),
        shade=bool(content.get("shade")),
    )


def tile_asks(data: AttentionData, content: dict) -> list[TileAsk]:
    """The tiles of a ``tiles`` request: ``tiles`` a list of ``[r0, c0]`` corners of one grid."""
    layer = _int(content, "layer", 0, data.num_layers - 1)
    corners = content.get("tiles")
    if not isinstance(corners, list) or not 1 <= len(corners) <= MAX_TILES:
        raise BadRequest(f"tiles must be a list of 1..{MAX_TILES} [r0, c0] corners, not {corners!r}"[:300])
    asks = []
    for corner in corners:
        if not isinstance(corner, list) or len(corner) != 2:
            raise BadRequest(f"each of tiles must be [r0, c0], not {corner!r}")
        asks.append(tile_ask(content, data, layer, corner[0], corner[1]))
    return asks


def tile_of(store: Any, ask: TileAsk) -> np.ndarray:
    """float32 ``[cells, cells]``: the exact weights at r = 1 (the heads' mean), else each
    block's largest weight (the heads' largest)."""
    tiles = [
        store.window(ask.layer, h, ask.r0, ask.c0, ask.cells, ask.r, ask.hide_first, ask.renormalise) for h in ask.heads
    ]
    tile = np.mean(tiles, axis=0) if ask.combine == "mean" else np.max(tiles, axis=0)
    return tile.astype(np.float32)


def _overview_reply(data: AttentionData, layer: int, hide_first: bool) -> tuple[dict, list[bytes]]:
    """A layer's overview reply, gzipped once and kept for the last few layers asked for
    (8 MB of uint8 at 32 heads: compressing it again on every layer switch took ~0.4 s)."""
    kept = data._thumbnails.setdefault("overview replies", OrderedDict())
    key = (layer, hide_first)
    if key not in kept:
        store = data.store
        kept[key] = _arrays(
            {"layer": layer, "block": store.block, "cells": store.cells},
            {"overview": store.overview(layer, hide_first)},
        )
        while len(kept) > KEPT_OVERVIEWS:
            kept.popitem(last=False)
    kept.move_to_end(key)
    body, buffers = kept[key]
    return dict(body), list(buffers)


def _arrays(body: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, list[bytes]]:
    """Arrays as encoded descriptions in ``body["arrays"]`` (in ``order``) and their bytes as buffers."""
    described, buffers = {}, []
    for name, array in arrays.items():
        encoded = encode_array(array)
        buffers.append(encoded.pop("buffer"))
        described[name] = encoded
    return {**body, "arrays": described, "order": list(arrays)}, buffers


def store_thumbnails(data: AttentionData, hide_first: bool) -> dict:
    """The model view's thumbnails of a long input, from the store's overviews (kept per setting)."""
    key = ("store", bool(hide_first))
    if key not in data._thumbnails:
        thumbs, per_cell = data.store.thumbnails(hide_first)
        data._thumbnails[key] = {
            "layers": data.num_layers,
            "heads": data.num_heads,
            "size": int(thumbs.shape[-1]),
            "blocks": int(per_cell),
            "data": encode_array(thumbs),
        }
    return data._thumbnails[key]


def long_input(sentence: Any, loaded: Any, progress: bool = True) -> AttentionData:
    """A long sentence through a decoder-only model: queries and keys only, summarised later."""
    import torch

    # lazy: torch (the capture) and numba (the store's kernels) load only for a long input
    from attnwidget.transformer.qk_capture import capture
    from attnwidget.widget.qk_store import QKStore  # lazy: as above

    ids = torch.tensor([sentence.input_ids], dtype=torch.long)
    store = QKStore(capture(loaded, ids, progress=progress), device=loaded.device)
    has_syntax = sentence.syntax is not None
    return AttentionData(
        tokens=list(sentence.tokens),
        attention=None,
        model_name=loaded.name,
        is_causal=True,
        token_word=np.asarray(sentence.token_word, dtype=np.int64) if has_syntax else None,
        syntax=sentence.syntax,
        _store=store,
    )
