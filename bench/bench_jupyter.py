"""The widget in a real JupyterLab: first paint and layer switches, measured in the page
(prints figures; asserts nothing).

``bench_widget.py`` drives the kernel's side through its own host (``live_host.py``), whose
messages cross Playwright as base64; here they cross as a notebook's do: kernel, ZeroMQ,
the Jupyter server, a websocket with binary frames. The input is the 12 x 12 GPT-2-shaped
attention of ``bench_widget.py`` (``from_attention``), at each ``--tokens``, in a JupyterLab
started for the run (``tests/lab_server.py``) and Debian's Chromium. Cold layer switches are
back to back from the first paint (nothing prefetched: the kernel encodes each layer as it
is chosen); then, after a pause in which the view fetches layers ahead, switches to layers
far from the shown one. Issue 16's goal at 512 tokens: cold switch <= 100 ms.

    python bench/bench_jupyter.py [--tokens 512 1024] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
from long_inputs import SWITCH_UNTIL_SHOWN_JS  # noqa: E402

from lab_server import run_all_cells, running_lab  # noqa: E402 (tests/ is put on the path above)

CELL = """import sys
sys.path.insert(0, {bench!r})
from long_inputs import gpt2_like_attention
from attnwidget import AttentionWidget
w = AttentionWidget.from_attention([f" tok{{i}}" for i in range({n})], gpt2_like_attention({n}), model_name="gpt2-shaped")
w"""


def notebook(path: Path, n: int) -> None:
    import nbformat

    cell = nbformat.v4.new_code_cell(CELL.format(bench=str(HERE), n=n))
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)


def measure(page, lab, n: int) -> dict:
    name = f"switch_{n}.ipynb"
    notebook(lab.root / name, n)
    run_all_cells(page, lab, f"/lab/tree/{name}")
    page.wait_for_function("() => document.querySelector('.aw-root')?.dataset.firstPaintMs", timeout=180_000)
    fig = {"tokens": n, "first_paint_ms": float(page.eval_on_selector(".aw-root", "r => r.dataset.firstPaintMs"))}
    layers = int(page.eval_on_selector(".aw-layer", "s => s.options.length"))
    # Cold: from the first paint on, back to back: nothing was prefetched (the view waits
    # 120 ms idle before it asks), so the kernel encodes each layer as it is chosen.
    cold, parts = [], []
    for layer in range(1, min(layers, 6)):
        cold.append(page.evaluate(SWITCH_UNTIL_SHOWN_JS, layer))
        parts.append(json.loads(page.eval_on_selector(".aw-root", "r => r.dataset.timings")))
    # After a pause the view has fetched the other layers ahead (as many as its budget holds).
    page.wait_for_timeout(3000)
    idle = [page.evaluate(SWITCH_UNTIL_SHOWN_JS, layer % layers) for layer in (9, 7, 11, 0)]
    fig |= {
        "cold_median_ms": statistics.median(cold),
        "cold_max_ms": max(cold),
        "cold_ms": [round(ms, 1) for ms in cold],
        # The page's own split of a cold switch: waiting for the layer (kernel, messages,
        # decoding in the worker), building the scene, drawing.
        "cold_parts_ms": {k: round(statistics.median(p[k] for p in parts), 1) for k in ("data", "scene", "draw")},
        "after_pause_median_ms": statistics.median(idle),
    }
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Shut Down Kernel", exact=True).click()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[512])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    figures = []
    with (
        tempfile.TemporaryDirectory(prefix="attnwidget-bench-lab-") as tmp,
        running_lab(Path(tmp)) as lab,
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(lab.url) else r.abort())
        for n in args.tokens:
            t0 = time.perf_counter()
            fig = measure(page, lab, n)
            fig["case_s"] = time.perf_counter() - t0
            figures.append(fig)
            print(
                f"T={n}: first paint {fig['first_paint_ms']:.0f} ms; layer switch cold median "
                f"{fig['cold_median_ms']:.0f} ms (max {fig['cold_max_ms']:.0f}; {fig['cold_ms']}), "
                f"after a pause median {fig['after_pause_median_ms']:.0f} ms; a cold switch's parts (median) "
                f"{fig['cold_parts_ms']}" + ("  (goal: cold <= 100 ms)" if n == 512 else ""),
                flush=True,
            )
        browser.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
