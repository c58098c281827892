"""Time to draw each view's picture of a long input, and the static fallback.

    python bench/bench_long_pictures.py [--tokens 2048 8192] [--layers 32] [--heads 32]

For each length, on the 32 x 32 Llama-shaped model (bench/long_inputs.py): the widget
(model pass + capture), the shown layer's summary, the fallback a notebook output carries
(its time and bytes), then each picture built (``w.figure``) and written as PNG at 300 dpi
and as SVG: the matrix view's overview, an exact region and a tall pooled region, the
head view's default window, the neuron view, and the model view after every layer is
summarised (that time is printed on its own). Wall and CPU seconds; the load average is
printed beside them (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(what: str, run) -> object:
    t0, c0 = time.perf_counter(), time.process_time()
    out = run()
    print(f"  {what:<44} {time.perf_counter() - t0:7.2f} s wall  {time.process_time() - c0:7.2f} s cpu", flush=True)
    return out


def bench(n_tokens: int, layers: int, heads: int, out: Path) -> None:
    from long_inputs import long_model, long_text

    from attnwidget import AttentionWidget
    from attnwidget.pictures import fallback

    loaded = long_model(layers, heads)
    text = long_text(loaded, n_tokens)
    print(f"{n_tokens:,} tokens, {layers} x {heads} heads ({load()})", flush=True)
    w = timed("widget (model pass, queries and keys)", lambda: AttentionWidget(text, model=loaded, annotations=None))
    try:
        w.view = "matrix"
        timed(f"summary of the shown layer {w.layer}", lambda: w.store.summary(w.layer))
        for view in ("matrix", "head"):
            w.view = view
            bundle = timed(f"fallback of the {view} view", w._repr_mimebundle_)
            data = bundle[0] if isinstance(bundle, tuple) else bundle
            kind = next((k for k in ("image/svg+xml", "image/png") if k in data), None)
            size = len(data[kind]) if kind else 0
            print(f"    {kind or 'no picture'}: {size / 1e3:.0f} kB (limit {fallback.MAX_BYTES / 1e3:.0f} kB)")
        t = w._data.num_tokens
        cases = [
            ("matrix, whole (overview)", {"view": "matrix"}),
            (
                "matrix, 64 x 64 exact region",
                {"view": "matrix", "rows": (t // 2, t // 2 + 64), "cols": (t // 2 - 32, t // 2 + 32)},
            ),
            ("matrix, all rows x keys 0-255 (pooled)", {"view": "matrix", "cols": (0, 256)}),
            ("head, 40 rows", {"view": "head"}),
            ("neuron", {"view": "neuron"}),
        ]
        for name, options in cases:
            timed(f"{name}: figure", lambda o=options: w.figure(**o))
            timed(f"{name}: PNG 300 dpi", lambda o=options: w.save_png(out / "p.png", **o))
            timed(f"{name}: SVG", lambda o=options: w.save_svg(out / "p.svg", **o))
        timed("every layer summarised (for the model view)", lambda: w.store.summarise_all(first=w.layer))
        timed("model: figure", lambda: w.figure(view="model"))
        timed("model: PNG 300 dpi", lambda: w.save_png(out / "m.png", view="model"))
        timed("model: SVG", lambda: w.save_svg(out / "m.svg", view="model"))
    finally:
        w.close()
    print(f"  ({load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--heads", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.tokens:
            bench(n, args.layers, args.heads, Path(tmp))


if __name__ == "__main__":
    main()
