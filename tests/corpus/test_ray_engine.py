"""``analyze(..., engine="ray")`` on a real local Ray cluster of two workers: the same result
as a single process on the EWT dev set; a worker killed by pid, a driver killed by pid, a
block that fails for its data; and the clear error when Ray is not installed.

The cluster is started once for the module (its start takes 10-60 s) with two CPUs, and every worker of it gets the fault of ``tests/ray_faults.py``,
which only a marked sentence sets off. Each test is bounded by a watchdog. Here, where
other sessions run Ray too, run these tests in a loopback-only network namespace
(``unshare -n sh -c 'ip link set lo up; python -m pytest tests/corpus/test_ray_engine.py'``); on a
fresh machine (CI) plain pytest does. The cluster is not the engine's own local start
(``ray.init``), whose node gives its agents 15 s to start, too little on a loaded 2-core
machine; the engine's start is what bench/bench_analyze.py --engine ray and the command
line use."""

from __future__ import annotations

import faulthandler
import gzip
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path

import pytest
import torch
from test_resume import assert_same_results as same_results

from attnwidget.cli.commands import main
from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.coverage import Coverage
from attnwidget.corpus.stats import AttentionStats
from attnwidget.errors import AttnWidgetError
from attnwidget.text.syntax import Syntax, iter_conllu
from attnwidget.transformer.loading import OFFLINE_MODEL
from ray_faults import MARK
from testdata import EWT_DEV, REPO, TESTS

BATCH = 8  # chunks of 64 sentences: 32 blocks on the EWT dev set
EWT_ENTRIES = 2001  # sentences in the EWT dev set, every one analysed
BASE = {"model": OFFLINE_MODEL, "batch_size": BATCH, "device": "cpu", "progress": False, "figures": False}
#: Seconds a test may take before the watchdog ends the run with every thread's traceback.
LIMIT = 900

pytestmark = [pytest.mark.slow]


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(LIMIT, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def cluster():
    """A Ray head of 2 CPUs on this machine for the module (``ray start --head``, every port
    given, so a busy machine does not fail its start), its files in a short temporary folder
    (Unix socket paths must stay under 108 bytes), and this process joined to it. Its
    workers import ``ray_faults`` from tests/, and this process's runs install its fault."""
    ray = pytest.importorskip("ray")
    from attnwidget.corpus.ray_engine import LocalHead

    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    path = os.pathsep.join(p for p in (str(TESTS), str(REPO), os.environ.get("PYTHONPATH")) if p)
    try:
        with LocalHead(2, temp, env={"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}) as head:
            ray.init(
                address=head.address,
                configure_logging=False,
                log_to_driver=False,
                runtime_env={"worker_process_setup_hook": "ray_faults.fail_marked_batches"},
            )
            try:
                yield ray
            finally:
                ray.shutdown()
    finally:
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The single-process run over the whole EWT dev set, on one thread as each worker runs
    (a CPU apiece on the test cluster): the model's matrix products round differently with
    another thread count (~1e-6), and the engines are checked to agree exactly."""
    out = tmp_path_factory.mktemp("local") / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        analyze(EWT_DEV, out=out, **BASE)
    finally:
        torch.set_num_threads(threads)
    return out


def covered(out: Path) -> int:
    try:
        return len(Coverage.from_json(json.loads((out / "manifest.json").read_text())["coverage"]))
    except (OSError, ValueError, KeyError):
        return 0


def assert_same_results(got: Path, want: Path) -> None:
    """Every metric within 1e-9, the same exemplars and head-accuracy tables (test_resume's
    check), and the same summary counts."""
    x, y = AttentionStats.load(got).summary, AttentionStats.load(want).summary
    same_results(got, want, entries=y.entries)
    fields = ("annotated_tokens", "duplicates", "truncated", "entries")
    assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields]


# ---------------------------------------------------------------------------- without Ray


def test_engine_ray_without_ray_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    with pytest.raises(AttnWidgetError, match=r"pip install 'attnwidget\[ray\]'"):
        analyze(EWT_DEV, engine="ray", progress=False)
    assert main(["analyze", str(EWT_DEV), "--out", str(tmp_path / "o"), "--engine", "ray", "--quiet"]) == 2
    assert "attnwidget[ray]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(AttnWidgetError, match="engine must be 'local'"):
        analyze(EWT_DEV, engine="dask", progress=False)
    with pytest.raises(AttnWidgetError, match=r"are for engine='ray' .*add engine='ray'"):
        analyze(EWT_DEV, workers=2, progress=False)


def test_engine_ray_needs_the_model_by_name_and_the_whole_corpus(minilm):
    pytest.importorskip("ray")
    with pytest.raises(AttnWidgetError, match="needs the model's name or folder"):
        analyze(EWT_DEV, model=minilm, engine="ray", progress=False)
    with pytest.raises(AttnWidgetError, match="shard= is for splitting it by hand without Ray"):
        analyze(EWT_DEV, engine="ray", shard="0/2", progress=False)


def test_a_block_is_merged_in_place_with_the_checks_of_merge(minilm):
    """The driver adds blocks with ``absorb``: merge's numbers, merge's refusal of overlaps."""
    from attnwidget.corpus.coverage import CoverageOverlapError

    syntaxes = list(islice(iter_conllu(EWT_DEV), 16))
    part = lambda shard: analyze(syntaxes, model=minilm, batch_size=4, progress=False, shard=shard)
    even, odd = part("0/2"), part("1/2")
    merged = even.merge(odd)
    even.absorb(odd)
    assert even.to_frame().equals(merged.to_frame()) and even.exemplar_rows() == merged.exemplar_rows()
    assert even.summary.coverage == Coverage.range(0, 16)
    with pytest.raises(CoverageOverlapError, match="both parts cover entries 1–15 with index % 2 == 1"):
        even.absorb(odd)


# ------------------------------------------------------------------------------ on Ray


def test_ray_run_equals_the_single_process_run_on_ewt(cluster, reference, tmp_path):
    out = tmp_path / "ray"
    stats = analyze(EWT_DEV, out=out, engine="ray", workers=2, **BASE)
    assert stats.summary.entries == EWT_ENTRIES and stats.blocks_run == math.ceil(stats.summary.sentences / 64)
    assert_same_results(out, reference)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["history"][-1]["settings"]["engine"] == "ray"


def split_gzipped(path: Path, parts: int, folder: Path) -> str:
    """The CoNLL-U file cut into ``parts`` gzipped files; the glob that finds them in order."""
    sentences = path.read_text(encoding="utf-8").strip("\n").split("\n\n")
    size = math.ceil(len(sentences) / parts)
    folder.mkdir()
    for k in range(parts):
        with gzip.open(folder / f"part-{k}.conllu.gz", "wt", encoding="utf-8") as handle:
            handle.write("\n\n".join(sentences[k * size : (k + 1) * size]) + "\n\n")
    return str(folder / "part-*.conllu.gz")


def test_a_worker_killed_mid_run_has_its_block_rerun_and_the_numbers_unchanged(cluster, reference, tmp_path):
    import psutil

    out = tmp_path / "ray"
    corpus = split_gzipped(EWT_DEV, 3, tmp_path / "parts")  # many gzipped files, read as one corpus
    killed: list[int] = []

    def kill_a_worker():
        deadline = time.monotonic() + LIMIT / 2
        while covered(out) == 0 and time.monotonic() < deadline:  # the first block is merged: workers are busy
            time.sleep(0.05)
        workers = [
            p for p in psutil.Process().children(recursive=True) if any("BlockWorker" in part for part in _cmdline(p))
        ]
        if workers:
            killed.append(workers[0].pid)
            os.kill(workers[0].pid, signal.SIGKILL)

    thread = threading.Thread(target=kill_a_worker, daemon=True)
    thread.start()
    stats = analyze(corpus, out=out, engine="ray", workers=2, checkpoint_every=0, **BASE)
    thread.join(timeout=60)
    assert killed, "no worker process was found to kill"
    assert covered(out) == EWT_ENTRIES and stats.summary.sentences == EWT_ENTRIES
    # The parts read as one corpus give the file's numbers; the killed worker's block was run again.
    assert_same_results(out, reference)


def _cmdline(process) -> list[str]:
    try:
        return process.cmdline()
    except Exception:
        return []


def test_a_driver_killed_mid_run_resumes_without_redoing_finished_blocks(cluster, reference, tmp_path):
    out = tmp_path / "ray"
    address = cluster.get_runtime_context().gcs_address  # the subprocess joins the module's cluster
    args = [
        sys.executable,
        "-m",
        "attnwidget.cli",
        "analyze",
        str(EWT_DEV),
        "--out",
        str(out),
        "--model",
        OFFLINE_MODEL,
        "--batch-size",
        str(BATCH),
        "--device",
        "cpu",
        "--no-figures",
        "--quiet",
        "--checkpoint-every",
        "0",
        "--engine",
        "ray",
        "--address",
        address,
        "--workers",
        "2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    driver = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + LIMIT / 2
        while covered(out) < 128:  # two blocks merged and checkpointed
            assert driver.poll() is None, driver.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the driver wrote no checkpoint"
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)
        driver.wait(60)
    finally:
        if driver.poll() is None:
            driver.kill()
    manifest = json.loads((out / "manifest.json").read_text())
    done = covered(out)
    assert not manifest["complete"] and 0 < done < EWT_ENTRIES and manifest["resume"].endswith("--resume")
    assert "--engine ray" in manifest["resume"]

    stats = analyze(EWT_DEV, out=out, resume=True, engine="ray", workers=2, **BASE)
    reference_stats = AttentionStats.load(reference)
    assert not reference_stats.summary.skipped  # every entry a sentence: blocks are 64 entries
    assert stats.blocks_run == math.ceil((EWT_ENTRIES - done) / 64)  # only the blocks after the checkpoint
    assert_same_results(out, reference)
    assert len(json.loads((out / "manifest.json").read_text())["history"]) == 2


def marked(syntax: Syntax) -> Syntax:
    """The sentence with the fault's mark as one more word (attached to the root)."""
    start = len(syntax.text) + 1
    root = syntax.heads.index(-1)
    return Syntax(
        syntax.text + " " + MARK,
        [*syntax.words, MARK],
        [*syntax.spans, (start, start + len(MARK))],
        [*syntax.upos, "SYM"],
        [*syntax.heads, root],
        [*syntax.deprels, "dep"],
    )


def test_a_block_failing_for_its_data_is_skipped_and_reported_not_retried(cluster):
    from attnwidget.corpus.ray_engine import SKIP_BLOCK_ERROR, BlockSkippedWarning

    corpus = list(islice(iter_conllu(EWT_DEV), 200))
    corpus[10] = marked(corpus[10])  # one bad sentence: skipped alone, as in a single process
    for k in range(70, 96):  # 26 in a row: its block gives up ("a problem of the model, ..."): skipped whole
        corpus[k] = marked(corpus[k])
    with pytest.warns(BlockSkippedWarning, match=r"entries 64–127 \(from item 64\): AttnWidgetError: 16 sentences"):
        stats = analyze(corpus, engine="ray", workers=2, **BASE)
    s = stats.summary
    assert s.coverage == Coverage.range(0, 200) and s.entries == 200
    assert s.skipped == {"error " + SKIP_BLOCK_ERROR: 64, "error while running the model (RuntimeError)": 1}
    assert s.sentences == 200 - 64 - 1
    assert [e[0] for e in s.skip_examples if "block" in e[1]] == list(range(64, 74))  # the first ten quoted
    assert stats.blocks_run == 3  # blocks 0, 2 and 3 ran; block 1 failed once and was not tried again
    assert "skipped 64: error " + SKIP_BLOCK_ERROR in s.describe()


def test_a_model_that_cannot_load_is_an_error_at_once(cluster):
    start = time.monotonic()
    with pytest.raises(AttnWidgetError, match="no Ray worker could load the model"):
        analyze(EWT_DEV, model="no-such-org/no-such-model", engine="ray", workers=2, progress=False)
    assert time.monotonic() - start < 300  # not the 15 minutes a worker may take to start
