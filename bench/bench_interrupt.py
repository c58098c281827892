"""How fast does Ctrl-C stop `attnwidget analyze`, and what does a checkpoint cost?

    python bench/bench_interrupt.py [--repeats 3] [--sentences 2000] [--batch-size 32]

(1) Runs `attnwidget analyze` on the EWT dev set with the embedded offline model in a
subprocess, waits until it is well into the corpus, sends a real SIGINT and times (a) the
moment the run has stopped and saved its checkpoint (its "Continue with" line on stderr)
and (b) the process's exit (which adds the interpreter's own teardown of torch and the
model, the same for any process that loaded them). Goal: the run stops within 2 s.
(2) Times a checkpoint written into an output folder from a run's state, against the
time that run took, which is what checkpointing costs at one per chunk (the default is
one per 300 s).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EWT = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-dev.conllu"


def interrupt_once(out: Path, sentences: int, batch_size: int, wait: float) -> dict:
    """SIGINT ``wait`` seconds after the run's first checkpoint (one per chunk here)."""
    from attnwidget.transformer.loading import OFFLINE_MODEL

    args = [
        sys.executable,
        "-m",
        "attnwidget.cli",
        "analyze",
        str(EWT),
        "--out",
        str(out),
        "--model",
        OFFLINE_MODEL,
        "--max-sentences",
        str(sentences),
        "--batch-size",
        str(batch_size),
        "--device",
        "cpu",
        "--quiet",
        "--no-figures",
        "--checkpoint-every",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: [lines.append((time.monotonic(), line)) for line in process.stderr])
    reader.start()
    while not (out / "manifest.json").exists() and process.poll() is None:
        time.sleep(0.02)
    time.sleep(wait)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait()
    exited = time.monotonic()
    reader.join()
    stopped = next((t for t, line in lines if "Continue with" in line), None)
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    return {
        "stopped_s": None if stopped is None else stopped - sent,
        "exit_s": exited - sent,
        "returncode": process.returncode,
        "covers": manifest.get("covers"),
    }


def checkpoint_cost(sentences: int, batch_size: int) -> dict:
    from attnwidget.corpus.analysis import analyze
    from attnwidget.corpus.atomic import AtomicFolder
    from attnwidget.corpus.output_folder import CheckpointWriter, RunSpec, build_manifest, write_folder
    from attnwidget.transformer.loading import OFFLINE_MODEL, load_model

    model = load_model(OFFLINE_MODEL, device="cpu")
    start = time.perf_counter()
    stats = analyze(EWT, model=model, batch_size=batch_size, max_sentences=sentences, progress=False)
    run = time.perf_counter() - start
    chunks = -(-stats.summary.sentences // (batch_size * 8))
    with tempfile.TemporaryDirectory() as root:
        folder = AtomicFolder(Path(root) / "out")
        writer = CheckpointWriter(folder)
        spec = RunSpec(str(EWT), None, None, True, model.name, {})
        times = []
        for _ in range(3):  # the first writes every cell; the next ones only link them
            start = time.perf_counter()
            write_folder(
                folder, stats, build_manifest(spec, stats.summary, "checkpoint"), results=False, checkpoint=writer
            )
            times.append(time.perf_counter() - start)
    return {
        "run_s": run,
        "chunks": chunks,
        "first_checkpoint_s": times[0],
        "later_checkpoint_s": min(times[1:]),
        "cost_at_one_per_chunk": chunks * min(times[1:]) / run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--wait", type=float, default=1.0, help="seconds after the first checkpoint to the SIGINT")
    args = parser.parse_args()
    if not EWT.exists():
        sys.exit(f"needs the EWT dev set at {EWT}")
    with tempfile.TemporaryDirectory() as root:
        runs = [
            interrupt_once(Path(root) / f"run{k}", args.sentences, args.batch_size, args.wait)
            for k in range(args.repeats)
        ]
    for r in runs:
        stopped = "never" if r["stopped_s"] is None else f"{r['stopped_s']:.2f} s"
        print(
            f"  Ctrl-C -> stopped and checkpoint saved: {stopped:>8}   -> process exit: {r['exit_s']:.2f} s"
            f"   (exit {r['returncode']}, {r['covers']})"
        )
    cost = checkpoint_cost(args.sentences, args.batch_size)
    print(
        f"  checkpoint of a {cost['run_s']:.1f} s run: first {cost['first_checkpoint_s'] * 1000:.0f} ms, "
        f"later {cost['later_checkpoint_s'] * 1000:.0f} ms; at one per chunk ({cost['chunks']} chunks) "
        f"{cost['cost_at_one_per_chunk'] * 100:.1f} % of the run (default: one per 300 s)"
    )
    print(json.dumps({"interrupts": runs, "checkpoint": cost}))


if __name__ == "__main__":
    main()
