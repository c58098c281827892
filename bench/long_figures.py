"""bench_widget.py's figures per input and token count (``--inputs``): one case, one process.

A case is one input at T tokens, measured as a user meets it in a notebook: the widget is
made (for a model, its pass with the queries and keys caught), shown at once in Chromium
through :mod:`live_host` (the kernel's real messages) while the summaries are made in the
background, then driven: layer switches, zooming the matrix view down to exact tiles,
hovering cells; then exported. Every case runs in a fresh Python process (and its own
Chromium), so its peak memory is its own; a figure that fails says why and the rest go on.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from long_inputs import (
    CELL_HOVER_JS,
    HEADS_JS,
    HOVER_JS,
    SCROLL_JS,
    SWITCH_UNTIL_SHOWN_JS,
    available_bytes,
    dense_attention,
    dense_bytes,
    long_model,
    long_text,
    peak_mb,
    rss_mb,
    zoom_walk,
)

#: The inputs: (description, layers, heads, kind). dense: ``from_attention`` of an array
#: (the 64-512 token figures' input); model: a Llama-shaped model from a config.
INPUTS = {
    "dense12": ("GPT-2-shaped attention array (from_attention)", 12, 12, "dense"),
    "llama12": ("Llama-shaped model", 12, 12, "model"),
    "llama32": ("Llama-shaped model", 32, 32, "model"),
}

#: The figures in table order: (key, label, unit).
FIGURES = [
    ("kernel_pass_s", "kernel: widget made (model pass)", "s"),
    ("kernel_s", "kernel: + every layer summarised", "s"),
    ("kernel_cpu_s", "kernel: CPU time of both", "s"),
    ("kernel_peak_above_mb", "kernel: peak RSS above weights/input", "MB"),
    ("gpu_peak_mb", "GPU: peak memory allocated", "MB"),
    ("synced_at_paint_mb", "synced until first paint", "MB"),
    ("synced_data_at_paint_mb", "  (without the JS bundle)", "MB"),
    ("first_frame_ms", "first frame", "ms"),
    ("first_paint_ms", "first paint (nothing waiting)", "ms"),
    ("switch_cold_ms", "layer switch, cold (median)", "ms"),
    ("switch_cold_max_ms", "  (max)", "ms"),
    ("switch_cold_kernel_ms", "  (kernel's part, median)", "ms"),
    ("switch_warm_ms", "layer switch, warm (median)", "ms"),
    ("zoom_tile_ms", "zoom step fetching tiles (median)", "ms"),
    ("zoom_tile_max_ms", "  (max)", "ms"),
    ("zoom_tile_polled_ms", "  (to the next frame's poll, as measured before 2026-12-04, median)", "ms"),
    ("zoom_tiles_per_step", "  (tiles per step, median)", ""),
    ("zoom_tile_kernel_ms", "  (kernel per tile, median)", "ms"),
    ("zoom_batch_kernel_ms", "  (kernel per step's batch, median)", "ms"),
    ("zoom_trip_ms", "  (request to reply in the page, median)", "ms"),
    ("zoom_fetching_steps", "  (steps fetching, of all steps into tiles)", ""),
    ("zoom_drawn_ms", "zoom step, tiles at hand (median)", "ms"),
    ("zoom_all_ms", "zoom step, any (median)", "ms"),
    ("zoom_all_max_ms", "  (max: a step waiting for tiles a prefetch was still making)", "ms"),
    ("zoom_slow_steps", "  (steps over 100 ms, of all steps into tiles)", ""),
    ("zoom_prefetched_tiles", "  (tiles prefetched while idle)", ""),
    ("heads_tiles_ms", "other heads while zoomed in, all tiles fetched (median)", "ms"),
    ("heads_tiles", "  (tiles fetched, median)", ""),
    ("heads_update_ms", "  (kernel's part: the heads update, median)", "ms"),
    ("hover_ms", "hover (median)", "ms"),
    ("hover_max_ms", "  (max)", "ms"),
    ("hover_kernel_ms", "  (kernel per value, median)", "ms"),
    ("js_heap_mb", "browser: JS heap used", "MB"),
    ("renderer_rss_mb", "browser: renderer RSS", "MB"),
    ("chromium_rss_mb", "browser: all Chromium processes RSS", "MB"),
    ("export_mb", "exported size", "MB"),
    ("export_s", "export time", "s"),
    ("file_first_paint_ms", "exported file: first paint", "ms"),
    ("file_switch_cold_ms", "exported file: layer switch, cold", "ms"),
    ("file_switch_warm_ms", "exported file: layer switch, warm", "ms"),
]

#: Today's figures at 512 tokens (bench_widget.py's default run: the exported page of the
#: 12 x 12 array, /work/notes/bench_widget_after.txt): "nothing slower than today".
TODAY_512 = {"file_first_paint_ms": 539, "file_switch_warm_ms": 64, "export_mb": 15.38, "export_s": 1.87}


def goal(figure: str, n: int, layers: int, heads: int) -> float | None:
    """Issue 16's goal for a figure (at most this), or None where it sets none. Goals on a
    layer's figures hold for any number of layers (a quick run's too); on the whole export,
    only for the issue's shapes."""
    whole = figure.startswith(("export", "kernel"))
    if n == 512 and heads == 12:
        goals = {"switch_cold_ms": 100, "file_switch_cold_ms": 100, **TODAY_512}
        return None if whole and layers != 12 else goals.get(figure)
    if n == 2048:
        return {
            "first_paint_ms": 1500,
            "switch_cold_ms": 300,
            "switch_warm_ms": 300,
            "export_mb": 25,
            "export_s": 3,
        }.get(figure)
    if n >= 8192 and heads == 32:
        goals = {
            "first_paint_ms": 2000,
            "zoom_tile_ms": 100,
            "hover_ms": 50,
            "synced_at_paint_mb": 5,
            "kernel_peak_above_mb": 3000,
        }
        return None if whole and layers != 32 else goals.get(figure)
    return None


# ------------------------------------------------------------------------- one case


def measure_case(name: str, n: int, layers: int | None, heads: int | None, device: str, chromium: str) -> dict:
    """Every figure of one case, in this process (run it in a fresh one)."""
    _, default_layers, default_heads, kind = INPUTS[name]
    layers, heads = layers or default_layers, heads or default_heads
    fig: dict = {"input": name, "tokens": n, "layers": layers, "heads": heads, "device": device, "failed": {}}
    fig["load"] = os.getloadavg()[0]
    from live_host import LiveHost

    host = LiveHost()  # before the widget: it takes the widget's comm
    from attnwidget.widget.attention_widget import AttentionWidget

    if kind == "dense":
        need = dense_bytes(n, layers, heads)
        if need > 0.6 * available_bytes():
            raise MemoryError(
                f"the {layers} x {heads} array at {n} tokens takes {need / 2**30:.1f} GB, "
                f"{available_bytes() / 2**30:.1f} GB available (llama12 is the same shape through a model)"
            )
        attention = dense_attention(n, layers, heads)
        tokens = [f" tok{i}" for i in range(n)]
        after_input = rss_mb()
        start, cpu = time.perf_counter(), time.process_time()
        widget = AttentionWidget.from_attention(tokens, attention, model_name="gpt2-shaped")
        del attention  # the widget holds it now
    else:
        loaded = long_model(layers, heads, window=n, device=device)
        text = long_text(loaded, n)
        after_input = rss_mb()
        if device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        start, cpu = time.perf_counter(), time.process_time()
        widget = AttentionWidget(text, model=loaded, annotations=None, device=device)
    fig["kernel_pass_s"] = time.perf_counter() - start
    fig["kernel_pass_cpu_s"] = time.process_time() - cpu
    fig["tokens"] = len(widget.tokens)
    # A long input's summaries are being made in the background; a short one has none to make.
    store = widget.store if widget._layer_data.get("packing") == "summary" else None
    out = Path(tempfile.mkdtemp(prefix="attnwidget-bench-"))
    try:
        browser_case(fig, host, widget, chromium, after_summaries=lambda: summaries_done(fig, store, start, cpu))
    except Exception as exc:  # noqa: BLE001 (the browser failed: the kernel and export figures stand)
        fig["failed"]["browser"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        summaries_done(fig, store, start, cpu)
    fig["kernel_peak_above_mb"] = peak_mb() - after_input
    fig["kernel_peak_mb"] = peak_mb()
    fig["weights_or_input_mb"] = after_input
    if device == "cuda":
        import torch

        fig["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    try:
        t0 = time.perf_counter()
        path = widget.save_html(out / f"bench-{name}-{n}.html")
        fig["export_s"] = time.perf_counter() - t0
        fig["export_mb"] = path.stat().st_size / 1e6
    except Exception as exc:  # noqa: BLE001 (any failure is a figure printed with its reason)
        fig["failed"]["export"] = f"{type(exc).__name__}: {exc}"
        path = None
    widget.close()
    if path is not None:
        figure(fig, "exported file", lambda: file_case(fig, path, chromium))
    shutil.rmtree(out, ignore_errors=True)
    return fig


def file_case(fig: dict, path: Path, chromium: str) -> None:
    """The exported file in Chromium: first paint and layer switches (what the 64-512 figures time)."""
    with chromium_page(chromium) as page:
        page.goto(path.as_uri())
        page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.firstPaintMs")
        fig["file_first_paint_ms"] = float(page.eval_on_selector(".aw-root", "r => r.dataset.firstPaintMs"))
        layer_switches(fig, page, prefix="file_")


def summaries_done(fig: dict, store, start: float, cpu: float) -> None:
    """Kernel time: until every layer is summarised (a short input has nothing to summarise)."""
    if "kernel_s" in fig:
        return
    if store is not None:
        store.wait()
    if store is None:
        fig["kernel_s"], fig["kernel_cpu_s"] = fig["kernel_pass_s"], fig["kernel_pass_cpu_s"]
    else:
        fig["kernel_s"], fig["kernel_cpu_s"] = time.perf_counter() - start, time.process_time() - cpu


@contextmanager
def chromium_page(chromium: str):
    """A page in a Chromium of its own, closed after (its memory is the case's alone)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--enable-precise-memory-info"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(180_000)
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            yield page
        finally:
            browser.close()


def browser_case(fig: dict, host, widget, chromium: str, after_summaries) -> None:
    with chromium_page(chromium) as page:
        errors = page.errors
        host.open(page, widget)
        page.wait_for_function("() => window.awShown", timeout=180_000)
        paint, shown = page.evaluate("() => [window.awPaint, window.awShown]")
        fig["first_frame_ms"] = paint["ms"]
        fig["first_paint_ms"] = shown["ms"]
        fig["synced_at_paint_mb"] = shown["bytes"] / 1e6
        fig["synced_data_at_paint_mb"] = (shown["bytes"] - host.esm_bytes) / 1e6
        after_summaries()  # the rest is timed with the kernel done, as a user meets it a minute later
        figure(fig, "layer switch", lambda: layer_switches(fig, page, host))
        figure(fig, "zoom", lambda: zoom_and_hover(fig, page, host))
        figure(fig, "browser memory", lambda: browser_memory(fig, page))
        fig["status"] = page.inner_text(".aw-status")
        fig["bytes_received_mb"] = host.received / 1e6
        if errors:
            fig["failed"]["page errors"] = "; ".join(errors)[:300]


def figure(fig: dict, what: str, measure) -> None:
    """Run one group of figures; a failure is recorded with its reason and the case goes on."""
    try:
        measure()
    except Exception as exc:  # noqa: BLE001 (any failure is a figure printed with its reason)
        fig["failed"][what] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"


def kernel_ms(host, act):
    """``act()``'s result and the ms the kernel spent answering the page meanwhile (0 without a kernel)."""
    before = host.kernel_s if host else 0.0
    result = act()
    return result, ((host.kernel_s if host else 0.0) - before) * 1e3


def layer_switches(fig: dict, page, host=None, prefix: str = "") -> None:
    """Cold: back to back, nothing prefetched. Warm: after a pause (the app prefetches neighbours)."""
    layers = int(page.eval_on_selector(".aw-layer", "s => s.options.length"))
    cold = [
        kernel_ms(host, lambda layer=layer: page.evaluate(SWITCH_UNTIL_SHOWN_JS, layer))
        for layer in range(1, min(layers, 6))
    ]
    warm = []
    if layers == 1:
        return  # nothing to switch to
    for layer in [layer for layer in [*range(6, 10), 0, 1] if layer < layers][:4]:
        page.wait_for_timeout(1500)
        warm.append(page.evaluate(SWITCH_UNTIL_SHOWN_JS, layer))
    if cold:
        fig[prefix + "switch_cold_ms"] = statistics.median(ms for ms, _ in cold)
        fig[prefix + "switch_cold_max_ms"] = max(ms for ms, _ in cold)
        if host:
            fig["switch_cold_kernel_ms"] = statistics.median(k for _, k in cold)
    fig[prefix + "switch_warm_ms"] = statistics.median(warm)
    page.evaluate(SWITCH_UNTIL_SHOWN_JS, 0)


def zoom_and_hover(fig: dict, page, host) -> None:
    """A long input's matrix view: wheel steps down to single cells, twice (the second time at
    another point, from the whole matrix), then hovering cells (exact values from the kernel).
    A short one has the whole layer in the browser: hover the head view."""
    long = page.evaluate("() => window.awModel.get('_layer_data')?.packing === 'summary'")
    if not long:
        n = fig["tokens"]
        hovers = []
        for row in [int(r) for r in range(0, n, max(1, n // 12))][:12]:
            page.evaluate(SCROLL_JS, row)
            hovers.append(page.evaluate(HOVER_JS, row)[0])
        fig["hover_ms"] = statistics.median(hovers)
        fig["hover_max_ms"] = max(hovers)
        fig["zoom_note"] = "no tiles: the whole layer is in the browser"
        return
    steps, switches = [], []
    asked, batched = len(host.log), set(host.batches)
    for step in zoom_walk(page):
        zoom = step["zoom"]
        zoom["polled_ms"] = step["polled_ms"]
        # Tiles the step asked for: one request each (single tiles), or batches (not prefetches).
        singles = [k for what, k in host.log[asked:] if what == "tile"]
        batches = [b for i, b in host.batches.items() if i not in batched and not b["prefetch"]]
        tiles = singles + [t for b in batches for t in b.get("tile_ms", [])]
        steps.append((step["ms"], zoom, tiles, len(singles) + sum(b["asked"] for b in batches), batches))
        if zoom.get("r") == 1 and not switches:
            switches = other_heads(page, host)
        asked, batched = len(host.log), set(host.batches)
    x, y = step["at"]
    # A step that asked for tiles waits for the kernel; the others redraw what the page holds
    # (or what a prefetch brought while the page was idle).
    fetching = [(ms, tiles, n, batches) for ms, z, tiles, n, batches in steps if n]
    if not any(z.get("r", 0) > 0 for _, z, *_ in steps):
        raise RuntimeError(f"no zoom step reached the tiles: {steps[-1][1]}")
    if fetching:
        fig["zoom_tile_ms"] = statistics.median(ms for ms, *_ in fetching)
        fig["zoom_tile_max_ms"] = max(ms for ms, *_ in fetching)
        fig["zoom_tile_polled_ms"] = statistics.median(z["polled_ms"] for _, z, _, n, _ in steps if n)
        fig["zoom_tiles_per_step"] = statistics.median(n for _, _, n, _ in fetching)
        kernel = [k for _, tiles, _, _ in fetching for k in tiles]
        fig["zoom_tile_kernel_ms"] = statistics.median(kernel) if kernel else None
    else:
        fig["zoom_note"] = "no zoom step waited for tiles: idle prefetches had brought them all"
    step_batches = [b["ms"] for *_, batches in fetching for b in batches if "ms" in b]
    fig["zoom_batch_kernel_ms"] = statistics.median(step_batches) if step_batches else None
    # The same batches seen from the page: the kernel's part, the messages both ways (here
    # through Playwright, base64), before the view decodes and draws what came.
    trips = page.evaluate("() => window.awTrips")
    step_trips = [
        trips[str(i)]["got"] - trips[str(i)]["sent"]
        for *_, batches in fetching
        for i in (b["id"] for b in batches)
        if "got" in trips.get(str(i), {})
    ]
    fig["zoom_trip_ms"] = statistics.median(step_trips) if step_trips else None
    at_hand = [ms for ms, z, _, n, _ in steps if not n and z.get("r", 0) > 0]
    fig["zoom_drawn_ms"] = statistics.median(at_hand) if at_hand else None
    into_tiles = [ms for ms, z, *_ in steps if z.get("r", 0) > 0]
    fig["zoom_all_ms"] = statistics.median(into_tiles)
    # A step whose tiles an idle prefetch had asked for asks nothing itself, yet waits for them.
    fig["zoom_all_max_ms"] = max(into_tiles)
    fig["zoom_slow_steps"] = f"{sum(ms > 100 for ms in into_tiles)} of {len(into_tiles)}"
    fig["zoom_fetching_steps"] = f"{len(fetching)} of {len(steps)}"
    fig["zoom_prefetched_tiles"] = sum(b["asked"] for b in host.batches.values() if b["prefetch"])
    fig["zoom_steps"] = len(steps)
    fig["heads_tiles_ms"] = statistics.median(ms for ms, _, _ in switches)
    fig["heads_tiles"] = statistics.median(n for _, n, _ in switches)
    fig["heads_update_ms"] = statistics.median(u for _, _, u in switches)
    fig["zoom_notice"] = steps[-1][1].get("notice", "")
    asked = len(host.log)
    hovers = [page.evaluate(CELL_HOVER_JS, [x - 60 + dx, y + 3]) for dx in range(0, 120, 10)]
    values = [k for what, k in host.log[asked:] if what == "value"]
    fig["hover_kernel_ms"] = statistics.median(values) if values else None
    fig["hover_ms"] = statistics.median(h[0] for h in hovers)
    fig["hover_max_ms"] = max(h[0] for h in hovers)
    fig["hover_text"] = hovers[-1][1]


def other_heads(page, host) -> list[tuple[float, int, float]]:
    """Other heads at the first exact zoom step (a view of ~3 x 3 tiles): every tile in view
    is new, nothing prefetched serves. [(ms until drawn, tiles asked, the kernel's ms on the
    heads update)]."""
    switches = []
    for heads in ([0], [1], [2, 3], [4], [0, 1, 2]):
        asked, batched = len(host.log), set(host.batches)
        ms, _ = page.evaluate(HEADS_JS, heads)
        singles = [k for what, k in host.log[asked:] if what == "tile"]
        update = sum(k for what, k in host.log[asked:] if what == "update")
        batches = [b for i, b in host.batches.items() if i not in batched and not b["prefetch"]]
        switches.append((ms, len(singles) + sum(b["asked"] for b in batches), update))
    return switches


def browser_memory(fig: dict, page) -> None:
    """Chromium's JS heap (CDP Performance.getMetrics) and its processes' resident sizes."""
    import psutil

    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    fig["js_heap_mb"] = metrics["JSHeapUsedSize"] / 2**20
    fig["js_heap_total_mb"] = metrics["JSHeapTotalSize"] / 2**20
    renderers, everything = [], 0
    for proc in psutil.Process().children(recursive=True):
        try:
            cmd = proc.cmdline()
            if not cmd or "chrom" not in os.path.basename(cmd[0]):
                continue
            rss = proc.memory_info().rss
        except psutil.Error:
            continue
        everything += rss
        if "--type=renderer" in cmd:
            renderers.append(rss)
    fig["renderer_rss_mb"] = max(renderers) / 2**20 if renderers else None
    fig["chromium_rss_mb"] = everything / 2**20


# ---------------------------------------------------------------- cases, processes, tables


def run_case(name: str, n: int, args) -> dict:
    """One case in a fresh process; a crash or a timeout becomes a failed case with its reason."""
    command = [sys.executable, str(Path(__file__).with_name("bench_widget.py")), "--case-child", name, str(n)]
    command += ["--device", args.device, "--chromium", args.chromium]
    if args.layers:
        command += ["--layers", str(args.layers)]
    if args.heads:
        command += ["--heads", str(args.heads)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.case_timeout)
    except subprocess.TimeoutExpired:
        return {"input": name, "tokens": n, "failed": {"case": f"timed out after {args.case_timeout} s"}}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {"input": name, "tokens": n, "failed": {"case": f"exit status {done.returncode}: {why[:300]}"}}
    fig = json.loads(lines[-1])
    fig["case_s"] = time.perf_counter() - started
    return fig


def case_child(name: str, n: int, layers, heads, device: str, chromium: str) -> None:
    """The child's side: figures as one JSON line on stdout, or the reason it could not."""
    try:
        fig = measure_case(name, n, layers, heads, device, chromium)
    except Exception as exc:  # noqa: BLE001 (any failure is a figure printed with its reason)
        traceback.print_exc()
        _, default_layers, default_heads, _ = INPUTS[name]
        fig = {
            "input": name,
            "tokens": n,
            "layers": layers or default_layers,
            "heads": heads or default_heads,
            "failed": {"case": f"{type(exc).__name__}: {str(exc)[:300]}"},
        }
    print(json.dumps(fig, default=float))


def cell(fig: dict, key: str, unit: str) -> str:
    value = fig.get(key)
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    text = (
        f"{value:.0f}"
        if (unit == "ms" and value >= 10) or not unit
        else f"{value:.1f}"
        if unit != "MB"
        else f"{value:.2f}"
    )
    limit = goal(key, fig["tokens"], fig.get("layers", 0), fig.get("heads", 0))
    if limit is not None:
        text += f" (goal <= {limit:g} {'ok' if value <= limit else 'MISSED'})"
    return text


def print_tables(rows: list[dict]) -> None:
    import pandas as pd

    for name in dict.fromkeys(r["input"] for r in rows):
        mine = [r for r in rows if r["input"] == name]
        shape = f"{mine[0].get('layers', '?')} layers x {mine[0].get('heads', '?')} heads"
        device = mine[0].get("device", "cpu")
        print(f"\n{name}: {shape}, {INPUTS[name][0]}, {device}")
        table = pd.DataFrame(
            {f"T={r['tokens']}": [cell(r, key, unit) for key, _, unit in FIGURES] for r in mine},
            index=[f"{label} [{unit}]" if unit else label for _, label, unit in FIGURES],
        )
        if device != "cuda":
            table = table.drop(index=[f"{label} [MB]" for key, label, _ in FIGURES if key == "gpu_peak_mb"])
        with pd.option_context("display.max_colwidth", 60, "display.width", 250):
            print(table.to_string())
        for r in mine:
            load = f"load {r['load']:.1f}" if "load" in r else ""
            print(f"  T={r['tokens']}: {load} {'; '.join(f'{k} FAILED: {v}' for k, v in r['failed'].items())}")
            for note in ("zoom_notice", "zoom_note", "status"):
                if r.get(note):
                    print(f"    {note}: {r[note]}")
