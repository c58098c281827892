"""What the static fallback adds to a widget's display, cold and warm.

    python bench/bench_fallback.py [--text "..."]

Each case runs in a fresh process (as a new kernel): it builds an AttentionWidget with
the embedded offline model and spaCy, then times ``_repr_mimebundle_`` (what IPython
calls to display it) with the fallback on (the default) and off, for the first display
and a second one, and the size of the picture stored in the notebook. Prints one line
per case and the time the fallback adds to the first display.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXT = "The keys that the man left on the kitchen table were gone by the morning."

CHILD = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
import attnwidget as aw
from attnwidget.pictures import fallback
fallback.FALLBACK = {mode!r}
w = aw.AttentionWidget({text!r}, model=aw.OFFLINE_MODEL)
t1 = time.perf_counter()
out = {{"build_s": t1 - t0}}
for name in ("first", "second"):
    t = time.perf_counter()
    bundle = w._repr_mimebundle_()
    out[name + "_display_s"] = time.perf_counter() - t
data = bundle[0] if isinstance(bundle, tuple) else bundle
out["picture"] = next((k for k in ("image/svg+xml", "image/png") if k in data), None)
out["picture_bytes"] = len(data[out["picture"]]) if out["picture"] else 0
for view in ("model", "matrix"):
    w.view = view
    t = time.perf_counter()
    bundle = w._repr_mimebundle_()
    out[view + "_display_s"] = time.perf_counter() - t
print(json.dumps(out))
"""


def run(mode, text) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    code = CHILD.format(repo=str(REPO), mode=mode, text=text)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=TEXT)
    args = parser.parse_args()
    results = {}
    for mode in (None, "auto"):
        r = results[mode] = run(mode, args.text)
        print(
            f"fallback={mode!s:5}  build {r['build_s']:6.2f} s  first display {r['first_display_s']:6.3f} s  "
            f"second {r['second_display_s']:6.3f} s  model view {r['model_display_s']:6.3f} s  "
            f"matrix view {r['matrix_display_s']:6.3f} s  picture {r['picture'] or '-'} {r['picture_bytes'] / 1e3:.0f} kB"
        )
    added = results["auto"]["first_display_s"] - results[None]["first_display_s"]
    build = results["auto"]["build_s"] + results["auto"]["first_display_s"]
    print(f"the fallback adds {added:.3f} s to the first display ({added / build:.1%} of build + display)")


if __name__ == "__main__":
    main()
