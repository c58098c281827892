"""Payload encoding: binary round trips, quantisation, packing, thumbnails, and the
fixture that js/test/data/codec.test.ts decodes (both sides must agree byte for byte)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attnwidget.widget.payload import (
    AttentionData,
    decode_array,
    dequantise_sqrt,
    encode_array,
    layer_payload,
    meta_payload,
    neuron_payload,
    pack_layer,
    payload_size,
    quantise_sqrt,
    thumbnails,
    unpack_layer,
    with_base64,
    word_units,
)
from testdata import softmax_attention

FIXTURE = Path(__file__).resolve().parents[2] / "js" / "test" / "fixtures" / "payloads.json"


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "float32"])
@pytest.mark.parametrize("compress", [False, True])
def test_encode_decode_round_trip(dtype, compress):
    rng = np.random.default_rng(1)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    enc = encode_array(arr, compress=compress)
    assert isinstance(enc["buffer"], bytes)
    assert enc["dtype"] == dtype and enc["shape"] == [3, 4, 5]
    assert enc["compression"] == ("gzip" if compress else None)
    np.testing.assert_array_equal(decode_array(enc), arr)
    np.testing.assert_array_equal(decode_array(with_base64(enc)), arr)


def test_large_payloads_are_compressed_small_ones_not():
    assert encode_array(np.zeros(100, np.uint8))["compression"] is None
    big = encode_array(np.zeros(200_000, np.uint8))
    assert big["compression"] == "gzip" and len(big["buffer"]) < 2_000


def test_sqrt_quantisation_error_is_bounded_in_sqrt_space():
    a = np.linspace(0, 1, 10_001, dtype=np.float32)
    back = dequantise_sqrt(quantise_sqrt(a))
    # half a step of 1/255 in sqrt space: what the views draw (alpha = sqrt(w)) is exact to 1/510
    assert np.abs(np.sqrt(back) - np.sqrt(a)).max() <= 0.5 / 255 + 1e-6
    assert quantise_sqrt(np.array([1e-4]))[0] > 0  # weak weights stay visible
    assert quantise_sqrt(np.array([0.0, 1.0, 1.5, -0.1])).tolist() == [0, 255, 255, 0]


@pytest.mark.parametrize("causal", [True, False])
def test_pack_unpack_layer(causal):
    att = softmax_attention(1, 3, 7, causal=causal)[0]
    q, packing = pack_layer(att, causal)
    assert packing == ("tril" if causal else "full")
    assert q.size == (3 * 7 * 8 // 2 if causal else 3 * 49)
    back = unpack_layer(q, 3, 7, packing)
    assert np.abs(np.sqrt(back) - np.sqrt(att)).max() <= 0.5 / 255 + 1e-6
    if causal:
        assert np.all(np.triu(back, 1) == 0)


def test_tril_packing_is_row_major():
    att = np.zeros((1, 3, 3), np.float32)
    att[0] = [[1, 0, 0], [0.25, 0.75, 0], [0.04, 0.16, 0.8]]
    q, _ = pack_layer(att, causal=True)
    assert q.tolist() == quantise_sqrt(np.array([1, 0.25, 0.75, 0.04, 0.16, 0.8])).tolist()


def test_layer_payload_is_binary_and_small():
    data = AttentionData(tokens=[f"t{i}" for i in range(512)], attention=softmax_attention(1, 12, 512), is_causal=True)
    p = layer_payload(data, 0)
    assert p["packing"] == "tril" and p["size"] == 512 and p["heads"] == 12
    assert isinstance(p["data"]["buffer"], bytes)
    assert payload_size(p) < 12 * 512 * 513 // 2 + 1_000  # never more than one byte per kept weight
    back = unpack_layer(decode_array(p["data"]), 12, 512, "tril")
    assert back.shape == (12, 512, 512)


def test_encoded_layers_are_kept_within_a_byte_budget(monkeypatch):
    import attnwidget.widget.payload as payload

    data = AttentionData(tokens=[f"t{i}" for i in range(64)], attention=softmax_attention(6, 2, 64), is_causal=True)
    encoded = []
    monkeypatch.setattr(payload, "encode_array", lambda a: encoded.append(a) or encode_array(a))
    first = layer_payload(data, 2)  # a prefetch of a neighbour ...
    assert layer_payload(data, 2) is first and len(encoded) == 1  # ... then the synced layer: encoded once
    size = len(first["data"]["buffer"])
    monkeypatch.setattr(payload, "ENCODED_BYTES", int(3.5 * size))
    for layer in range(6):
        layer_payload(data, layer)
    assert list(data._thumbnails["encoded layers"]) == [3, 4, 5]  # the least recently used out first
    monkeypatch.setattr(payload, "ENCODED_BYTES", 1)
    layer_payload(data, 0)
    assert list(data._thumbnails["encoded layers"]) == [0]  # past the budget only the newest stays


def test_layers_are_encoded_ahead_nearest_first_within_the_budget(monkeypatch):
    import attnwidget.widget.payload as payload

    data = AttentionData(tokens=[f"t{i}" for i in range(64)], attention=softmax_attention(8, 2, 64), is_causal=True)
    size = len(layer_payload(data, 4)["data"]["buffer"])
    monkeypatch.setattr(payload, "ENCODED_BYTES", int(5.5 * size))
    payload.encode_ahead(data, 4, stop=lambda: False)
    assert sorted(data._thumbnails["encoded layers"]) == [2, 3, 4, 5, 6]  # 5, 3, 6, 2: no room for a sixth
    stopped = AttentionData(tokens=data.tokens, attention=data.attention, is_causal=True)
    payload.encode_ahead(stopped, 0, stop=lambda: True)
    assert "encoded layers" not in stopped._thumbnails


def test_thumbnails_keep_peaks_when_downsampling():
    att = np.zeros((1, 1, 130, 130), np.float32)
    att[0, 0, 129, 1] = 1.0  # one strong weight in a long input
    thumbs, block = thumbnails(att, size=64)
    assert block == 3 and thumbs.shape == (1, 1, 44, 44)
    assert thumbs[0, 0, 43, 0] == 255
    hidden, _ = thumbnails(np.ones((1, 1, 4, 4), np.float32) / 4, hide_first=True)
    assert hidden[0, 0, :, 0].tolist() == [0, 0, 0, 0]


def test_payload_size_counts_binary_parts_and_json():
    assert payload_size({"a": b"x" * 1000, "b": [1, 2]}) == 1000 + len('{"a": null, "b": [1, 2]}')


def test_word_units_merge_pieces_and_keep_special_tokens():
    of_token, unit_word = word_units(np.array([-1, 0, 0, 1, 2, 2, -1]))
    assert of_token == [0, 1, 1, 2, 3, 3, 4]
    assert unit_word == [-1, 0, 1, 2, -1]


def fixture_payloads() -> dict:
    """A tiny deterministic case that the JS codec tests decode."""
    att = softmax_attention(2, 2, 4, causal=True, seed=3)
    data = AttentionData(tokens=["a", "b", "c", "d"], attention=att, is_causal=True)
    full = AttentionData(tokens=["a", "b", "c", "d"], attention=softmax_attention(1, 2, 4, causal=False, seed=4))
    layer = layer_payload(data, 1)
    layer_full = layer_payload(full, 0)
    gz = encode_array(quantise_sqrt(att[1]).reshape(-1), compress=True)
    return {
        "tril": {**layer, "data": with_base64(layer["data"])},
        "full": {**layer_full, "data": with_base64(layer_full["data"])},
        "gzip": with_base64(gz),
        "expected_tril": [round(float(v), 6) for v in dequantise_sqrt(quantise_sqrt(att[1])).reshape(-1)],
        "expected_full": [round(float(v), 6) for v in dequantise_sqrt(quantise_sqrt(full.attention[0])).reshape(-1)],
        "meta": meta_payload(data),
        "neuron": neuron_fixture(),
    }


def neuron_fixture() -> dict:
    """One head of a made-up causal capture (2 query heads sharing 1 key head), as exported."""
    from attnwidget.transformer.neurons import QueryKey

    rng = np.random.default_rng(5)
    n, d = 4, 3
    qk = QueryKey(
        family="test",
        layer=1,
        part="self",
        query=rng.normal(size=(2, n, d)).astype(np.float32),
        key=rng.normal(size=(1, n, d)).astype(np.float32),
        bias=None,
        masked=np.triu(np.ones((n, n), bool), 1),
        scale=d**-0.5,
        attention=np.zeros((2, n, n), np.float32),
    )
    payload = neuron_payload(qk, 1, quantise=True)
    arrays = {k: None if a is None else with_base64(a) for k, a in payload["arrays"].items()}
    return {
        "payload": {**payload, "attention": "self", "arrays": arrays},
        "expected_query_2": [round(float(v), 4) for v in qk.query[1, 2]],
        "expected_weights_2": [round(float(v), 4) for v in qk.weights(1, 2)],
    }


def test_js_fixture_matches_python_encoding():
    """js/test/fixtures/payloads.json must be what payload.py produces today.

    Regenerate with: PYTHONPATH=tests/widget:tests python -c "import json, test_payload as t;
    print(json.dumps(t.fixture_payloads(), indent=1))" > js/test/fixtures/payloads.json
    """
    assert json.loads(FIXTURE.read_text()) == json.loads(json.dumps(fixture_payloads()))
