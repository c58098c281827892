"""Self-contained HTML export of an AttentionWidget.

The page carries the standalone bundle (``static/standalone.js``) and every layer's
quantised attention inline, so it shows the same interactive views with no kernel and no
network. Layers and thumbnails are gzip-compressed and inflated by the browser's own
``DecompressionStream``. All user text (tokens, words, title) reaches the page inside a
JSON script block with ``<``, ``>`` and ``&`` escaped, and is drawn as text by the views.

An encoder-decoder widget carries all three attentions. The neuron view's vectors are
T x d per head and layer, too many to carry for every one: the file holds the exported
layer's heads (the selected ones first) up to :data:`NEURON_BUDGET` bytes, as int16, and
the view says so when another layer or head is chosen.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

from attnwidget.widget.js_bundles import inline_script
from attnwidget.widget.payload import decode_array, encode_array, layer_payload, neuron_payload, thumbnails_payload, with_base64

if TYPE_CHECKING:
    from attnwidget.widget.attention_widget import AttentionWidget


#: Traits copied into the exported page (its starting view).
EXPORTED_TRAITS = (
    "view", "layer", "heads", "token", "token_role", "threshold", "prune",
    "hide_first", "renormalise", "level", "theme", "pair_filter", "attention_kind", "step",
)
#: Bytes of neuron-view vectors an exported file carries (about 7 heads at 512 tokens x 64 dims).
NEURON_BUDGET = 1_000_000


def bundle_script() -> str:
    """The standalone JS bundle, safe to inline in a <script> element."""
    return inline_script("standalone.js")


def _attention_bundle(data) -> tuple[list, dict]:
    """Every layer of one attention, and its thumbnails, compressed and base64."""
    layers = []
    for layer in range(data.num_layers):
        payload = layer_payload(data, layer)
        packed = payload["data"]
        if packed["compression"] is None:  # always compress in files: they are read from disk
            packed = encode_array(decode_array(packed), compress=True)
        layers.append({**payload, "data": with_base64(packed)})
    thumbs = {}
    for key, hide in (("plain", False), ("hide_first", True)):
        t = thumbnails_payload(data, hide)
        thumbs[key] = {**t, "data": with_base64(t["data"])}
    return layers, thumbs


def neuron_bundle(widget: "AttentionWidget", budget: int = NEURON_BUDGET) -> dict:
    """The exported layer's neuron-view heads (selected heads first) within ``budget`` bytes.

    ``{"heads": [payload, ...], "note": why nothing or not everything is embedded}``.
    """
    from attnwidget.transformer.neurons import NeuronViewError
    from attnwidget.widget.attention_widget import NEEDS_MODEL

    if widget._input is None:
        return {"heads": [], "note": NEEDS_MODEL}
    kind, layer = widget.attention_kind, widget.layer
    try:
        capture = widget._input.capture(kind, layer)
    except NeuronViewError as err:
        return {"heads": [], "note": str(err)}
    order = list(widget.heads) + [h for h in range(capture.num_heads) if h not in widget.heads]
    heads, spent = [], 0
    for head in order:
        payload = neuron_payload(capture, head, quantise=True)
        size = sum(len(a["buffer"]) for a in payload["arrays"].values() if a is not None)
        if heads and spent + size > budget:
            break
        spent += size
        arrays = {k: None if a is None else with_base64(a) for k, a in payload["arrays"].items()}
        heads.append({**payload, "attention": kind, "arrays": arrays})
    kept = sorted(p["head"] for p in heads)
    note = (
        f"this file carries the vectors of layer {layer}"
        + (f" ({kind} attention)" if kind != "self" else "")
        + f", heads {', '.join(map(str, kept))}; export with another layer or head selected to carry those"
    )
    return {"heads": heads, "note": note}


def static_bundle(widget: "AttentionWidget") -> dict:
    """Everything the exported page needs: traits, sentence, all layers, thumbnails, neuron vectors."""
    layers, thumbs = _attention_bundle(widget._data)
    state = {name: getattr(widget, name) for name in EXPORTED_TRAITS}
    state["_meta"] = widget._meta
    bundle = {"state": state, "layers": layers, "thumbnails": thumbs, "neuron": neuron_bundle(widget)}
    others = {}
    for kind, data in widget._kinds.items():  # encoder-decoder: the other two attentions
        if kind != widget.attention_kind:
            other_layers, other_thumbs = _attention_bundle(data)
            others[kind] = {"meta": widget._meta_of(data), "layers": other_layers, "thumbnails": other_thumbs}
    if others:
        bundle["kinds"] = others
    return bundle


def script_json(value) -> str:
    """JSON that cannot close or break out of a <script> element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:">
<title>{title}</title>
<style>
  body {{ margin: 16px; font-family: system-ui, sans-serif; background: #ffffff; color: #1f2328; }}
  @media (prefers-color-scheme: dark) {{ body {{ background: #1e1e1e; color: #e6edf3; }} }}
  h1 {{ font-size: 15px; font-weight: 600; margin: 0 0 8px; }}
</style>
</head>
<body>
<h1>{heading}</h1>
<div id="attnwidget-0"></div>
<script type="application/json" data-attnwidget="attnwidget-0">{data}</script>
<script>{bundle}</script>
<script>attnwidget.mountAll();</script>
</body>
</html>
"""


def to_html(widget: "AttentionWidget", title: str | None = None) -> str:
    """The exported page as a string."""
    data = widget._data
    if title is None:
        title = f"attnwidget · {data.model_name} · {data.num_tokens} tokens"
    return _PAGE.format(
        title=html.escape(title),
        heading=html.escape(title),
        data=script_json(static_bundle(widget)),
        bundle=bundle_script(),
    )


def save_html(widget: "AttentionWidget", path: str | Path, title: str | None = None) -> Path:
    """Write the exported page to ``path`` (UTF-8) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(widget, title=title), encoding="utf-8")
    return path
