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

A widget is read only through its public ``export_snapshot()`` (:class:`WidgetSnapshot`).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from attnwidget.errors import AttnWidgetError, NeuronViewError
from attnwidget.widget.js_bundles import inline_script
from attnwidget.widget.long_export import MAX_BYTES, FullLayer, long_bundle
from attnwidget.widget.long_payload import layer_info, store_thumbnails, summarised
from attnwidget.widget.model_input import NEEDS_MODEL, ModelInput
from attnwidget.widget.payload import (
    AttentionData,
    decode_array,
    encode_array,
    layer_payload,
    neuron_payload,
    thumbnails_payload,
    with_base64,
)

#: Traits copied into the exported page (its starting view).
EXPORTED_TRAITS = (
    "view",
    "layer",
    "heads",
    "token",
    "token_role",
    "threshold",
    "prune",
    "hide_first",
    "renormalise",
    "level",
    "theme",
    "pair_filter",
    "attention_kind",
    "step",
)
#: Bytes of neuron-view vectors an exported file carries (about 7 heads at 512 tokens x 64 dims).
NEURON_BUDGET = 1_000_000


@dataclass
class WidgetSnapshot:
    """What an exported page shows of a widget (``AttentionWidget.export_snapshot()``)."""

    state: dict[str, Any]  #: the starting view: the :data:`EXPORTED_TRAITS` and ``_meta``
    shown: AttentionData  #: the attention of ``state["attention_kind"]``
    others: dict[str, tuple[dict, AttentionData]]  #: an encoder-decoder's other kinds: (``_meta``, attention)
    model_input: ModelInput | None  #: the model and what it read, for the neuron view; None: no model


class Exportable(Protocol):
    """A widget this module can export: it says what its page shows."""

    def export_snapshot(self) -> WidgetSnapshot: ...


def bundle_script() -> str:
    """The standalone JS bundle, safe to inline in a <script> element."""
    return inline_script("standalone.js")


def _attention_bundle(data, limit: int | None = None) -> tuple[list, dict] | None:
    """Every layer of one attention, and its thumbnails, compressed and base64; None when
    the layers pass ``limit`` bytes (then the file carries summaries: long_export.py).

    Whether they fit is first estimated from samples of three layers, so that a long
    input's layers are not all compressed only to be dropped."""
    if limit is not None and _estimated_layers(data) > limit:
        return None
    layers, spent = [], 0
    for layer in range(data.num_layers):
        payload = layer_payload(data, layer)
        packed = payload["data"]
        if packed["compression"] is None:  # always compress in files: they are read from disk
            packed = encode_array(decode_array(packed), compress=True)
        layers.append({**payload, "data": with_base64(packed)})
        spent += len(layers[-1]["data"]["buffer"])
        if limit is not None and spent > limit:
            return None
    thumbs = {}
    for key, hide in (("plain", False), ("hide_first", True)):
        t = thumbnails_payload(data, hide)
        thumbs[key] = {**t, "data": with_base64(t["data"])}
    return layers, thumbs


def _estimated_layers(data: AttentionData) -> int:
    """Base64 bytes of every layer gzipped, extrapolated from the first, middle and last."""
    sampled = sorted({0, data.num_layers // 2, data.num_layers - 1})
    each = [FullLayer(data.attention[at], data.is_causal).estimate for at in sampled]
    return int(sum(each) / len(each) * data.num_layers)


def neuron_bundle(widget: Exportable, budget: int = NEURON_BUDGET) -> dict:
    """The exported layer's neuron-view heads (selected heads first) within ``budget`` bytes.

    ``{"heads": [payload, ...], "note": why nothing or not everything is embedded}``.
    """
    return _neuron_bundle(widget.export_snapshot(), budget)


def _neuron_bundle(snapshot: WidgetSnapshot, budget: int) -> dict:
    if snapshot.model_input is None:
        return {"heads": [], "note": NEEDS_MODEL}
    kind, layer, selected = snapshot.state["attention_kind"], snapshot.state["layer"], snapshot.state["heads"]
    try:
        capture = snapshot.model_input.capture(kind, layer)
    except NeuronViewError as err:
        return {"heads": [], "note": str(err)}
    order = list(selected) + [h for h in range(capture.num_heads) if h not in selected]
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


def _add_long(bundle: dict, data: AttentionData, fixed: int, max_bytes: int) -> None:
    """A long input's part of the page: each layer's description and thumbnails, then the
    overviews and strongest lines that fit (long_export.py); refuses a budget below the minimum."""
    layer = bundle["state"]["layer"]
    bundle["layers"] = [layer_info(data, i) for i in range(data.num_layers)]
    thumbs = {key: store_thumbnails(data, hide) for key, hide in (("plain", False), ("hide_first", True))}
    bundle["thumbnails"] = {key: {**t, "data": with_base64(t["data"])} for key, t in thumbs.items()}
    fixed += len(script_json(bundle["layers"])) + sum(len(t["data"]["buffer"]) for t in bundle["thumbnails"].values())
    bundle["long"] = long_bundle(data, layer, max_bytes - fixed)
    need = fixed + bundle["long"]["bytes"]
    if need > max_bytes:
        raise AttnWidgetError(
            f"max_bytes={max_bytes:,} is too small for this input: the page needs at least {need:,} bytes "
            "(the views' code, the tokens, the thumbnails and the shown layer's overview); raise max_bytes"
        )
    bundle["state"]["_layer_data"] = bundle["layers"][layer]


def static_bundle(widget: Exportable, max_bytes: int = MAX_BYTES) -> dict:
    """Everything the exported page needs: traits, sentence, all layers (or, past
    ``max_bytes``, what of them fits: long_export.py), thumbnails, neuron vectors."""
    return _static_bundle(widget.export_snapshot(), max_bytes)


def _static_bundle(snapshot: WidgetSnapshot, max_bytes: int = MAX_BYTES) -> dict:
    data = snapshot.shown
    bundle = {
        "state": dict(snapshot.state),
        "neuron": _neuron_bundle(snapshot, min(NEURON_BUDGET, max_bytes // 10)),
    }
    fixed = len(bundle_script()) + len(script_json(bundle)) + 4096
    full = None if summarised(data) else _attention_bundle(data, limit=max_bytes - fixed)
    if full is not None:
        bundle["layers"], bundle["thumbnails"] = full
    else:
        _add_long(bundle, data, fixed, max_bytes)
    others = {}
    for kind, (meta, data) in snapshot.others.items():  # encoder-decoder: the other two attentions
        other_layers, other_thumbs = _attention_bundle(data)
        others[kind] = {"meta": meta, "layers": other_layers, "thumbnails": other_thumbs}
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
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:; worker-src blob:">
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


def to_html(widget: Exportable, title: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """The exported page as a string, at most about ``max_bytes`` long (a long input carries
    what fits; the page says what it lacks)."""
    snapshot = widget.export_snapshot()
    data = snapshot.shown
    if title is None:
        title = f"attnwidget · {data.model_name} · {data.num_tokens} tokens"
    return _PAGE.format(
        title=html.escape(title),
        heading=html.escape(title),
        data=script_json(_static_bundle(snapshot, max_bytes)),
        bundle=bundle_script(),
    )


def save_html(widget: Exportable, path: str | Path, title: str | None = None, max_bytes: int = MAX_BYTES) -> Path:
    """Write the exported page to ``path`` (UTF-8) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(widget, title=title, max_bytes=max_bytes), encoding="utf-8")
    return path
