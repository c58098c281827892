"""Long inputs through the widget: a small layer description is synced, and the views'
overview / rows / tile / value requests are answered from the store (a real model pass
over 1,100+ tokens of a Llama-shaped model; from_attention past 1,024 tokens)."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidget import AttentionWidget
from attnwidget.errors import AttnWidgetError
from attnwidget.widget.long_payload import LONG_TOKENS
from attnwidget.widget.payload import decode_array, dequantise_sqrt
from attnwidget.widget.protocol import REPLY, REQUEST
from tests.tiny_models import llama_long


def ask(widget, **content):
    sent = []
    original = widget.send
    widget.send = lambda msg, buffers=None: sent.append((msg, buffers))
    try:
        widget._on_request(widget, {"kind": REQUEST, "id": 3, **content}, [])
    finally:
        widget.send = original
    ((reply, buffers),) = sent
    assert reply["kind"] == REPLY and reply["id"] == 3
    return reply, buffers


def arrays(reply, buffers) -> dict:
    return {
        name: decode_array({**reply["arrays"][name], "buffer": buffers[k]}) for k, name in enumerate(reply["order"])
    }


def reply_value(widget, i, j) -> float:
    return ask(widget, what="value", layer=1, heads=[3], i=i, j=j)[0]["value"]


def long_text(tok, n: int) -> str:
    from attnwidget.data import sample_corpus

    text = " ".join(sample_corpus() * 8)
    return tok.decode(tok(text)["input_ids"][:n])


@pytest.fixture(scope="module")
def widget():
    model, tok = llama_long(n_layer=2, n_head=4, n_kv_head=2, window=2048)
    w = AttentionWidget(long_text(tok, 1200), model=(model, tok), annotations=None)
    yield w
    w.close()


def test_a_long_input_syncs_a_description_not_a_layer(widget):
    n = widget._data.num_tokens
    assert n > LONG_TOKENS and widget._data.attention is None
    info = widget._layer_data
    assert info["packing"] == "summary" and "data" not in info
    assert (info["heads"], info["size"], info["block"], info["top_k"]) == (4, n, 3, 16)
    with pytest.raises(AttnWidgetError, match="queries and keys"):
        _ = widget.attention
    widget.layer = 1
    assert widget._layer_data["layer"] == 1


def test_rows_tiles_and_values_agree(widget):
    reply, buffers = ask(widget, what="rows", layer=1, heads=[0, 3], r0=1000, r1=1010)
    rows = arrays(reply, buffers)
    assert rows["top"].dtype == np.uint16 and rows["top"].shape == (2, 10, 16)
    i, j = 1005, int(rows["top"][1, 5, 0])  # head 3's strongest key of row 1005
    reply, _ = ask(widget, what="value", layer=1, heads=[3], i=i, j=j)
    assert reply["value"] == pytest.approx(float(rows["weights"][1, 5, 0]), abs=1e-3)
    reply, buffers = ask(widget, what="tile", layer=1, heads=[3], r0=i, c0=j, cells=4, r=1)
    tile = arrays(reply, buffers)["tile"]
    assert tile[0, 0] == pytest.approx(float(rows["weights"][1, 5, 0]), abs=1e-3)  # float16-kept weight
    assert tile[0, 0] == pytest.approx(reply_value(widget, i, j), abs=1e-6)
    # the weights of a row's keys sum to the mass they cover
    assert rows["weights"][1, 5].sum() == pytest.approx(rows["covered"][1, 5], abs=1e-5)


def test_overview_and_thumbnails(widget):
    reply, buffers = ask(widget, what="overview", layer=0, hide_first=False)
    ov = arrays(reply, buffers)["overview"]
    assert ov.shape == (4, reply["cells"], reply["cells"]) and ov.dtype == np.uint8
    reply, buffers = ask(widget, what="tile", layer=0, heads=[2], r0=0, c0=0, cells=reply["cells"], r=reply["block"])
    pooled = arrays(reply, buffers)["tile"]
    assert np.abs(dequantise_sqrt(ov[2]) - pooled).max() < 0.01  # the overview is the pooled tile, quantised
    reply, buffers = ask(widget, what="thumbnails", hide_first=True)
    thumbs = decode_array({**reply["thumbnails"]["data"], "buffer": buffers[0]})
    assert thumbs.shape[:2] == (2, 4)


def test_bad_requests_are_refused_plainly(widget):
    reply, _ = ask(widget, what="rows", layer=0, heads=[9], r0=0, r1=4)
    assert "heads must be" in reply["error"]
    reply, _ = ask(widget, what="tile", layer=5, heads=[0], r0=0, c0=0, cells=4, r=1)
    assert "layer must be" in reply["error"]


def test_neuron_view_sends_the_causal_rule(widget):
    reply, _ = ask(widget, what="neuron", attention="self", layer=1, head=2)
    neuron = reply["neuron"]
    assert neuron["mask_rule"] == "causal" and neuron["arrays"]["masked"] is None
    assert neuron["order"] == ["queries", "keys"]


def test_from_attention_past_the_limit_uses_the_dense_store():
    rng = np.random.default_rng(0)
    n = LONG_TOKENS + 40
    a = rng.random((1, 2, n, n), dtype=np.float32)
    a /= a.sum(-1, keepdims=True)
    w = AttentionWidget.from_attention([f"t{i}" for i in range(n)], a, is_causal=False)
    try:
        assert w._layer_data["packing"] == "summary"
        reply, buffers = ask(w, what="tile", layer=0, heads=[0, 1], r0=5, c0=7, cells=3, r=1)
        tile = arrays(reply, buffers)["tile"]
        np.testing.assert_allclose(tile, a[0, :, 5:8, 7:10].mean(0), atol=1e-7)
    finally:
        w.close()


def test_export_stays_within_its_budget_and_lists_what_it_holds(widget, tmp_path):
    import json
    import re

    with pytest.raises(AttnWidgetError, match="max_bytes=100,000 is too small"):
        widget.to_html(max_bytes=100_000)
    html = widget.to_html(max_bytes=700_000)
    assert len(html.encode()) <= 700_000
    bundle = json.loads(re.search(r'data-attnwidget="attnwidget-0">(.*?)</script>', html, re.DOTALL)[1])
    long = bundle["long"]
    holds = long["holds"]
    assert widget.layer in holds["overview"] and str(widget.layer) in holds["rows"]
    assert holds["full"] == []  # a model's long input keeps no dense layer to carry
    assert all(layer["packing"] == "summary" for layer in bundle["layers"])
    roomy = json.loads(
        re.search(r'data-attnwidget="attnwidget-0">(.*?)</script>', widget.to_html(max_bytes=25_000_000), re.DOTALL)[1]
    )["long"]["holds"]
    assert roomy["overview"] == [0, 1] and roomy["rows"][str(widget.layer)] == 16
