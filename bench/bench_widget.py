"""AttentionWidget speed and size at 64-512 tokens (prints figures; asserts nothing).

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
hover <= 50 ms. Run: python bench/bench_widget.py [--tokens 64 128 256 512]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def gpt2_like_attention(n: int, layers: int = 12, heads: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(layers, heads, n, n)).astype(np.float32) * 3.0
    logits[..., 0] += 4.0  # attention sink on the first token
    logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    logits -= logits.max(-1, keepdims=True)
    a = np.exp(logits)
    a /= a.sum(-1, keepdims=True)
    return a


LAYER_SWITCH_JS = """async (layer) => {
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
  return performance.now() - t0;
}"""

SCROLL_JS = """async (row) => {
  const stage = document.querySelector('.aw-stage');
  stage.scrollTop = Math.max(0, 8 + 18 * row - 200);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""

HOVER_JS = """(row) => {
  // Hover a query token (no syntax here: the query column starts 8 px in) and leave it.
  const root = document.querySelector('.aw-root');
  const stage = root.querySelector('.aw-stage');
  const canvas = root.querySelector('.aw-view:not([hidden]) canvas');
  const r = canvas.getBoundingClientRect();
  const x = r.left + 12, y = r.top + 8 + 18 * (row + 0.5) - stage.scrollTop;
  const draws = Number(root.dataset.draws);
  const t0 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
  const t1 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mouseleave', {bubbles: true}));
  const t2 = performance.now();
  if (Number(root.dataset.draws) < draws + 2) throw new Error('hover did not redraw');
  return [t1 - t0, t2 - t1];
}"""


def measure(n: int, page, out: Path) -> dict:
    from attnwidget.widget import AttentionWidget

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="attnwidget-bench-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for n in args.tokens:
            rows.append(measure(n, page, out))
        browser.close()
    print(f"{'tokens':>6} {'state MB':>9} {'(data)':>7} {'1st paint':>10} {'layer sw':>9} {'(max)':>7} {'(cold)':>7} "
          f"{'hover':>7} {'(max)':>7} {'unhover':>8} {'export MB':>10} {'py build':>9} {'py export':>10}")
    for r in rows:
        print(f"{r['tokens']:>6} {r['state_bytes'] / 1e6:>9.2f} {r['state_data_bytes'] / 1e6:>7.2f} "
              f"{r['first_paint_ms']:>8.0f}ms {r['layer_switch_ms']:>7.0f}ms {r['layer_switch_max_ms']:>5.0f}ms "
              f"{r['layer_switch_cold_ms']:>5.0f}ms "
              f"{r['hover_ms']:>5.1f}ms {r['hover_max_ms']:>5.1f}ms {r['unhover_ms']:>6.1f}ms "
              f"{r['export_bytes'] / 1e6:>10.2f} {r['build_s']:>8.2f}s {r['export_s']:>9.2f}s")
    print("goals at 512 tokens: state <= 2 MB, first paint <= 1500 ms, layer switch <= 150 ms, hover <= 50 ms")
    for r in rows:
        print(f"  {r['tokens']} tokens: {r['status']}")


if __name__ == "__main__":
    main()
