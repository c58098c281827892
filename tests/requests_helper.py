"""Requests as the browser sends them, to a widget or an explorer (importable from any test module)."""

from __future__ import annotations

from attnwidget.widget.payload import decode_array, decode_vectors
from attnwidget.widget.protocol import REPLY, REQUEST


def ask(widget, **request):
    """Send one request as the browser does and return (reply, buffers)."""
    sent = []
    original = widget.send
    widget.send = lambda content, buffers=None: sent.append((content, buffers or []))
    try:
        widget._on_request(widget, {"kind": REQUEST, "id": 9, **request}, [])
    finally:
        widget.send = original
    assert len(sent) == 1 and sent[0][0]["kind"] == REPLY and sent[0][0]["id"] == 9
    return sent[0]


def neuron_arrays(reply, buffers) -> dict:
    """The arrays of a neuron reply, decoded by name."""
    n = reply["neuron"]
    assert len(buffers) == len(n["order"])
    out = dict.fromkeys(n["arrays"])
    for name, buffer in zip(n["order"], buffers):
        encoded = {**n["arrays"][name], "buffer": buffer}
        out[name] = decode_vectors(encoded) if "quantum" in encoded else decode_array(encoded)
    return out
