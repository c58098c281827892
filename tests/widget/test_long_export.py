"""Exporting a long dense input within its budget: only what the file carries is compressed
(sizes are estimated from samples first), the shown layer travels in full when it fits, and
the estimates and pooling the exporter relies on are right."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest

from attnwidget import AttentionWidget
from attnwidget.widget.long_export import BASE64, FullLayer, Part
from attnwidget.widget.payload import decode_array, pack_layer
from attnwidget.widget.pooling import max_pool
from tests.tiny_models import causal_softmax_attention as causal_attention


def bundle_of(html: str) -> dict:
    return json.loads(re.search(r'data-attnwidget="attnwidget-0">(.*?)</script>', html, re.DOTALL)[1])


def carried_gzip_bytes(value) -> int:
    """Base64 bytes of every gzipped array in a page's bundle."""
    if isinstance(value, dict):
        if value.get("compression") == "gzip" and isinstance(value.get("buffer"), str):
            return len(value["buffer"])
        return sum(carried_gzip_bytes(v) for v in value.values())
    if isinstance(value, list):
        return sum(carried_gzip_bytes(v) for v in value)
    return 0


def settled(widget) -> None:
    """Wait for the layers the widget encodes ahead for layer switches (their gzip is not the export's)."""
    encoding = getattr(widget, "_encoding", None)
    if encoding is not None:
        encoding.join(60)


@pytest.fixture
def gzip_output(monkeypatch) -> list[int]:
    """Bytes of every gzip stream made while the test runs (zlib.compress / compressobj, wbits 31)."""
    made: list[int] = []
    compress, compressobj = zlib.compress, zlib.compressobj

    def counting_compress(data, level=-1, wbits=15):
        out = compress(data, level, wbits)
        if wbits == 31:
            made.append(len(out))
        return out

    class Counting:
        def __init__(self, stream):
            self.stream = stream

        def compress(self, data):
            out = self.stream.compress(data)
            made.append(len(out))
            return out

        def flush(self, *mode):
            out = self.stream.flush(*mode)
            made.append(len(out))
            return out

    def counting_compressobj(level=-1, method=zlib.DEFLATED, wbits=15, *rest, **options):
        stream = compressobj(level, method, wbits, *rest, **options)  # (numba's cache passes zdict)
        return Counting(stream) if wbits == 31 else stream

    monkeypatch.setattr(zlib, "compress", counting_compress)
    monkeypatch.setattr(zlib, "compressobj", counting_compressobj)
    return made


@pytest.mark.parametrize("max_bytes", [1_350_000, 2_000_000])
def test_a_2048_token_export_compresses_only_what_it_carries(gzip_output, max_bytes):
    # 2,048 tokens: the shown layer in full (~2.8 MB of base64) does not fit, nor (in the
    # smaller file) the other layer's overview at full size and its strongest lines; none of
    # them may be compressed and then thrown away.
    n = 2048
    att = causal_attention(2, 2, n)
    w = AttentionWidget.from_attention([f" t{i}" for i in range(n)], att, model_name="dense")
    try:
        w.store.summarise_all(progress=False)
        settled(w)
        gzip_output.clear()
        html = w.to_html(max_bytes=max_bytes)
    finally:
        w.close()
    bundle = bundle_of(html)
    holds = bundle["long"]["holds"]
    print(holds)
    assert len(html.encode()) <= max_bytes
    assert holds["full"] == [] and holds["overview"] == [0, 1]
    carried = carried_gzip_bytes(bundle)
    made = sum(gzip_output) * BASE64
    # (arrays under 64 KB are compressed to learn their size: a few such may be left out)
    assert made <= carried * 1.01 + 64_000, f"compressed {made:,.0f} bytes of base64, the file carries {carried:,}"


def test_an_input_whose_layers_pass_the_budget_is_not_compressed_layer_by_layer(gzip_output):
    # Up to 1,024 tokens a file carries every layer when they fit; these 6 layers do not
    # (~0.7 MB each in 2 MB), and the estimate says so before any layer is compressed.
    n = 1024
    att = causal_attention(6, 2, n)
    w = AttentionWidget.from_attention([f" t{i}" for i in range(n)], att, model_name="dense")
    try:
        settled(w)
        gzip_output.clear()
        html = w.to_html(max_bytes=2_000_000)
    finally:
        w.close()
    bundle = bundle_of(html)
    assert "long" in bundle and len(html.encode()) <= 2_000_000
    assert sum(gzip_output) * BASE64 <= carried_gzip_bytes(bundle) * 1.01 + 64_000


def test_the_shown_layer_travels_in_full_when_it_fits():
    n = 1100
    att = causal_attention(2, 2, n, seed=1)
    w = AttentionWidget.from_attention([f" t{i}" for i in range(n)], att, model_name="dense", layer=1)
    try:
        long = bundle_of(w.to_html())["long"]
    finally:
        w.close()
    assert long["holds"]["full"] == [1]
    full = long["full"]["1"]
    expected, packing = pack_layer(att[1], True)
    assert full["packing"] == packing == "tril"
    np.testing.assert_array_equal(decode_array(full["data"]), expected)


def test_size_estimates_are_close_to_the_compressed_size():
    att = causal_attention(1, 3, 1500, seed=2)[0]
    full = FullLayer(att, causal=True)
    actual = len(full.encode(room=10**9)["data"]["buffer"]) * BASE64
    assert abs(full.estimate - actual) <= 0.15 * actual
    overview = max_pool(np.sqrt(att) * 255, 2).astype(np.uint8)
    part = Part(overview)  # past EXACT_BELOW: estimated from samples
    estimate = part.estimate
    assert abs(estimate - len(part.encode()["buffer"]) * BASE64) <= 0.15 * estimate


def test_an_encoding_that_passes_its_room_stops():
    att = causal_attention(1, 3, 600)[0]
    assert FullLayer(att, causal=True).encode(room=10_000) is None


@pytest.mark.parametrize(("shape", "factor"), [((3, 64, 64), 2), ((2, 100, 100), 3), ((2, 5, 5), 4), ((1, 9, 9), 1)])
def test_max_pool_keeps_each_blocks_strongest_cell(shape, factor):
    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    h, p, _ = shape
    cells = -(-p // factor)
    padded = np.zeros((h, cells * factor, cells * factor), np.uint8)
    padded[:, :p, :p] = a
    expected = padded.reshape(h, cells, factor, cells, factor).max(axis=(2, 4))
    np.testing.assert_array_equal(max_pool(a, factor), expected)
