"""Long-input helpers for the benches: the 32 x 32 Llama-shaped model, a T-token text, and
the kernel-side figures (model pass with q/k capture, summaries of every layer, peak memory).

Run alone: ``python bench/long_inputs.py --tokens 8192`` prints the kernel figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_model(layers: int = 32, heads: int = 32):
    """The Llama-shaped model (rotary, 8 key heads, 16 dims) as a LoadedModel."""
    from attnwidget import load_model
    from tests.tiny_models import llama_long

    model, tok = llama_long(n_layer=layers, n_head=heads)
    return load_model((model, tok), device="cpu")


def long_text(loaded, n_tokens: int) -> str:
    """The sample corpus repeated until the model reads ``n_tokens`` tokens of it (no more)."""
    from attnwidget.data import sample_corpus

    base = " ".join(sample_corpus())
    per = len(loaded.tokenizer(base)["input_ids"])
    text = " ".join([base] * (n_tokens // per + 2))
    ids = loaded.tokenizer(text)["input_ids"][:n_tokens]
    return loaded.tokenizer.decode(ids)


def kernel_figures(n_tokens: int, layers: int = 32, heads: int = 32) -> dict:
    """Time and memory of the long path in this process: pass + capture, then every summary."""
    import torch

    from attnwidget.transformer.qk_capture import capture
    from attnwidget.widget.qk_store import QKStore

    base = rss_mb()
    loaded = long_model(layers, heads)
    weights_mb = sum(p.numel() * p.element_size() for p in loaded.model.parameters()) / 2**20
    ids = loaded.tokenizer(long_text(loaded, n_tokens), return_tensors="pt")["input_ids"][:, :n_tokens]
    after_model = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    qk = capture(loaded, ids)
    pass_s, pass_cpu = time.perf_counter() - t0, time.process_time() - c0
    store = QKStore(qk)
    t0 = time.perf_counter()
    store.rows(0, list(range(heads)), 0, 64)
    first_rows_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    store.summarise_all()
    sum_s, sum_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    store.window(layers // 2, 3, n_tokens // 2, n_tokens // 4, 256, 1)
    tile_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    store.window(layers // 2, 3, n_tokens // 2, n_tokens // 4, 256, 4)
    tile4_ms = (time.perf_counter() - t0) * 1e3
    del torch
    return {
        "tokens": int(ids.shape[1]),
        "layers": layers,
        "heads": heads,
        "weights_MB": round(weights_mb),
        "rss_before_model_MB": round(base),
        "rss_after_model_MB": round(after_model),
        "pass_capture_s": round(pass_s, 1),
        "pass_capture_cpu_s": round(pass_cpu, 1),
        "first_rows_64x32heads_s": round(first_rows_s, 3),
        "summaries_s": round(sum_s, 1),
        "summaries_cpu_s": round(sum_cpu, 1),
        "tile256_r1_ms": round(tile_ms, 1),
        "tile256_r4_ms": round(tile4_ms, 1),
        "qk_MB": round(qk.nbytes / 2**20),
        "summaries_MB": round(store.summary_bytes / 2**20),
        "peak_rss_MB": round(peak_mb()),
        "peak_above_model_MB": round(peak_mb() - after_model),
    }


def dense_attention(n: int, layers: int = 12, heads: int = 12, seed: int = 0):
    """bench_widget.py's GPT-2-small-shaped input, made a layer at a time (2.4 GB at 2,048 tokens)."""

    if n <= 1024:
        from bench_widget import gpt2_like_attention

        return gpt2_like_attention(n, layers, heads, seed)
    from tests.tiny_models import causal_softmax_attention

    return causal_softmax_attention(layers, heads, n, seed)


def ask(widget, **content) -> tuple[float, dict, list]:
    """One request through the widget's own handler: (ms, reply, buffers)."""
    from attnwidget.widget.js_bundles import REQUEST

    sent = []
    original = widget.send
    widget.send = lambda msg, buffers=None: sent.append((msg, buffers or []))
    try:
        t0 = time.perf_counter()
        widget._on_request(widget, {"kind": REQUEST, "id": 1, **content}, [])
        ms = (time.perf_counter() - t0) * 1e3
    finally:
        widget.send = original
    ((reply, buffers),) = sent
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return ms, reply, buffers


def reply_bytes(reply: dict, buffers: list) -> int:
    from attnwidget.widget.payload import payload_size

    return payload_size(reply) + sum(len(b) for b in buffers)


def widget_figures(kind: str, n: int, out_dir: str, chromium: str) -> dict:
    """Kernel and browser figures of one long input (run in its own process: peak memory is its own)."""
    import numpy as np

    from attnwidget.widget.attention_widget import AttentionWidget
    from attnwidget.widget.payload import payload_size

    fig: dict = {"input": kind, "tokens": n}
    base = rss_mb()
    if kind == "dense":
        tokens = [f" tok{i}" for i in range(n)]
        att = dense_attention(n)
        after_input = rss_mb()
        t0 = time.perf_counter()
        w = AttentionWidget.from_attention(tokens, att, model_name="gpt2-shaped")
    else:
        layers, heads = (32, 32) if kind == "llama32" else (12, 12)
        loaded = long_model(layers, heads)
        text = long_text(loaded, n - 1)  # + the BOS token the tokenizer adds... none for this BPE
        after_input = rss_mb()
        t0 = time.perf_counter()
        w = AttentionWidget(text, model=loaded, annotations=None)
    fig["build_s"] = time.perf_counter() - t0
    fig["tokens"] = w._data.num_tokens
    fig["layers"], fig["heads"] = w.num_layers, w.num_heads
    n = fig["tokens"]
    heads = list(range(w.num_heads))
    # What the browser gets before its first paint: the synced traits and the first screen of rows.
    synced = payload_size(w._meta) + payload_size(w._layer_data)
    if w._layer_data.get("packing") == "summary":
        ms, reply, buffers = ask(w, what="rows", layer=0, heads=heads, r0=0, r1=64)
        fig["first_rows_ms"] = ms
        synced += reply_bytes(reply, buffers)
        # kernel side of a cold layer switch (rows of a layer not yet summarised) and a warm one
        fig["kernel_switch_cold_ms"] = ask(w, what="rows", layer=w.num_layers - 1, heads=heads, r0=n - 64, r1=n)[0]
        store = w.store
        t1 = time.perf_counter()
        store.summary(w.num_layers // 2)
        fig["one_layer_summary_s"] = time.perf_counter() - t1
        fig["kernel_switch_warm_ms"] = ask(
            w, what="rows", layer=w.num_layers // 2, heads=heads, r0=n // 2, r1=n // 2 + 64
        )[0]
        mid = n // 2
        fig["kernel_tile_r1_ms"] = ask(
            w, what="tile", layer=w.num_layers // 2, heads=[3], r0=mid, c0=mid // 2, cells=256, r=1
        )[0]
        fig["kernel_tile_r4_ms"] = ask(
            w, what="tile", layer=w.num_layers // 2, heads=[3], r0=mid // 2, c0=0, cells=256, r=4
        )[0]
        fig["kernel_hover_ms"] = ask(w, what="value", layer=w.num_layers // 2, heads=[3], i=mid, j=mid // 3)[0]
        t1 = time.perf_counter()
        store.summarise_all(progress=False)
        fig["summaries_s"] = time.perf_counter() - t1
    fig["kernel_s"] = time.perf_counter() - t0
    fig["synced_before_paint_bytes"] = synced
    fig["peak_rss_MB"] = peak_mb()
    fig["peak_above_input_MB"] = peak_mb() - after_input
    fig["rss_base_MB"] = base
    t1 = time.perf_counter()
    path = w.save_html(Path(out_dir) / f"long-{kind}-{n}.html")
    fig["export_s"] = time.perf_counter() - t1
    fig["export_bytes"] = path.stat().st_size
    w.close()
    del np
    fig.update(browser_figures(path, n, chromium))
    return fig


LAYER_SWITCH_JS = """async (layer) => {
  const root = document.querySelector('.aw-root');
  const select = root.querySelector('.aw-layer');
  const t0 = performance.now();
  select.value = String(layer);
  select.dispatchEvent(new Event('change'));
  await new Promise((resolve, reject) => {
    const check = () => {
      if (performance.now() - t0 > 60000) return reject(new Error('layer switch: nothing drawn in 60 s'));
      const r = root.dataset.rows && JSON.parse(root.dataset.rows);
      const done = root.dataset.layer === String(layer) && (!r || r.waiting === 0);
      done ? resolve() : requestAnimationFrame(check);
    };
    check();
  });
  return performance.now() - t0;
}"""

ZOOM_JS = """async ([x, y]) => {
  const root = document.querySelector('.aw-root');
  const c = root.querySelector('.aw-long-matrix');
  const r = c.getBoundingClientRect();
  const t0 = performance.now();
  c.dispatchEvent(new WheelEvent('wheel', {
    clientX: r.left + x, clientY: r.top + y, deltaY: -120, bubbles: true, cancelable: true}));
  await new Promise((resolve) => {
    const check = () => {
      const z = JSON.parse(root.dataset.zoom || '{}');
      (z.missing === 0 || z.notice) ? resolve() : requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
  return [performance.now() - t0, root.dataset.zoom];
}"""

HOVER_JS = """async ([x, y]) => {
  const root = document.querySelector('.aw-root');
  const c = root.querySelector('.aw-long-matrix');
  const tip = root.querySelector('.aw-tooltip');
  const r = c.getBoundingClientRect();
  tip.hidden = true;
  tip.textContent = '';
  const t0 = performance.now();
  c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + x, clientY: r.top + y, bubbles: true}));
  await new Promise((resolve) => {
    const check = () => (!tip.hidden || performance.now() - t0 > 5000 ? resolve() : setTimeout(check, 1));
    check();
  });
  // No tooltip: the file lacks single cells here and says so in the status line.
  return [performance.now() - t0, tip.hidden ? root.querySelector('.aw-status').textContent : tip.textContent];
}"""


def browser_figures(path: Path, n: int, chromium: str) -> dict:
    """First paint, layer switches (head view), zooming and hovering (matrix view), JS heap."""
    from playwright.sync_api import sync_playwright

    fig: dict = {}
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"]
        )
        page = b.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(path.as_uri())
        page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.firstPaintMs", timeout=120_000)
        fig["first_paint_ms"] = float(page.eval_on_selector(".aw-root", "r => r.dataset.firstPaintMs"))
        layers = int(page.eval_on_selector(".aw-layer", "s => s.options.length"))
        cold = [page.evaluate(LAYER_SWITCH_JS, layer) for layer in range(1, min(layers, 5))]
        page.evaluate(LAYER_SWITCH_JS, 0)
        warm = [page.evaluate(LAYER_SWITCH_JS, layer) for layer in (1, 0, 1, 0)]
        fig["switch_cold_ms"] = statistics.median(cold) if cold else None
        fig["switch_warm_ms"] = statistics.median(warm)
        page.click(".aw-tab[data-view='matrix']")
        page.wait_for_function("() => document.querySelector('.aw-root').dataset.zoom", timeout=120_000)
        zooms = [page.evaluate(ZOOM_JS, [120 + 400, 120 + 500]) for _ in range(12)]
        fig["zoom_ms"] = statistics.median(z[0] for z in zooms)
        fig["zoom_max_ms"] = max(z[0] for z in zooms)
        fig["zoom_end"] = json.loads(zooms[-1][1])
        hovers = [page.evaluate(HOVER_JS, [120 + 400 + dx, 120 + 500]) for dx in range(0, 120, 10)]
        fig["hover_ms"] = statistics.median(h[0] for h in hovers)
        fig["hover_text"] = hovers[-1][1]
        fig["js_heap_MB"] = page.evaluate("() => performance.memory.usedJSHeapSize") / 2**20
        fig["status"] = page.inner_text(".aw-status")
        b.close()
    return fig


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument(
        "--widget",
        metavar="INPUT",
        choices=["dense", "llama12", "llama32"],
        help="kernel + browser figures of one widget (dense: the 12 x 12 input; llama12/32: a model)",
    )
    parser.add_argument("--out", default="/tmp")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if args.widget:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        print(json.dumps(widget_figures(args.widget, args.tokens, args.out, args.chromium)))
    else:
        print(json.dumps(kernel_figures(args.tokens, args.layers, args.heads)))
