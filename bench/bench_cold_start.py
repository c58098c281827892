"""Time to the first AttentionWidget in a fresh Python process, and to the second (prints figures).

    python bench/bench_cold_start.py [--runs 5] [--text "..."]

Each run is a fresh interpreter (``python -c``, with IPython imported before the clock
starts), as a notebook kernel is after a restart.
Two kinds of run, each repeated ``--runs`` times; the medians are printed:

- ``total``: what a user does, ``AttentionWidget(text, model=OFFLINE_MODEL)`` right after
  ``from attnwidget import AttentionWidget, OFFLINE_MODEL``: cold (the first widget, every
  import and load included) and warm (a second widget on another sentence, same process),
  each followed by its display (``_repr_mimebundle_``, which draws the static picture every
  output carries: matplotlib's import is part of the first one).
- ``phases``: the same work done one step at a time, to see where the cold time goes:
  the widget module (anywidget, ipywidgets), torch, transformers and the model's
  modelling code, the model load (weights, tokenizer, probe passes), spaCy, its pipeline,
  matplotlib (the static picture's; a widget loads it in a background thread), the first
  widget once all of that is loaded (forward pass, alignment, payload) and its
  first display (the static picture).

Each figure is wall-clock seconds and, in brackets, the process's CPU seconds (on a busy
machine the CPU time is the steadier figure; the wall time is what a user waits).
- ``notebook``: a real Jupyter kernel (``preloading.py``): the import cell leaves loading torch,
  transformers, spaCy and matplotlib to the kernel's idle time, and the widget cell comes
  ``--pauses`` seconds later (the time a user takes to write it; 0 is Run All). The figure
  that counts is the wait at the widget cell, to its first display (its picture).

Uses the embedded offline model (all-MiniLM-L6-v2) and spaCy's en_core_web_sm; no network.
Goal (issue 15): the cold total at least twice as fast as 7 s (quiet machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: The children run here: `python -c` puts its working folder first on sys.path.
BENCH = Path(__file__).resolve().parent
TEXT = "The keys that the man left on the kitchen table were gone by the morning."

# Both children print one JSON line: {phase: [wall_s, cpu_s]}. IPython is imported before
# the clock starts: a notebook kernel has it loaded before the first cell runs.
_CLOCK = """
import json, sys, time
import IPython
_marks = {}
def _phase(name, t=[time.perf_counter(), time.process_time()]):
    now = [time.perf_counter(), time.process_time()]
    _marks[name] = [now[0] - t[0], now[1] - t[1]]
    t[:] = now
"""

TOTAL = (
    _CLOCK
    + """
from attnwidget import AttentionWidget, OFFLINE_MODEL
_phase("import attnwidget")
w = AttentionWidget(TEXT, model=OFFLINE_MODEL)
_phase("cold: first widget")
assert "image/svg+xml" in w._repr_mimebundle_()[0]
_phase("cold: its first display (static picture)")
w2 = AttentionWidget(TEXT.replace("morning", "evening"), model=OFFLINE_MODEL)
_phase("warm: second widget")
w2._repr_mimebundle_()
_phase("warm: its display")
print(json.dumps(_marks))
"""
)

# A notebook: cell 1 imports (which leaves the preload's steps to the kernel's idle time,
# preloading.py), the user takes PAUSE seconds to write cell 2, which makes the first widget and
# shows it. PAUSE 0 is "Run All". Cell 2 is timed as the notebook's client waits for it.
CELL_1 = "from attnwidget import AttentionWidget, OFFLINE_MODEL"
CELL_2 = "w = AttentionWidget(TEXT, model=OFFLINE_MODEL)\nw"


def run_notebook(text: str, pause: float) -> dict:
    """One fresh Jupyter kernel: each cell's wall seconds, waited for by its client ([wall, 0]:
    the kernel's CPU time is not split by cell)."""
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from jupyter_kernels import running_kernel

    env = {k: v for k, v in _env().items() if k != "ATTNWIDGET_PRELOAD"}  # a kernel decides by itself
    marks = {}
    with running_kernel(env) as kc:
        kc.execute_interactive(f"TEXT = {text!r}", timeout=300)  # the kernel is up
        for name, code in (("cell 1: import attnwidget", CELL_1), ("the user writes cell 2", None)):
            t0 = time.perf_counter()
            if code is None:
                time.sleep(pause)
            else:
                assert (
                    kc.execute_interactive(code, timeout=300, output_hook=lambda m: None)["content"]["status"] == "ok"
                )
            marks[name] = [time.perf_counter() - t0, 0.0]
        t0 = time.perf_counter()
        shown = []
        reply = kc.execute_interactive(CELL_2, timeout=300, output_hook=shown.append)
        marks["cell 2: first widget, shown"] = [time.perf_counter() - t0, 0.0]
        assert reply["content"]["status"] == "ok"
        assert any("image/svg+xml" in m["content"].get("data", {}) for m in shown), "cell 2 showed no picture"
    return marks


PHASES = (
    _CLOCK
    + """
from attnwidget import AttentionWidget, OFFLINE_MODEL
_phase("widget module (anywidget)")
import torch
_phase("import torch")
import transformers
from transformers import AutoConfig
from transformers.models.auto.modeling_auto import MODEL_MAPPING
try:
    from attnwidget.transformer.loading import embedded_model_path
except ImportError:  # attnwidget before its subpackages, to compare
    from attnwidget.models import embedded_model_path
MODEL_MAPPING[type(AutoConfig.from_pretrained(embedded_model_path(OFFLINE_MODEL)))]
_phase("import transformers + model code")
from attnwidget import load_model
model = load_model(OFFLINE_MODEL, progress=False)
_phase("load model (weights, tokenizer, probe)")
import spacy
_phase("import spacy")
try:
    from attnwidget.text.syntax import spacy_pipeline
except ImportError:
    from attnwidget.syntax import spacy_pipeline
spacy_pipeline(None)  # as the widget asks for it
_phase("load spaCy pipeline")
import matplotlib.backends.backend_svg, matplotlib.figure  # what the widget's warm-up loads
from attnwidget.pictures.style import text_width
text_width("warm", 9.0)  # the font cache
_phase("import matplotlib (static picture)")
w = AttentionWidget(TEXT, model=model)
_phase("first widget, all loaded")
assert "image/svg+xml" in w._repr_mimebundle_()[0]
_phase("its first display (static picture)")
print(json.dumps(_marks))
"""
)


def _env() -> dict:
    return {
        **os.environ,
        "ATTNWIDGET_PRELOAD": "0",  # these children are no kernels: nothing to load ahead
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "TQDM_DISABLE": "1",
        "PYTHONPATH": os.environ.get("PYTHONPATH") or str(Path(__file__).resolve().parents[1]),
    }


def run(script: str, text: str) -> dict:
    # PYTHONPATH chooses the attnwidget measured (default: this checkout); the child runs in
    # bench/ (no attnwidget there), since `python -c` puts its working folder first on sys.path.
    out = subprocess.run(
        [sys.executable, "-c", f"TEXT = {text!r}\n" + script],
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
        cwd=BENCH,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(title: str, runs: list[dict]) -> None:
    print(f"\n{title} (median of {len(runs)} fresh processes; wall s [cpu s])")
    for phase in runs[0]:
        wall = statistics.median(r[phase][0] for r in runs)
        cpu = statistics.median(r[phase][1] for r in runs)
        print(f"  {phase:<42} {wall:6.2f}  [{cpu:5.2f}]")
    if "cell 2: first widget, shown" in runs[0]:
        return
    if "cold: first widget" not in runs[0]:
        _total(runs, list(runs[0]), "sum")
        return
    # What the goal counts: from the import to the first widget, and on to its picture.
    first_widget = ["import attnwidget", "cold: first widget"]
    _total(runs, first_widget, "cold total: to the first widget")
    _total(runs, [*first_widget, "cold: its first display (static picture)"], "cold total: to its first display")


def _total(runs: list[dict], phases: list[str], label: str) -> None:
    wall = statistics.median(sum(r[p][0] for p in phases) for r in runs)
    cpu = statistics.median(sum(r[p][1] for p in phases) for r in runs)
    print(f"  {label:<42} {wall:6.2f}  [{cpu:5.2f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per kind (default 5)")
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--only", choices=("total", "notebook", "phases"), default=None)
    parser.add_argument(
        "--pauses",
        type=float,
        nargs="+",
        default=[0.0, 5.0, 10.0, 20.0],
        help="notebook runs: seconds between the import cell and the widget cell (default 0 5 10 20)",
    )
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    measured = subprocess.run(
        [sys.executable, "-c", "import attnwidget; print(attnwidget.__file__)"],
        env=_env(),
        check=True,
        capture_output=True,
        text=True,
        cwd=BENCH,
    ).stdout.strip()
    print(f"measuring {measured}")
    if args.only in (None, "total"):
        report("time to the first widget", [run(TOTAL, args.text) for _ in range(args.runs)])
    if args.only in (None, "notebook"):
        for pause in args.pauses:
            title = f"a Jupyter kernel, preloading: the widget cell {pause:g} s after the import cell"
            report(title, [run_notebook(args.text, pause) for _ in range(args.runs)])
    if args.only in (None, "phases"):
        report("where the cold time goes", [run(PHASES, args.text) for _ in range(args.runs)])


if __name__ == "__main__":
    main()
