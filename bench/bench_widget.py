"""AttentionWidget speed and size, 64 to 8,192+ tokens (prints figures; asserts nothing).

Two runs. Without ``--inputs``: the 64-512 token figures below, on the exported page.
With ``--inputs``: issue 16's figures for long inputs, a table per input and a column per
token count, each figure beside its goal (``bench/long_figures.py``, ``docs/long_inputs.md``)::

    python bench/bench_widget.py --inputs dense12 llama32 --tokens 512 2048 8192 [--json out.json]
    python bench/bench_widget.py --inputs dense12 llama32 --tokens 512 2048 --layers 4   # quick

Inputs: ``dense12`` (the 12 x 12 array below, through ``from_attention``; it does not fit
in memory at 8,192 tokens and says so), ``llama12`` (the same shape through a model) and
``llama32`` (a Llama-shaped model, 32 x 32 heads, built from a config). Each case runs in
a fresh process: the model's pass, then the widget shown at once in Chromium through the
kernel's own messages (``bench/live_host.py``), driven, then exported and the file opened.
``--device cuda`` runs the model on a GPU (and prints its peak memory) where there is one.
Duration: the 8,192-token 32 x 32 case takes ~18 min on 2 loaded cores (load 11), the
quick run ~10 min, the whole run (three inputs x 512, 2,048, 8,192) ~45 min.

A GPT-2-small-shaped input: 12 layers x 12 heads of causal softmax attention with peaked
random logits and a first-token sink, like trained GPT-2 heads. Measured in headless
Debian Chromium on the exported page (the same views and code path as in a notebook,
with the kernel replaced by the embedded data):

- synced state: bytes the widget sends when displayed (what a saved notebook stores);
- first paint: from the view's creation to the first finished drawing;
- layer switch: from choosing a layer to the redrawn view, after a pause (the app has
  prefetched the neighbours) and cold (back-to-back switches, nothing prefetched);
- hover: redraw when the pointer enters a token, and when it leaves;
- export: size of the self-contained HTML file.

Goals at 512 tokens: state <= 2 MB, first paint <= 1.5 s, layer switch <= 150 ms,
hover <= 50 ms. Run: python bench/bench_widget.py [--tokens 64 128 256 512] [--neuron 512]

Memory (``--memory-only`` runs just this): the kernel's resident size over 30
create/close cycles of a 512-token widget, each in a fresh process: from ``from_attention``
(12 x 12 heads, 151 MB of attention, thumbnails fetched), and from a GPT-2-small-shaped
model (neuron view: every layer's queries and keys caught). Printed: the size with one
widget open, after one cycle and after 30. Goal: after 30 within a few MB of after 1.

The neuron view is timed on a GPT-2-small-shaped model (``transformers.GPT2Config()``:
12 layers x 12 heads of 64 dimensions, random weights, the tests' small trained
tokenizer): in Python, through the widget's own request handler (the kernel's part of
what the browser asks for), the first "neuron" request (one forward pass catching every
layer's queries and keys, checked against the model's attention) and then a switch to
each layer 0-11 (a cache lookup and one head's reply), with the memory the kept vectors
take; in Chromium, on the exported page with the view open, first paint, moving the query
token with the arrow key (a new row of products, scores and softmax), hovering a key row,
and expanding.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or imported by the long figures
from long_figures import INPUTS, case_child, print_tables, run_case
from long_inputs import DRAWN_SINCE, HOVER_JS, SCROLL_JS, gpt2_like_attention

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


LAYER_SWITCH_JS = (
    """async (layer) => {"""
    + DRAWN_SINCE
    + """
  const root = document.querySelector('.aw-root');
  const select = root.querySelector('.aw-layer');
  const draws = Number(root.dataset.draws);
  const t0 = performance.now();
  select.value = String(layer);
  select.dispatchEvent(new Event('change'));
  await new Promise((resolve) => {
    const check = () => Number(root.dataset.draws) > draws ? resolve() : requestAnimationFrame(check);
    check();
  });
  return drawnSince(root, t0);
}"""
)


def measure(n: int, page, out: Path) -> dict:
    from attnwidget.widget.attention_widget import AttentionWidget

    tokens = [f" tok{i}" for i in range(n)]
    t0 = time.perf_counter()
    w = AttentionWidget.from_attention(tokens, gpt2_like_attention(n), model_name="gpt2-shaped")
    build_s = time.perf_counter() - t0
    state = w.synced_state_size()
    esm = len(w._esm.encode()) if isinstance(w._esm, str) else len(str(w._esm).encode())
    t0 = time.perf_counter()
    path = w.save_html(out / f"bench-{n}.html")
    export_s = time.perf_counter() - t0

    page.goto(path.as_uri())
    page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.firstPaintMs", timeout=60_000)
    first_paint = float(page.eval_on_selector(".aw-root", "r => r.dataset.firstPaintMs"))
    # Cold: back-to-back switches, nothing prefetched. Warm: after a pause, the app has
    # fetched and pruned the neighbouring layers in the background, as it does for a user.
    cold = [page.evaluate(LAYER_SWITCH_JS, layer) for layer in (1, 2, 3, 4, 5, 6)]
    warm = []
    for layer in (7, 8, 9, 10):
        page.wait_for_timeout(1500)
        warm.append(page.evaluate(LAYER_SWITCH_JS, layer))
    hovers = []
    for row in np.linspace(0, n - 1, 12).astype(int).tolist():
        page.evaluate(SCROLL_JS, row)
        hovers.append(page.evaluate(HOVER_JS, row))
    status = page.inner_text(".aw-status")
    return {
        "tokens": n,
        "state_bytes": state,
        "state_data_bytes": state - esm,
        "first_paint_ms": first_paint,
        "layer_switch_ms": statistics.median(warm),
        "layer_switch_max_ms": max(warm),
        "layer_switch_cold_ms": statistics.median(cold),
        "hover_ms": statistics.median(h[0] for h in hovers),
        "hover_max_ms": max(h[0] for h in hovers),
        "unhover_ms": statistics.median(h[1] for h in hovers),
        "export_bytes": path.stat().st_size,
        "build_s": build_s,
        "export_s": export_s,
        "status": status,
    }


ARROW_JS = """async () => {
  const root = document.querySelector('.aw-root');
  const view = root.querySelector('.aw-neuron');
  const draws = Number(root.dataset.draws);
  const t0 = performance.now();
  // The view opens on the last token (causal model): move up.
  view.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowUp', bubbles: true}));
  await new Promise((resolve) => {
    const check = () => Number(root.dataset.draws) > draws ? resolve() : requestAnimationFrame(check);
    check();
  });
  return performance.now() - t0;
}"""

NEURON_HOVER_JS = """(row) => {
  const canvas = document.querySelector('.aw-neuron-canvas');
  const r = canvas.getBoundingClientRect();
  const t0 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + 200, clientY: r.top + 70 + 14 * row, bubbles: true}));
  const t1 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mouseleave', {bubbles: true}));
  return t1 - t0;
}"""

EXPAND_JS = """() => {
  const view = document.querySelector('.aw-neuron');
  const t0 = performance.now();
  view.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
  return performance.now() - t0;
}"""


def gpt2_small_random():
    """GPT-2 small's shape with random weights and the tests' trained byte-level tokenizer."""
    import sys

    import torch
    from transformers import GPT2Config, GPT2Model

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from attnwidget.transformer.loading import load_model
    from tiny_models import gpt2_tokenizer

    torch.manual_seed(0)
    tok = copy.deepcopy(gpt2_tokenizer())
    tok.model_max_length = 1024  # GPT-2's window; the tests keep theirs short
    config = GPT2Config(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    return load_model((GPT2Model(config), tok), device="cpu")


def text_of(model, n: int) -> str:
    """Sample-corpus text cut to exactly n tokens."""
    from attnwidget.data import sample_corpus

    text = " ".join(sample_corpus())
    while len(model.tokenizer(text)["input_ids"]) < n:
        text += " " + text
    ids = model.tokenizer(text)["input_ids"][:n]
    return model.tokenizer.decode(ids)


def neuron_request(w, layer: int, head: int) -> tuple[float, dict, list]:
    """One "neuron" request answered by the widget's handler, as from the browser: (ms, reply, buffers)."""
    from attnwidget.widget.protocol import REQUEST

    sent = []
    w.send = lambda content, buffers=None: sent.append((content, buffers or []))
    t0 = time.perf_counter()
    w._on_request(
        w, {"kind": REQUEST, "id": layer, "what": "neuron", "attention": "self", "layer": layer, "head": head}, []
    )
    ms = (time.perf_counter() - t0) * 1000
    del w.send
    ((reply, buffers),) = sent
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return ms, reply, buffers


def measure_neuron_kernel(w, head: int = 3) -> dict:
    """The kernel's part of the neuron view: first request (catches every layer), then a switch to each layer."""
    w._input.forget()
    first_ms, _, _ = neuron_request(w, w.layer, head)
    switches = [neuron_request(w, layer, head)[0] for layer in range(w.num_layers)]
    _, _, buffers = neuron_request(w, w.layer, head)
    return {
        "first_request_ms": first_ms,
        "switch_ms": statistics.median(switches),
        "switch_max_ms": max(switches),
        "reply_bytes": sum(len(b) for b in buffers),
        "cache_bytes": w._input.captured_bytes(),
    }


def measure_neuron(n: int, page, out: Path) -> dict:
    from attnwidget.widget.attention_widget import AttentionWidget

    model = gpt2_small_random()
    text = text_of(model, n)
    w = AttentionWidget(text, model=model, annotations=None, view="neuron", heads=[3], layer=11)
    tokens = len(w.tokens)
    kernel = measure_neuron_kernel(w, head=3)
    capture = w._input.capture("self", w.layer)
    t0 = time.perf_counter()
    path = w.save_html(out / f"neuron-{n}.html")
    export_s = time.perf_counter() - t0
    embedded = len(w.to_html().split('"attention":"self"')) - 1

    page.goto(path.as_uri())
    page.wait_for_function(
        "() => document.querySelector('.aw-status')?.textContent.includes('attends most')", timeout=60_000
    )
    first_paint = float(page.eval_on_selector(".aw-root", "r => r.dataset.firstPaintMs"))
    moves = [page.evaluate(ARROW_JS) for _ in range(12)]
    hovers = [page.evaluate(NEURON_HOVER_JS, row) for row in range(0, 40, 4)]
    expand = page.evaluate(EXPAND_JS)
    moves_expanded = [page.evaluate(ARROW_JS) for _ in range(6)]
    return {
        "tokens": tokens,
        "head_dim": capture.head_dim,
        **kernel,
        "embedded_heads": embedded,
        "export_bytes": path.stat().st_size,
        "export_s": export_s,
        "first_paint_ms": first_paint,
        "move_ms": statistics.median(moves),
        "move_max_ms": max(moves),
        "move_expanded_ms": statistics.median(moves_expanded),
        "hover_ms": statistics.median(hovers),
        "hover_max_ms": max(hovers),
        "expand_ms": expand,
        "status": page.inner_text(".aw-status"),
    }


def rss_bytes() -> int:
    """This process's resident size (Linux), after a collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_cycles(kind: str, n: int, cycles: int) -> dict:
    """Resident size with one widget open, after one create/close cycle and after ``cycles``."""
    from attnwidget.widget.attention_widget import AttentionWidget
    from attnwidget.widget.protocol import REQUEST

    if kind == "attention":
        attention, tokens = gpt2_like_attention(n), [f"t{k}" for k in range(n)]
        make = lambda: AttentionWidget.from_attention(tokens, attention.copy())  # noqa: E731 (each owns its array)
        asks = [{"what": "thumbnails", "hide_first": False}]
    else:
        model = gpt2_small_random()
        text = text_of(model, n)
        make = lambda: AttentionWidget(text, model=model, annotations=None)  # noqa: E731
        asks = [
            {"what": "thumbnails", "hide_first": False},
            {"what": "neuron", "attention": "self", "layer": 11, "head": 3},
        ]
    base = rss_bytes()
    sizes = []
    for k in range(cycles):
        w = make()
        for ask in asks:
            w._on_request(w, {"kind": REQUEST, "id": k, **ask}, [])
        if k == 0:
            open_one = rss_bytes()
        w.close()
        del w
        sizes.append(rss_bytes())
    return {
        "kind": kind,
        "tokens": n,
        "base": base,
        "open": open_one,
        "after_1": sizes[0],
        "after_n": sizes[-1],
        "cycles": cycles,
    }


def measure_memory(n: int, cycles: int) -> list[dict]:
    """:func:`memory_cycles` of both kinds, each in a fresh Python process."""
    rows = []
    for kind in ("attention", "model"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", kind, str(n), str(cycles)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def print_memory(rows: list[dict]) -> None:
    print("\nkernel memory over create/close cycles (resident MB):")
    print(
        f"{'widget':>24} {'tokens':>6} {'before':>7} {'1 open':>7} {'after 1':>8} {'after N':>8} {'N':>3} {'growth':>7}"
    )
    for r in rows:
        what = "from_attention 12x12" if r["kind"] == "attention" else "GPT-2-small + neuron"
        print(
            f"{what:>24} {r['tokens']:>6} {r['base'] / 1e6:>7.0f} {r['open'] / 1e6:>7.0f} "
            f"{r['after_1'] / 1e6:>8.0f} {r['after_n'] / 1e6:>8.0f} {r['cycles']:>3} "
            f"{(r['after_n'] - r['after_1']) / 1e6:>+7.1f}"
        )
    print("  (goal: after N within a few MB of after 1; before the fix each closed widget kept its attention)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tokens", type=int, nargs="+", help="token counts (default 64 128 256 512; with --inputs 512 2048 8192)"
    )
    parser.add_argument(
        "--inputs",
        nargs="+",
        choices=list(INPUTS),
        help="issue 16's figures per input and token count, each case in a fresh process (see --help-long)",
    )
    parser.add_argument("--layers", type=int, help="with --inputs: layers of every input (a quick run: 4)")
    parser.add_argument("--heads", type=int, help="with --inputs: heads of every input")
    parser.add_argument(
        "--device", default="cpu", help="with --inputs: where the model runs (cuda: also the GPU's peak memory)"
    )
    parser.add_argument("--case-timeout", type=int, default=3600, help="with --inputs: seconds one case may take")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH ('-': stdout only)")
    parser.add_argument("--case-child", nargs=2, metavar=("INPUT", "TOKENS"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--neuron", type=int, nargs="*", default=[512], help="token counts for the neuron-view timing (none: skip it)"
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--memory-cycles", type=int, default=30, help="create/close cycles (0: skip)")
    parser.add_argument("--memory-only", action="store_true", help="only the memory figures (no browser)")
    parser.add_argument("--memory-child", nargs=3, metavar=("KIND", "TOKENS", "CYCLES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case_child:
        name, n = args.case_child
        case_child(name, int(n), args.layers, args.heads, args.device, args.chromium)
        return
    if args.inputs:
        long_run(args)
        return
    args.tokens = args.tokens or [64, 128, 256, 512]
    if args.memory_child:
        kind, n, cycles = args.memory_child
        print(json.dumps(memory_cycles(kind, int(n), int(cycles))))
        return
    memory = measure_memory(512, args.memory_cycles) if args.memory_cycles > 0 else []
    if args.memory_only:
        print_memory(memory)
        write_json(args.json, {"memory": memory})
        return
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="attnwidget-bench-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for n in args.tokens:
            rows.append(measure(n, page, out))
        neuron_rows = [measure_neuron(n, page, out) for n in args.neuron]
        browser.close()
    shutil.rmtree(out, ignore_errors=True)  # the exported pages, up to 15 MB each
    print(
        f"{'tokens':>6} {'state MB':>9} {'(data)':>7} {'1st paint':>10} {'layer sw':>9} {'(max)':>7} {'(cold)':>7} "
        f"{'hover':>7} {'(max)':>7} {'unhover':>8} {'export MB':>10} {'py build':>9} {'py export':>10}"
    )
    for r in rows:
        print(
            f"{r['tokens']:>6} {r['state_bytes'] / 1e6:>9.2f} {r['state_data_bytes'] / 1e6:>7.2f} "
            f"{r['first_paint_ms']:>8.0f}ms {r['layer_switch_ms']:>7.0f}ms {r['layer_switch_max_ms']:>5.0f}ms "
            f"{r['layer_switch_cold_ms']:>5.0f}ms "
            f"{r['hover_ms']:>5.1f}ms {r['hover_max_ms']:>5.1f}ms {r['unhover_ms']:>6.1f}ms "
            f"{r['export_bytes'] / 1e6:>10.2f} {r['build_s']:>8.2f}s {r['export_s']:>9.2f}s"
        )
    print("goals at 512 tokens: state <= 2 MB, first paint <= 1500 ms, layer switch <= 150 ms, hover <= 50 ms")
    for r in rows:
        print(f"  {r['tokens']} tokens: {r['status']}")
    if neuron_rows:
        print("\nneuron view, GPT-2-small-shaped (random weights), one head:")
        print(
            f"{'tokens':>6} {'d':>3} {'1st request':>12} {'layer sw':>9} {'(max)':>7} {'cache MB':>9} {'reply MB':>9} "
            f"{'heads in file':>14} {'1st paint':>10} {'arrow':>7} {'(max)':>7} {'(expanded)':>11} {'hover':>7} "
            f"{'(max)':>7} {'expand':>7}"
        )
        for r in neuron_rows:
            print(
                f"{r['tokens']:>6} {r['head_dim']:>3} {r['first_request_ms']:>10.0f}ms {r['switch_ms']:>7.1f}ms "
                f"{r['switch_max_ms']:>5.1f}ms {r['cache_bytes'] / 1e6:>9.1f} {r['reply_bytes'] / 1e6:>9.2f} "
                f"{r['embedded_heads']:>14} "
                f"{r['first_paint_ms']:>8.0f}ms {r['move_ms']:>5.1f}ms {r['move_max_ms']:>5.1f}ms "
                f"{r['move_expanded_ms']:>9.1f}ms {r['hover_ms']:>5.1f}ms {r['hover_max_ms']:>5.1f}ms {r['expand_ms']:>5.1f}ms"
            )
        print(
            "  (kernel side, through the widget's request handler: 1st request = one forward pass catching every"
            " layer; layer sw = each layer 0-11 after it, lookup + one head's reply; cache = the kept q/k of"
            " all layers; arrow = moving the query token)"
        )
        for r in neuron_rows:
            print(f"  {r['tokens']} tokens: {r['status']}")
    if memory:
        print_memory(memory)
    write_json(args.json, {"widget": rows, "neuron": neuron_rows, "memory": memory})


def write_json(path: str | None, figures) -> None:
    if path == "-":
        print(json.dumps(figures, indent=1, default=float))
    elif path:
        Path(path).write_text(json.dumps(figures, indent=1, default=float))


def long_run(args) -> None:
    """Issue 16's figures: a table per input, a column per token count (cases in fresh processes)."""
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no GPU on this machine (torch.cuda.is_available() is False); nothing to run")
            return
    tokens = args.tokens or [512, 2048, 8192]
    rows = []
    for name in args.inputs:
        for n in tokens:
            print(f"{name} at {n} tokens ({args.device}) ...", file=sys.stderr, flush=True)
            rows.append(run_case(name, n, args))
            failed = rows[-1].get("failed")
            print(
                f"  done in {rows[-1].get('case_s', 0):.0f} s{'; failed: ' + str(failed) if failed else ''}",
                file=sys.stderr,
                flush=True,
            )
    if args.json != "-":
        print_tables(rows)
    write_json(args.json, rows)


if __name__ == "__main__":
    main()
