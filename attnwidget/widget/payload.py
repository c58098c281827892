"""What the widget sends to the browser, and how it is encoded.

Arrays travel as ``{"buffer": bytes, "dtype": str, "shape": list, "compression": None |
"gzip"}``; ipywidgets lifts the bytes out of the JSON into binary message parts, and the
exported HTML carries them as base64. ``js/src/data/codec.ts`` is the other half.

Attention weights are sqrt-quantised to uint8, ``q = round(sqrt(a) * 255)``: on the
screen a weight becomes a line alpha or a heatmap shade through the same sqrt, so the
quantisation steps are evenly spaced in what is seen (and weights down to ~1e-5 stay
non-zero). A causal model's upper triangle is always zero and is not sent ("tril"
packing). Only the current layer is synced; thumbnails of all heads are fetched on demand.
"""

from __future__ import annotations

import base64
import gzip
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnwidget.widget.pooling import max_pool
from attnwidget.widget.quantise import dequantise_sqrt, quantise_sqrt

#: Payloads larger than this are gzip-compressed (the browser inflates them natively).
COMPRESS_ABOVE = 64 * 1024
#: Side of a model-view thumbnail, in cells; longer inputs are block-max downsampled.
THUMBNAIL_SIZE = 64


@dataclass
class AttentionData:
    """One input's attention and the sentence it belongs to.

    ``attention``: float32 ``[layers, heads, T, T]``, row ``i`` = what token ``i`` attends to.
    ``token_word``: int ``[T]``, the word of each token (-1 for special tokens), or None.
    ``syntax``: the words and their annotation (an :class:`attnwidget.Syntax`), or None.
    ``key_tokens``: the column tokens when they are not the row tokens (cross-attention:
    rows are decoder tokens, columns source tokens); attention is then ``[L, H, T, S]``.
    ``split``: ``{"at": k, "names": [first, second]}`` when the tokens fall in two parts
    (a sentence pair: A / B; generated text: prompt / generated), or None.
    ``kind``: which attention of the input this is (``"self"``, or ``"encoder"``,
    ``"decoder"``, ``"cross"`` for an encoder-decoder model).
    ``kv_heads``: the key/value head each query head reads under grouped-query attention.
    """

    tokens: list[str]
    attention: np.ndarray | None
    model_name: str = "custom"
    is_causal: bool = False
    token_word: np.ndarray | None = None
    syntax: Any = None
    key_tokens: list[str] | None = None
    split: dict | None = None
    kind: str = "self"
    kv_heads: list[int] | None = None
    _thumbnails: dict = field(default_factory=dict, repr=False)
    #: Summaries, rows and tiles (:mod:`attnwidget.attention_store`); a long input has only this.
    _store: Any = field(default=None, repr=False)

    @property
    def store(self):
        """The :class:`attnwidget.attention_store.AttentionStore` of this attention (made on first use)."""
        if self._store is None:
            # lazy: the store's compiled kernels (numba) load only when a summary is asked for
            from attnwidget.widget.attention_store import DenseStore

            self._store = DenseStore(self.attention, self.is_causal)
        return self._store

    def _shape(self, axis: int) -> int:
        if self.attention is not None:
            return int(self.attention.shape[axis])
        s = self.store
        return (s.num_layers, s.num_heads, s.num_tokens, s.num_keys)[axis]

    @property
    def num_layers(self) -> int:
        return self._shape(0)

    @property
    def num_heads(self) -> int:
        return self._shape(1)

    @property
    def num_tokens(self) -> int:
        """Rows: the attending tokens."""
        return self._shape(2)

    @property
    def num_keys(self) -> int:
        """Columns: the attended tokens (the source under cross-attention)."""
        return self._shape(3)

    def num_units(self, level: str) -> int:
        """Tokens at token level; words plus unannotated tokens at word level."""
        if level == "word" and self.has_words:
            return len(word_units(self.token_word)[1])
        return self.num_tokens

    @property
    def has_words(self) -> bool:
        return self.syntax is not None and self.token_word is not None


# --------------------------------------------------------------------------- arrays


def encode_array(array: np.ndarray, compress: bool | None = None) -> dict:
    """``{buffer, dtype, shape, compression}`` for one C-contiguous little-endian array.

    ``compress=None`` gzips payloads above :data:`COMPRESS_ABOVE` bytes.
    """
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    raw = array.tobytes()
    if compress is None:
        compress = len(raw) > COMPRESS_ABOVE
    buffer = gzip_bytes([raw], array.dtype == np.uint8) if compress else raw
    return {
        "buffer": buffer,
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "compression": "gzip" if compress else None,
    }


def gzip_packer(quantised: bool, wbits: int = 31):
    """A gzip compressor (one member, mtime 0: what the page's ``DecompressionStream('gzip')``
    reads) at level 1, as a layer switch or an export waits for it. Quantised weights (uint8)
    are coded as runs and Huffman codes only (zlib's Z_RLE): their bytes hold little LZ77 can
    match but long runs of zeros (a causal layer's upper triangle), and a 512-token layer of
    12 heads comes out in 19 ms and 0.75 MB, against 27 ms and 0.92 MB with the default
    strategy. Key indices (uint16, int32) keep the default: they do repeat. ``wbits=-15``: the
    bare deflate stream, no gzip header (to learn a size)."""
    strategy = zlib.Z_RLE if quantised else zlib.Z_DEFAULT_STRATEGY
    return zlib.compressobj(1, zlib.DEFLATED, wbits, 9, strategy)


def gzip_bytes(chunks, quantised: bool) -> bytes:
    """``chunks`` (bytes-like) as one gzip member (:func:`gzip_packer`)."""
    packer = gzip_packer(quantised)
    return b"".join([*(packer.compress(c) for c in chunks), packer.flush()])


def decode_array(encoded: dict) -> np.ndarray:
    """The inverse of :func:`encode_array` (buffer may also be base64 text)."""
    buffer = encoded["buffer"]
    if isinstance(buffer, str):
        buffer = base64.b64decode(buffer)
    buffer = bytes(buffer)
    if encoded.get("compression") == "gzip":
        buffer = gzip.decompress(buffer)
    return np.frombuffer(buffer, dtype=np.dtype(encoded["dtype"]).newbyteorder("<")).reshape(encoded["shape"])


def with_base64(encoded: dict) -> dict:
    """The same encoded array with its buffer as base64 text (for JSON / HTML)."""
    return {**encoded, "buffer": base64.b64encode(bytes(encoded["buffer"])).decode("ascii")}


def _tril(n: int) -> np.ndarray:
    """Boolean mask of the lower triangle, diagonal included. Not cached: at 8,192 tokens
    it is 64 MB (index arrays would be 512 MB), and building it costs less than packing."""
    return np.tri(n, dtype=bool)


def pack_layer(layer: np.ndarray, causal: bool) -> tuple[np.ndarray, str]:
    """Quantise one layer ``[heads, T, T]``; causal layers keep only the lower triangle.

    Returns ``(uint8 array, packing)``: packing ``"tril"`` is, per head, row i's entries
    ``0..i`` one after another (``heads * T * (T + 1) / 2`` values); ``"full"`` is
    ``[heads, T, T]``.
    """
    if not causal:
        return quantise_sqrt(layer), "full"
    return quantise_sqrt(layer[:, _tril(layer.shape[-1])]).reshape(-1), "tril"  # quantise only what is sent


def unpack_layer(q: np.ndarray, heads: int, n: int, packing: str) -> np.ndarray:
    """float32 ``[heads, T, T]`` from :func:`pack_layer`'s output (tests, round trips)."""
    if packing == "full":
        return dequantise_sqrt(q.reshape(heads, n, n))
    out = np.zeros((heads, n, n), dtype=np.float32)
    out[:, _tril(n)] = dequantise_sqrt(q.reshape(heads, -1))
    return out


# ------------------------------------------------------------------------ payloads


#: Bytes of encoded layers kept per input beside the newest (~40 layers of 12 heads at 512
#: tokens, 10 at 1,024): choosing a layer sends the one kept, with no wait for its encoding
#: (~30 ms for 12 heads at 512 tokens, ~120 ms at 1,024) on the kernel's message thread.
ENCODED_BYTES = 32 << 20
_ENCODED_LOCK = threading.Lock()


def layer_payload(data: AttentionData, layer: int) -> dict:
    """The synced ``_layer_data`` of one layer: quantised, packed, maybe gzipped (kept within
    :data:`ENCODED_BYTES`, the least recently used dropped first)."""
    layer = int(layer)
    with _ENCODED_LOCK:
        kept = data._thumbnails.setdefault("encoded layers", OrderedDict())
        if layer in kept:
            kept.move_to_end(layer)
            return kept[layer]
    packed, packing = pack_layer(data.attention[layer], data.is_causal)
    payload = {
        "layer": layer,
        "kind": data.kind,
        "heads": data.num_heads,
        "size": data.num_tokens,
        "cols": data.num_keys,
        "packing": packing,
        "data": encode_array(packed),
    }
    with _ENCODED_LOCK:
        kept[layer] = payload
        while len(kept) > 1 and sum(len(p["data"]["buffer"]) for p in kept.values()) > ENCODED_BYTES:
            kept.popitem(last=False)
    return payload


def encode_ahead(data: AttentionData, first: int, stop: Callable[[], bool]) -> None:
    """Encode the layers nearest ``first`` (next, previous, then outwards) while they fit in
    :data:`ENCODED_BYTES` (estimated from the first one made), so that choosing one needs no
    encoding; ``stop()`` ends it early (the widget closed). Meant for a daemon thread: numpy
    and zlib release the GIL for most of it."""
    layers = data.num_layers
    order = [layer for d in range(1, layers) for layer in (first + d, first - d) if 0 <= layer < layers]
    size = 0
    for count, layer in enumerate(order, start=2):  # the first layer is kept already
        if stop():
            return
        size = max(size, len(layer_payload(data, layer)["data"]["buffer"]))
        if size * (count + 1) > ENCODED_BYTES:  # the next would push the nearest ones out
            return


def thumbnails(attention: np.ndarray, size: int = THUMBNAIL_SIZE, hide_first: bool = False) -> tuple[np.ndarray, int]:
    """Block-max downsampled heatmaps of every head: uint8 ``[layers, heads, S, S]``.

    Max (not mean) keeps a one-token-wide diagonal or column visible after shrinking.
    ``hide_first`` leaves out attention to the first token, as the views do. Returns the
    thumbnails and the block size (tokens per thumbnail cell). A rectangular input
    (cross-attention) is padded square, so every thumbnail has one shape.
    """
    _, _, rows, cols = attention.shape
    n = max(rows, cols)
    block = max(1, -(-n // size))
    pooled = max_pool(attention, block, -(-n // block), skip_first_column=hide_first)  # padded square
    return quantise_sqrt(pooled), block


def thumbnails_payload(data: AttentionData, hide_first: bool) -> dict:
    """Thumbnails of every layer x head, computed once per ``hide_first`` setting."""
    key = bool(hide_first)
    if key not in data._thumbnails:
        thumbs, block = thumbnails(data.attention, hide_first=key)
        data._thumbnails[key] = {
            "layers": data.num_layers,
            "heads": data.num_heads,
            "size": int(thumbs.shape[-1]),
            "blocks": int(block),
            "data": encode_array(thumbs),
        }
    return data._thumbnails[key]


def word_units(token_word: np.ndarray) -> tuple[list[int], list[int]]:
    """Word-level units: each word with tokens is one unit, each unannotated token its own.

    Returns ``(unit of each token, word of each unit (-1 for an unannotated token))``,
    units in the order of their first token.
    """
    of_token: list[int] = []
    unit_word: list[int] = []
    unit_of_word: dict[int, int] = {}
    for w in np.asarray(token_word).tolist():
        if w < 0:
            of_token.append(len(unit_word))
            unit_word.append(-1)
        elif w in unit_of_word:
            of_token.append(unit_of_word[w])
        else:
            unit_of_word[w] = len(unit_word)
            of_token.append(len(unit_word))
            unit_word.append(w)
    return of_token, unit_word


def meta_payload(data: AttentionData) -> dict:
    """The synced ``_meta``: tokens, syntax, and the token/word units (small, JSON)."""
    n = data.num_tokens
    token_word = [int(w) for w in data.token_word] if data.token_word is not None else [-1] * n
    levels: dict[str, dict] = {"token": {"labels": list(data.tokens), "word": token_word, "of_token": list(range(n))}}
    syntax = None
    if data.has_words:
        s = data.syntax
        of_token, unit_word = word_units(data.token_word)
        labels = [s.words[w] if w >= 0 else "" for w in unit_word]
        for t, u in enumerate(of_token):  # unannotated units show their token
            if unit_word[u] < 0:
                labels[u] = data.tokens[t]
        levels["word"] = {"labels": labels, "word": unit_word, "of_token": of_token}
        syntax = {
            "source": s.source,
            "words": list(s.words),
            "upos": list(s.upos),
            "head": [int(h) for h in s.heads],
            "deprel": list(s.deprels),
        }
    return {
        "model": data.model_name,
        "kind": data.kind,
        "num_layers": data.num_layers,
        "num_heads": data.num_heads,
        "num_tokens": n,
        "num_keys": data.num_keys,
        "is_causal": bool(data.is_causal),
        "packing": "tril" if data.is_causal else "full",
        "tokens": list(data.tokens),
        "key_tokens": None if data.key_tokens is None else list(data.key_tokens),
        "split": data.split,
        "kv_heads": data.kv_heads,
        "syntax": syntax,
        "levels": levels,
    }


# ----------------------------------------------------------------------- neuron view

#: Largest int16 code of a quantised vector (the export stores vectors as int16 * quantum).
_INT16 = 32767


def encode_vectors(values: np.ndarray, quantise: bool) -> dict:
    """Float vectors for the neuron view: float32 as they are, or int16 codes and a ``quantum``.

    Quantised values are ``code * quantum`` with ``quantum = max|x| / 32767``: relative
    error below 2e-5 of the largest entry, half the bytes (for exported files).
    """
    values = np.asarray(values, dtype=np.float32)
    if not quantise:
        return {**encode_array(values, compress=False), "quantum": None}
    top = float(np.abs(values).max(initial=0.0))
    quantum = top / _INT16 if top > 0 else 1.0
    codes = np.rint(values / quantum).astype(np.int16)
    return {**encode_array(codes), "quantum": quantum}


def decode_vectors(encoded: dict) -> np.ndarray:
    """The inverse of :func:`encode_vectors` (float32)."""
    values = decode_array(encoded).astype(np.float32)
    return values * np.float32(encoded["quantum"]) if encoded.get("quantum") else values


def neuron_payload(capture: Any, head: int, quantise: bool = False) -> dict:
    """One head of a :class:`attnwidget.transformer.neurons.QueryKey`, for every query token at once.

    ``queries`` ``[T_q, d]`` and ``keys`` ``[T_k, d]`` (the query head's key group), the
    ``masked`` pairs as uint8 ``[T_q, T_k]`` and the score ``bias`` ``[T_q, T_k]`` (T5;
    else None). The browser computes products, scores and the softmax for whichever
    query token is selected, so moving the token needs no round trip.
    """
    kv = capture.kv_head(head)
    arrays = {
        "queries": encode_vectors(capture.query[head], quantise),
        "keys": encode_vectors(capture.key[kv], quantise),
        # A long input sends its rule ("causal"), not a [T, T] array (64 MB at 8,192 tokens).
        "masked": None if capture.masked is None else encode_array(capture.masked.astype(np.uint8)),
        "bias": None if capture.bias is None else encode_vectors(capture.bias[head], quantise),
    }
    return {
        "family": capture.family,
        "part": capture.part,
        "layer": int(capture.layer),
        "head": int(head),
        "kv_head": int(kv),
        "num_kv_heads": int(capture.num_kv_heads),
        "scale": float(capture.scale),
        "head_dim": int(capture.head_dim),
        "mask_rule": getattr(capture, "mask_rule", None),
        "arrays": arrays,
    }


def payload_size(value: Any) -> int:
    """Bytes a synced value takes on the wire: binary parts plus the JSON around them."""
    import json

    buffers = 0

    def strip(v):
        nonlocal buffers
        if isinstance(v, (bytes, bytearray, memoryview)):
            buffers += len(v)
            return None
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strip(x) for x in v]
        return v

    text = json.dumps(strip(value))  # counts the buffers as it goes
    return buffers + len(text.encode())
