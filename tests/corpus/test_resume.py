"""Nothing lost: runs killed (SIGKILL) and interrupted (a real SIGINT) then resumed give
the numbers of an uninterrupted run; the output folder is always one whole write; resuming
refuses another corpus, model or options; two runs cannot write one folder.

The real offline MiniLM on real EWT sentences, through the real command line, in
subprocesses."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attnwidget.corpus.coverage import Coverage
from attnwidget.corpus.output_folder import OUTPUT_NAMES, inspect_folder, load_checkpoint, load_output
from attnwidget.corpus.stats import AttentionStats
from attnwidget.transformer.loading import OFFLINE_MODEL

REPO = Path(__file__).resolve().parents[2]
N = 400  # EWT sentences: seven chunks of 64 at --batch-size 8
BASE = [
    "--model",
    OFFLINE_MODEL,
    "--max-sentences",
    str(N),
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--no-figures",
    "--quiet",
]


def command(ewt_path, out, *extra) -> list[str]:
    return [sys.executable, "-m", "attnwidget.cli", "analyze", str(ewt_path), "--out", str(out), *BASE, *extra]


def start(args, **kwargs) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def finish(args) -> subprocess.CompletedProcess:
    process = start(args)
    out, err = process.communicate(timeout=900)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def covered(out: Path) -> int:
    """Entries the folder's manifest says are done (0 while there is none)."""
    try:
        return len(Coverage.from_json(json.loads((out / "manifest.json").read_text())["coverage"]))
    except (OSError, ValueError, KeyError):
        return 0


def wait_for_checkpoint(process: subprocess.Popen, out: Path, beyond: int = 0, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while covered(out) <= beyond:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)


def assert_whole_write(out: Path) -> AttentionStats:
    """The folder is one write of one run: its manifest, files and statistics agree."""
    content = inspect_folder(out)
    assert content.kind in ("complete", "partial"), content.kind
    manifest = content.manifest
    names = set(content.names)
    assert names <= OUTPUT_NAMES
    stats = load_output(out)
    assert stats.summary.coverage == Coverage.from_json(manifest["coverage"])
    assert stats.summary.sentences == manifest["sentences"]
    if content.kind == "complete":
        assert names == {"manifest.json", "metrics.csv", "exemplars.jsonl", "stats.npz", "summary.txt"}
    else:
        assert {"manifest.json", "summary.txt", "checkpoint"} <= names and "stats.npz" not in names
        assert manifest["resume"].endswith("--resume")
        assert load_checkpoint(out)[0].summary.coverage == stats.summary.coverage
    return stats


def assert_same_results(got: Path, want: Path, entries: int = N) -> None:
    """Every metric within 1e-9, the same exemplars, the same head-accuracy tables (and
    both cover the first ``entries`` entries)."""
    a = pd.read_csv(got / "metrics.csv", keep_default_na=False, na_values=[""])
    b = pd.read_csv(want / "metrics.csv", keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(a[["metric", "layer", "head", "key"]], b[["metric", "layer", "head", "key"]])
    assert np.allclose(a["value"], b["value"], rtol=0, atol=1e-9, equal_nan=True)
    assert (got / "exemplars.jsonl").read_text() == (want / "exemplars.jsonl").read_text()
    x, y = AttentionStats.load(got / "stats.npz"), AttentionStats.load(want / "stats.npz")
    for direction in (None, "dependent_to_head", "head_to_dependent"):
        pd.testing.assert_frame_equal(x.head_accuracy_table(direction), y.head_accuracy_table(direction))
    assert x.summary.coverage == y.summary.coverage == Coverage.range(0, entries)
    assert (x.summary.sentences, x.summary.tokens, x.summary.skipped) == (
        y.summary.sentences,
        y.summary.tokens,
        y.summary.skipped,
    )


@pytest.fixture(scope="module")
def whole(ewt_path, tmp_path_factory) -> Path:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("whole") / "out"
    done = finish(command(ewt_path, out))
    assert done.returncode == 0, done.stderr
    assert_whole_write(out)
    return out


def test_killed_again_and_again_then_resumed_equals_the_uninterrupted_run(whole, ewt_path, tmp_path):
    out = tmp_path / "out"
    rng = random.Random(3)
    args = command(ewt_path, out, "--checkpoint-every", "0")
    kills = 0
    while kills < 4:
        before = covered(out)
        process = start(args + (["--resume"] if kills else []))
        wait_for_checkpoint(process, out, beyond=before)  # it made progress: now kill it somewhere
        time.sleep(rng.random() * 1.5)
        process.send_signal(signal.SIGKILL)
        process.wait(60)
        kills += 1
        if covered(out) == N:  # it got to the end before the kill
            break
        stats = assert_whole_write(out)
        assert stats.summary.coverage == Coverage.range(0, stats.summary.entries)
    done = finish(args + ["--resume"])
    assert done.returncode == 0, done.stderr
    assert_whole_write(out)
    assert_same_results(out, whole)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["history"]) >= 2  # every session is on record


def test_ctrl_c_stops_at_once_and_says_how_to_resume(whole, ewt_path, tmp_path):
    out = tmp_path / "out"
    process = start(command(ewt_path, out, "--checkpoint-every", "0"))
    wait_for_checkpoint(process, out)
    time.sleep(0.4)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    latency = time.monotonic() - sent
    print(f"Ctrl-C to exit: {latency:.2f} s")
    assert latency < 15, "Ctrl-C did not stop the run"  # a hang guard; bench/bench_interrupt.py times it
    assert process.returncode == 130, err
    assert "Continue with:" in err
    resume = err.split("Continue with:")[1].split()
    assert resume[:2] == ["attnwidget", "analyze"] and resume[-1] == "--resume"
    stats = assert_whole_write(out)
    assert stats.summary.interrupted and 0 < len(stats.summary.coverage) < N
    assert {"metrics.csv", "exemplars.jsonl"} <= set(os.listdir(out))  # what was done, readable now
    done = finish([sys.executable, "-m", "attnwidget.cli", *resume[1:]])  # the printed command, as is
    assert done.returncode == 0, done.stderr
    assert_same_results(out, whole)


def test_resuming_a_finished_run_does_nothing(whole, ewt_path, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(whole, out)
    manifest = (out / "manifest.json").read_text()
    done = finish(command(ewt_path, out, "--resume"))
    assert done.returncode == 0 and "already held the finished run" in done.stderr
    assert (out / "manifest.json").read_text() == manifest


def test_two_runs_cannot_write_one_folder(ewt_path, tmp_path):
    out = tmp_path / "out"
    first = start(command(ewt_path, out, "--checkpoint-every", "0"))
    try:
        wait_for_checkpoint(first, out)
        second = finish(command(ewt_path, out, "--restart"))
        assert second.returncode == 2
        assert f"being written by another attnwidget run (pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.wait(60)
    assert_whole_write(out)  # the first run's last checkpoint, untouched by the second
