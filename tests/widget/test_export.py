"""HTML export: one self-contained file, every layer inside, user text kept inert."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from attnwidget.widget.attention_widget import AttentionWidget
from attnwidget.widget.export import script_json, static_bundle
from attnwidget.widget.payload import decode_array, dequantise_sqrt, quantise_sqrt, unpack_layer
from testdata import softmax_attention

EVIL = "</script><img src=x onerror=alert(1)>"


@pytest.fixture
def widget():
    tokens = ["Hello", EVIL, " & ", "world"]
    return AttentionWidget.from_attention(tokens, softmax_attention(3, 2, 4, causal=True), layer=1, view="matrix")


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" data-attnwidget="attnwidget-0">(.*?)</script>', html, re.S)
    assert m, "no embedded data block"
    return json.loads(m.group(1))


def test_page_is_self_contained(widget):
    html = widget.to_html()
    assert html.startswith("<!DOCTYPE html>")
    # no external resources of any kind
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert "http://" not in html.split("<script>")[0]  # head/body markup references nothing remote
    assert "default-src 'none'" in html  # and the CSP forbids fetching anything
    assert "attnwidget.mountAll()" in html


def test_user_text_cannot_break_out_of_the_page(widget):
    html = widget.to_html(title="<b>title</b>")
    assert "<img src=x" not in html
    assert EVIL not in html
    assert "&lt;b&gt;title&lt;/b&gt;" in html
    data = embedded(html)
    assert data["state"]["_meta"]["tokens"][1] == EVIL  # the characters survive as data
    assert "<" not in script_json({"t": "<>&\u2028"})


def test_every_layer_and_the_view_state_are_embedded(widget):
    data = embedded(widget.to_html())
    assert data["state"]["layer"] == 1 and data["state"]["view"] == "matrix"
    assert [p["layer"] for p in data["layers"]] == [0, 1, 2]
    for layer, p in enumerate(data["layers"]):
        assert p["data"]["compression"] == "gzip"
        back = unpack_layer(decode_array(p["data"]), 2, 4, p["packing"])
        np.testing.assert_allclose(back, dequantise_sqrt(quantise_sqrt(widget.attention[layer])), atol=1e-7)
    assert set(data["thumbnails"]) == {"plain", "hide_first"}


def test_save_html_writes_the_file(widget, tmp_path):
    path = widget.save_html(tmp_path / "sub" / "w.html")
    assert path.exists()
    assert path.read_text(encoding="utf-8") == widget.to_html()


def test_export_of_a_long_input_stays_compact():
    n = 256
    w = AttentionWidget.from_attention([f"t{i}" for i in range(n)], softmax_attention(2, 12, n, causal=True, scale=4))
    size = len(w.to_html().encode())
    raw_float32_json = 2 * 12 * n * n * 8  # what embedding every weight as JSON text costs
    assert size < raw_float32_json / 10


def test_static_bundle_mirrors_widget_traits(widget):
    widget.heads = [1]
    widget.hide_first = True
    b = static_bundle(widget)
    assert b["state"]["heads"] == [1] and b["state"]["hide_first"] is True


@pytest.mark.slow
def test_demo_writes_a_page(tmp_path, monkeypatch):
    from attnwidget.cli import demo as demo_module

    opened = []
    monkeypatch.setattr(demo_module.webbrowser, "open", lambda url: opened.append(url))
    path = demo_module.demo(tmp_path / "demo.html", open_browser=True, text="Dogs bark.")
    assert path.exists() and opened == [path.as_uri()]
    data = embedded(path.read_text(encoding="utf-8"))
    assert data["state"]["_meta"]["syntax"]["source"] == "spacy"
    assert "Dogs" in data["state"]["_meta"]["tokens"] or "dogs" in data["state"]["_meta"]["tokens"]
