"""A live widget in Chromium for the benches: the kernel's real messages, no Jupyter server.

The widget's anywidget bundle (``static/widget.js``) renders in a page on a widget model
that forwards every ``save_changes`` and ``send`` to this Python process through a
Playwright binding. Here they enter the widget as Jupyter's comm would hand them over
(``comm.handle_msg``: ipywidgets' own ``update`` and ``custom`` handling), and what the
widget publishes (``comm_open`` with its state, ``update``/``echo_update`` and custom
replies) goes back as the binding's answer. So the browser asks what it asks in a
notebook, the kernel computes what it computes there (the model's pass, summaries, exact
tiles and values), and the bytes counted are those ipywidgets would put on the wire:
each message's JSON plus its binary buffers. Buffers travel base64 through Playwright;
decoding them is in the browser's figures, as the websocket's framing is in a notebook's.

One :class:`LiveHost` per process: it replaces ``comm.create_comm`` for the widgets made
after it, so make the host first, then the widget.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import ClassVar

import comm
from comm.base_comm import BaseComm

ORIGIN = "http://attnwidget.bench"  # served by page.route; module scripts need an http(s) origin

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>attnwidget live bench</title></head>
<body style="margin:0"><div id="widget"></div>
<script type="module">
import widget from "./widget.js";

const b64 = (s) => { const bin = atob(s); const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i); return new DataView(u.buffer); };

// ipywidgets' _put_buffers: each buffer back at its path in the state.
function putBuffers(state, paths, buffers) {
  paths.forEach((path, k) => { let o = state;
    for (const key of path.slice(0, -1)) o = o[key];
    o[path[path.length - 1]] = buffers[k]; });
}

// The slice of anywidget's model the views use (js/src/host/widget_model.ts), over the binding.
class BridgeModel {
  constructor(state) {
    this.state = state; this.handlers = new Map(); this.dirty = {};
    this.waiting = new Set(); this.polling = false; // request ids whose replies are due
  }
  get(name) { return this.state[name]; }
  set(name, value) { this.state[name] = value; this.dirty[name] = value; this.emit(`change:${name}`, value); }
  save_changes() {
    const state = this.dirty; this.dirty = {};
    if (Object.keys(state).length) this.toKernel({ method: "update", state, buffer_paths: [] });
  }
  send(content) {
    if (content?.kind === "attnwidget:request") this.waiting.add(content.id);
    if (content?.what === "tiles") window.awTrips[content.id] = { sent: performance.now() };
    this.toKernel({ method: "custom", content });
  }
  on(event, cb) { if (!this.handlers.has(event)) this.handlers.set(event, new Set()); this.handlers.get(event).add(cb); }
  off(event, cb) {
    if (!event) this.handlers.clear();
    else if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }
  emit(event, ...args) { for (const cb of [...(this.handlers.get(event) ?? [])]) cb(...args); }
  async toKernel(data) {
    window.awSent += JSON.stringify(data).length;
    this.receive(await window.awKernel(data));
  }
  // A reply the kernel sends later (batched tiles, from a worker thread): asked for while one
  // is due, 1 ms after the last answer and 2 ms while none comes (polling every
  // millisecond took CPU from the kernel's tile threads; a blocking wait in Python held up
  // the page's other calls).
  async poll() {
    if (this.polling) return;
    this.polling = true;
    let pause = 1;
    while (this.waiting.size) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      const got = await window.awTake();
      this.receive(got);
      pause = got.length ? 1 : Math.min(2, pause * 2);
    }
    this.polling = false;
  }
  receive(messages) {
    for (const m of messages) {
      window.awReceived += m.size;
      const buffers = m.buffers.map(b64);
      const data = m.data;
      if (data.method === "update" || data.method === "echo_update") {
        if (data.method === "echo_update") continue; // this page made the change; nothing to redo
        putBuffers(data.state, data.buffer_paths ?? [], buffers);
        for (const [k, v] of Object.entries(data.state)) { this.state[k] = v; this.emit(`change:${k}`, v); }
        this.emit("change");
      } else if (data.method === "custom") {
        if (data.content?.kind === "attnwidget:reply") this.waiting.delete(data.content.id);
        const trip = window.awTrips[data.content?.id];
        if (trip && trip.got === undefined) trip.got = performance.now(); // a tiles request's reply is in
        this.emit("msg:custom", data.content, buffers);
      }
    }
    if (this.waiting.size) this.poll();
  }
}

window.awSent = 0;
window.awTrips = {}; // tiles requests by id: when sent, when their reply came
window.awReceived = 0;
window.awMount = (opened, updates) => {
  const t0 = performance.now();
  window.awReceived += opened.size;
  const state = opened.data.state;
  putBuffers(state, opened.data.buffer_paths ?? [], opened.buffers.map(b64));
  const model = new BridgeModel(state);
  model.receive(updates);
  const el = document.getElementById("widget");
  const root = () => el.querySelector(".aw-root");
  // First paint: the first drawn frame; shown: the first frame with nothing still asked of
  // the kernel (a long input's head view draws its rows as they arrive). Bytes at each.
  window.awPaint = null; window.awShown = null;
  const watch = new MutationObserver(() => {
    const r = root(); if (!r) return;
    const now = performance.now();
    if (window.awPaint === null && r.dataset.firstPaintMs)
      window.awPaint = { ms: now - t0, bytes: window.awReceived, app_ms: Number(r.dataset.firstPaintMs) };
    const rows = r.dataset.rows ? JSON.parse(r.dataset.rows) : null;
    if (window.awShown === null && r.dataset.firstPaintMs && (!rows || rows.waiting === 0)) {
      window.awShown = { ms: now - t0, bytes: window.awReceived };
      watch.disconnect();
    }
  });
  watch.observe(el, { subtree: true, childList: true, attributes: true });
  window.awModel = model;
  window.awDispose = widget.render({ model, el });
  return performance.now() - t0;
};
</script></body></html>
"""


class BenchComm(BaseComm):
    """A comm whose messages to the frontend wait in :attr:`outbox` for the page to take."""

    outbox: ClassVar[list[tuple[str, str, dict, list]]] = []  # (comm id, message type, data, buffers)
    lock: ClassVar[threading.Lock] = threading.Lock()

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        with BenchComm.lock:
            BenchComm.outbox.append((self.comm_id, msg_type, data or {}, [bytes(b) for b in buffers or []]))


def wire_size(data: dict, buffers: list[bytes]) -> int:
    """Bytes of one message as ipywidgets sends it: its JSON and its binary buffers."""
    return len(json.dumps(data, separators=(",", ":"), default=str).encode()) + sum(len(b) for b in buffers)


def for_page(data: dict, buffers: list[bytes]) -> dict:
    return {
        "data": data,
        "buffers": [base64.b64encode(b).decode("ascii") for b in buffers],
        "size": wire_size(data, buffers),
    }


class LiveHost:
    """Routes widget messages between this process and a Playwright page."""

    def __init__(self) -> None:
        comm.create_comm = lambda **kwargs: BenchComm(**kwargs)
        self.comm: BenchComm | None = None
        self.received = 0  # bytes the page got, all messages
        self.sent = 0  # bytes the page sent
        self.kernel_s = 0.0  # time the widget took answering the page, all messages
        self.log: list[tuple[str, float]] = []  # (request's what or update, ms) per message from the page
        # Batched tile requests (answered later, from the kernel's workers): per request id,
        # whether a prefetch, tiles asked, and from its reply the tiles dropped, the batch's
        # ms and each tile's ms.
        self.batches: dict[int, dict] = {}

    def take(self) -> list[tuple[str, str, dict, list]]:
        with BenchComm.lock:
            out, BenchComm.outbox[:] = list(BenchComm.outbox), []
        return out

    def open(self, page, widget) -> float:
        """Serve the page, then mount the widget on its ``comm_open`` state; returns the page's mount ms."""
        from attnwidget.widget.js_bundles import STATIC

        bundle = (STATIC / "widget.js").read_bytes()

        def serve(route):
            name = route.request.url.removeprefix(ORIGIN + "/")
            if name == "widget.js":
                route.fulfill(body=bundle, content_type="text/javascript")
            elif name in ("", "index.html"):
                route.fulfill(body=PAGE, content_type="text/html")
            else:
                route.abort()  # nothing from elsewhere, as in a notebook offline

        page.route(ORIGIN + "/**", serve)
        page.expose_function("awKernel", self.to_kernel)
        page.expose_function("awTake", self.later)
        page.goto(ORIGIN + "/index.html")
        page.wait_for_function("() => typeof window.awMount === 'function'")
        self.comm = widget.comm
        published = self.take()
        # Every comm's bytes count (the widget's Layout opens one too); the widget's own
        # state at construction, then the updates it sent after (its layer), make the page.
        mine = [(kind, d, b) for cid, kind, d, b in published if cid == self.comm.comm_id]
        if not mine or mine[0][0] != "comm_open":
            raise RuntimeError("the widget published no comm_open (made before the LiveHost?)")
        _, data, buffers = mine[0]
        opened = for_page(data, buffers)
        updates = [for_page(d, b) for kind, d, b in mine[1:] if kind == "comm_msg"]
        self.state_bytes = sum(wire_size(d, b) for _, _, d, b in published)
        self.received += self.state_bytes
        self.esm_bytes = len(json.dumps(data.get("state", {}).get("_esm", "")).encode())
        return page.evaluate("([opened, updates]) => window.awMount(opened, updates)", [opened, updates])

    def to_kernel(self, data: dict) -> list[dict]:
        """One message from the page, handled as the kernel's comm would; what the widget sent back."""
        self.sent += len(json.dumps(data).encode())
        t0 = time.perf_counter()
        content = data.get("content", {})
        if content.get("what") == "tiles":
            self.batches[content["id"]] = {
                "id": content["id"],
                "prefetch": bool(content.get("prefetch")),
                "asked": len(content["tiles"]),
            }
        self.comm.handle_msg({"content": {"data": data}, "buffers": []})
        out = self.later()
        took = time.perf_counter() - t0
        self.kernel_s += took
        self.log.append((content.get("what") or data.get("method", "?"), took * 1e3))
        return out

    def later(self) -> list[dict]:
        """What the widget sent the page since it last looked (replies from worker threads too)."""
        out = []
        for cid, kind, d, b in self.take():
            if kind != "comm_msg" or cid != self.comm.comm_id:
                continue
            reply = d.get("content") or {}
            batch = self.batches.get(reply.get("id")) if "tile_ms" in reply else None
            if batch is not None:
                batch.update(dropped=len(reply["dropped"]), ms=reply["ms"], tile_ms=reply["tile_ms"])
            out.append(for_page(d, b))
        self.received += sum(m["size"] for m in out)
        return out
