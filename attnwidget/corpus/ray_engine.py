"""``analyze(..., engine="ray")``: the corpus analysis spread over a Ray cluster, exact and resumable.

The driver (this process) reads the corpus as a stream, marks repeats (it alone sees every
entry), and cuts it into blocks of consecutive entries; long-lived workers
(:mod:`attnwidget.corpus.ray_worker`, one per GPU, or per few CPUs) each load the model once and
run block after block through the same streaming pass as a single-process run. Each
block's statistics come back and are merged in corpus order, in place
(:meth:`AttentionStats.absorb`), so the result is the single-process result: the same sums
(to float64 rounding), the same exemplars, the same coverage records
(:mod:`attnwidget.corpus.coverage`) that ``--shard`` and ``attnwidget merge`` use.

Only a few blocks are read ahead of the slowest one, so the driver's memory stays flat in
the corpus size. With an output folder the driver checkpoints the merged blocks there
(:mod:`attnwidget.corpus.output_folder`); a driver that dies resumes from it with ``resume=True``,
running only the blocks after the checkpoint. Faults:

- a worker whose process dies (killed, out of memory, its node lost) is restarted by Ray
  and its block is handed to whichever worker is free; a block that kills
  :data:`BLOCK_ATTEMPTS` workers is skipped and reported;
- a block that raises for a reason in its data (errors in many sentences in a row) is
  skipped at once, its entries counted as skipped with the error, and reported; in a
  strict run it stops the run, as in a single process;
- errors of the model, device or pipeline (:data:`~attnwidget.corpus.prepare.SYSTEMATIC`) stop the run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from types import SimpleNamespace
from typing import Any

from ..errors import AttnWidgetError
from .fingerprint import EntryHasher
from .output_folder import ResumeError
from .reader import CorpusSource, Entry

#: Worker deaths while running one block before the block is taken to be at fault.
BLOCK_ATTEMPTS = 3
#: Seconds to wait for the first worker to load its model before giving up (a worker
#: asking for more than any node has would wait for ever).
WORKER_START_SECONDS = 900.0
#: Tries at starting Ray on this machine: its node gives up after a fixed 30 s, which a
#: busy machine can exceed.
LOCAL_START_ATTEMPTS = 5
#: Blocks read ahead of the first block not yet merged, per worker.
AHEAD_PER_WORKER = 3
#: Reason of the entries of a block skipped as a whole.
SKIP_BLOCK_ERROR = "error in its block (skipped whole)"
SKIP_BLOCK_KILLS_WORKERS = f"its block killed {BLOCK_ATTEMPTS} workers (skipped whole)"


class BlockSkippedWarning(UserWarning):
    """A block of the corpus was skipped: the message says which and why."""


def import_ray():
    """Ray, or an error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise AttnWidgetError(
            "engine='ray' needs Ray, which is an optional extra: "
            "pip install 'attnwidget[ray]' (or pip install 'ray>=2.9')"
        ) from exc
    return ray


@dataclass
class ClusterOptions:
    """Where and how wide: ``address`` None starts Ray on this machine, ``"auto"`` joins the
    cluster of this node (``ray start``), ``HOST:PORT`` a given one. ``workers`` None: one per
    GPU of the cluster, else one per ``cpus_per_worker`` CPUs. ``block_size``: entries a worker
    prepares at a time (None: the run's chunk, ``batch_size × 8``, rounded up to a multiple
    of 64, the group spaCy and the tokenizer read together, so the groups are those of a
    single-process run). ``ray_init``: more arguments of ``ray.init``."""

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    cpus_per_worker: float = 1
    block_size: int | None = None
    ray_init: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise AttnWidgetError(f"workers must be a whole number ≥ 1, not {self.workers!r}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise AttnWidgetError(
                f"gpus_per_worker must be ≥ 0 (a fraction shares a GPU), not {self.gpus_per_worker!r}"
            )
        if not self.cpus_per_worker or self.cpus_per_worker <= 0:
            raise AttnWidgetError(f"cpus_per_worker must be > 0, not {self.cpus_per_worker!r}")
        if self.block_size is not None and (not isinstance(self.block_size, int) or self.block_size < 1):
            raise AttnWidgetError(f"block_size must be a whole number ≥ 1, not {self.block_size!r}")

    def settings(self) -> dict[str, Any]:
        return {
            "engine": "ray",
            "address": self.address,
            "workers": self.workers,
            "gpus_per_worker": self.gpus_per_worker,
            "cpus_per_worker": self.cpus_per_worker,
            "block_size": self.block_size,
        }


@dataclass
class Block:
    """Consecutive corpus entries ``start … stop−1``: raw entries to prepare, or prepared
    items (whole chunks of the run) to run."""

    number: int
    start: int
    stop: int
    entries: list
    digest: str | None = None  # the stream's fingerprint up to the block's end (sentences given in Python)
    attempts: int = 0


def check_ray_inputs(model, pipeline) -> None:
    """Workers load the model and the pipeline themselves: they must be given by name."""
    from pathlib import Path

    if model is not None and not isinstance(model, (str, Path)):
        raise AttnWidgetError(
            f"engine='ray' needs the model's name or folder (each worker loads it), not a loaded {type(model).__name__}"
        )
    if pipeline is not None and not isinstance(pipeline, str):
        raise AttnWidgetError(
            "engine='ray' needs the spaCy pipeline's name (each worker loads it), not a pipeline object"
        )


# ------------------------------------------------------------------------ the cluster


def connect(ray, cluster: ClusterOptions) -> bool:
    """Start or join Ray; True if this call did (and so shuts it down at the end)."""
    if ray.is_initialized():
        return False
    options = {"include_dashboard": False, "configure_logging": False, "log_to_driver": False, **cluster.ray_init}
    if cluster.address in (None, "local"):
        # address="local" always starts a new instance: never a cluster someone else started here.
        wanted = (cluster.workers or 1) * cluster.cpus_per_worker
        options.setdefault("num_cpus", max(os.cpu_count() or 1, int(-(-wanted // 1))))
        # A busy machine can take longer than Ray's default to start the node's agents.
        options["_system_config"] = {"agent_register_timeout_ms": 120_000, **options.get("_system_config", {})}
        for attempt in range(LOCAL_START_ATTEMPTS):
            try:
                ray.init(address="local", **options)
                break
            except Exception as exc:
                ray.shutdown()
                if "timed out during startup" not in str(exc) or attempt + 1 == LOCAL_START_ATTEMPTS:
                    raise AttnWidgetError(f"Ray could not start on this machine ({exc}); see its logs") from exc
    else:
        options.pop("include_dashboard")
        try:
            ray.init(address=cluster.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise AttnWidgetError(
                f"cannot join the Ray cluster at {cluster.address!r} ({exc}); start one with "
                "`ray start --head` or give its HOST:PORT"
            ) from exc
    return True


class LocalHead:
    """A Ray head on this machine, started with ``ray start --head`` for as long as the
    ``with`` block lasts; ``address`` is what ``address=`` (``--address``) takes.

    For tests and benchmarks on busy shared machines (a laptop needs none of it): the
    node's raylet waits 15 s (Ray 2.60) for its dashboard agent to write its ports into
    the session folder and aborts past that, and on a loaded machine the agent takes
    longer to import. Its node ID is set here, so its port files can be written for it
    as soon as the session folder appears: "no metrics service" (``-1``, what a minimal
    agent writes itself) and the runtime-env agent's port, given to it beforehand. The node
    then starts, without the metrics it never needed."""

    AGENT_PORT_FILES = ("metrics_agent_port", "metrics_export_port", "dashboard_agent_listen_port")

    def __init__(self, num_cpus: int, temp_dir: str, env: dict | None = None, timeout: float = 300.0):
        self.num_cpus, self.temp_dir, self.env, self.timeout = num_cpus, temp_dir, env, timeout
        self.process = None
        self.address = None

    def __enter__(self):
        import glob
        import secrets
        import socket
        import subprocess
        import sys

        ports = []
        for _ in range(2):  # free now; taken by the head a moment later
            with socket.socket() as probe:
                probe.bind(("", 0))
                ports.append(probe.getsockname()[1])
        port, runtime_env_port = ports
        node = secrets.token_hex(28)
        files = {**dict.fromkeys(self.AGENT_PORT_FILES, "-1"), "runtime_env_agent_port": str(runtime_env_port)}
        self.log = os.path.join(self.temp_dir, "head.log")
        command = [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            f"--port={port}",
            f"--num-cpus={self.num_cpus}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
            f"--runtime-env-agent-port={runtime_env_port}",
        ]
        # Without token authentication: a driver that joins by address (this process, having
        # imported Ray already, or one it starts) does not look for a token.
        env = {
            **os.environ,
            **(self.env or {}),
            "RAY_OVERRIDE_NODE_ID_FOR_TESTING": node,
            "RAY_AUTH_MODE": "disabled",
            # and the runtime-env agent 5 minutes, not 30 s, to start (the raylet exits past that)
            "RAY_agent_register_timeout_ms": "300000",
        }
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_end_with_parent(),
            )
        deadline = time.monotonic() + self.timeout
        written = set()
        while "Ray runtime started" not in self._log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise AttnWidgetError(f"ray start --head failed; its output:\n{self._log_text()[-3000:]}")
            for session in glob.glob(os.path.join(self.temp_dir, "session_2*")):
                if session not in written:
                    for name, value in files.items():
                        with open(os.path.join(session, f"{name}_{node}"), "x") as handle:
                            handle.write(value)
                    written.add(session)
            time.sleep(0.05)
        import ray

        self.address = f"{ray.util.get_node_ip_address()}:{port}"
        return self

    def _log_text(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def __exit__(self, *exc) -> None:
        """SIGTERM to ``ray start --block`` alone stops the node it started (a few seconds)."""
        import signal

        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except Exception:  # noqa: BLE001 - stuck: end its whole session (it was started in its own)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def _end_with_parent():
    """What a child runs before it starts (Linux): SIGTERM when its parent dies, so a head
    whose driver was killed (Ray ends a driver whose raylet dies) does not stay behind.
    libc is loaded here, in the parent: the child only makes the one call."""
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def plan_workers(ray, cluster: ClusterOptions) -> tuple[int, float, float]:
    """(workers, CPUs and GPUs each) from the options and what the cluster has."""
    resources = ray.cluster_resources()
    gpus = float(resources.get("GPU", 0))
    per_gpu = cluster.gpus_per_worker if cluster.gpus_per_worker is not None else (1.0 if gpus else 0.0)
    if cluster.workers is not None:
        count = cluster.workers
    elif per_gpu:
        count = max(1, int(gpus // per_gpu))
    else:
        count = max(1, int(float(resources.get("CPU", 1)) // cluster.cpus_per_worker))
    return count, float(cluster.cpus_per_worker), float(per_gpu)


# ------------------------------------------------------------------------ the corpus


def blocks_of(
    source: CorpusSource, max_sentences: int | None, size: int, resume_from: int, hasher: EntryHasher | None, expect
) -> Iterator[Block]:
    """The corpus in blocks of ``size`` consecutive entries from ``resume_from`` (those
    before are read only to know repeats and, for sentences given in Python, to check they
    are those the run began with). Each entry's duplicate flag is set here."""
    entries = source.entries()
    if max_sentences is not None:
        entries = islice(entries, max_sentences)
    seen: set[int] = set()
    block: list[Entry] = []
    number = 0
    for entry in entries:
        key = entry.text.strip()
        entry.duplicate = bool(key) and hash(key) in seen
        seen.add(hash(key))
        if hasher is not None:
            hasher.update(entry.text, entry.syntax)
            if expect is not None and entry.index + 1 == expect[0] and hasher.digest() != expect[1]:
                raise ResumeError(
                    f"the sentences given differ from those the run began with: their first "
                    f"{expect[0]} entries have another fingerprint; resume with the same sentences, "
                    "or restart"
                )
        if entry.index < resume_from:
            continue
        block.append(entry)
        if len(block) == size:
            yield Block(number, block[0].index, entry.index + 1, block, hasher and hasher.digest())
            number, block = number + 1, []
    if block:
        yield Block(number, block[0].index, block[-1].index + 1, block, hasher and hasher.digest())


# ------------------------------------------------------------------------ the run


class Chunker:
    """Prepared items, in corpus order, cut into the single-process run's chunks
    (:meth:`CorpusRun._consume <attnwidget.corpusrun.CorpusRun>`: a chunk ends at its
    ``chunk_size``-th sentence), ``per_block`` chunks to a run block."""

    def __init__(self, chunk_size: int, per_block: int, start: int):
        self.chunk_size, self.per_block = chunk_size, per_block
        self.start = start
        self.items: list = []
        self.sentences = self.chunks = 0
        self.made = 0

    def feed(self, items: list, digest: str | None) -> list[Block]:
        out = []
        for item in items:
            self.items.append(item)
            if item.sentence is None:
                continue
            self.sentences += 1
            if self.sentences == self.chunk_size:
                self.sentences, self.chunks = 0, self.chunks + 1
                if self.chunks == self.per_block:
                    out.append(self._cut(item.index + 1, None))
        if digest is not None and out and out[-1].stop == (items[-1].index + 1 if items else -1):
            out[-1].digest = digest
        return out

    def end(self, stop: int, digest: str | None) -> list[Block]:
        return [self._cut(stop, digest)] if self.items else []

    def _cut(self, stop: int, digest: str | None) -> Block:
        block = Block(self.made, self.start, stop, self.items, digest)
        self.made += 1
        self.start, self.items, self.chunks = stop, [], 0
        return block


class RayRun:
    """The driver's loop. Each worker has two slots: one prepares a block of entries, the
    other runs prepared chunks. Prepared blocks are cut into chunks in corpus order; their
    statistics come back and are merged in corpus order and checkpointed. A worker that
    dies is restarted by Ray and what it held goes to others; a block that fails is skipped."""

    def __init__(
        self,
        ray,
        run,
        cluster: ClusterOptions,
        blocks: Iterator[Block],
        workers: list,
        total_entries: int | None,
        progress: bool,
        chunker: Chunker,
    ):
        self.ray, self.run, self.cluster, self.blocks, self.chunker = ray, run, cluster, blocks, chunker
        self.workers = list(workers)
        self.state = ["starting"] * len(workers)  # starting, ready, restarting, gone
        self.slots: list[dict[str, Any]] = [{"prepare": None, "run": None} for _ in workers]
        self.in_flight: dict[Any, tuple[str, int, Block | None]] = {}  # ref -> (kind, worker, block)
        self.to_prepare: deque[Block] = deque()  # handed back by a worker that died
        self.to_run: deque[Block] = deque()
        self.prepared: dict[int, Block] = {}  # entry blocks prepared, waiting to be cut in order
        self.next_cut = 0
        self.last_read: Block | None = None
        self.ran: dict[int, tuple[Block, Any]] = {}  # run blocks done, waiting to be merged in order
        self.merged = 0
        self.read_all = self.ended = False
        self.blocks_run = 0
        self.skipped_blocks: list[str] = []
        self.total_entries, self.progress = total_entries, progress

    def go(self):
        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .run import progress_bar

        for k, worker in enumerate(self.workers):
            self.in_flight[worker.info.remote()] = ("ping", k, None)
        with progress_bar(self.progress, self.total_entries, 0) as self.bar:
            self.bar.set_description("analyze (ray)")
            while not self._finished():
                self._dispatch()
                if not self.in_flight:
                    raise AttnWidgetError(
                        "every Ray worker has died and none could be restarted (see the Ray "
                        "logs); the output folder keeps the blocks finished so far"
                    )
                with self.run.interrupts.interruptible():  # waiting holds nothing of the run's state
                    ready, _ = self.ray.wait(list(self.in_flight), num_returns=1, timeout=1.0)
                for ref in ready:
                    self._collect(ref)
                self._cut()
                self._merge_ready()
                self._show()
        return self.run.stats

    def _finished(self) -> bool:
        return (
            self.ended
            and not self.to_prepare
            and not self.prepared
            and not self.to_run
            and not self.ran
            and not any(kind != "ping" for kind, _, _ in self.in_flight.values())
        )

    def alive(self) -> int:
        return sum(state == "ready" for state in self.state)

    # -- work out ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        for k, worker in enumerate(self.workers):  # noqa: B007 - only the index is used
            if self.state[k] != "ready":
                continue
            slots = self.slots[k]
            if slots["run"] is None and self.to_run:
                self._send(k, "run", self.to_run.popleft())
            if slots["prepare"] is None:
                block = self.to_prepare.popleft() if self.to_prepare else self._next_block()
                if block is not None:
                    self._send(k, "prepare", block)

    def _send(self, k: int, kind: str, block: Block) -> None:
        worker = self.workers[k]
        block.attempts += 1
        if kind == "run":
            ref = worker.run_chunks.remote(block.start, block.stop, block.entries)
        else:
            ref = worker.prepare_block.remote(block.entries)
        self.slots[k][kind] = ref
        self.in_flight[ref] = (kind, k, block)

    def _next_block(self) -> Block | None:
        """The next block of entries, unless the driver already holds enough unmerged work."""
        held = len(self.prepared) + len(self.to_run) + len(self.ran) + len(self.in_flight)
        if self.read_all or held >= AHEAD_PER_WORKER * len(self.workers):
            return None
        block = next(self.blocks, None)
        if block is None:
            self.read_all = True
            return None
        self.last_read = block
        return block

    # -- work back ---------------------------------------------------------------------------

    def _collect(self, ref) -> None:
        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .prepare import SYSTEMATIC

        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .ray_worker import stats_from_state

        ray = self.ray
        kind, k, block = self.in_flight.pop(ref)
        if kind != "ping":
            self.slots[k][kind] = None
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError:
            self._worker_died(k, kind, block)
            return
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if not isinstance(cause, BaseException):
                cause = exc.as_instanceof_cause()
            if kind == "ping" or isinstance(cause, SYSTEMATIC) or self.run.strict:
                raise cause from None
            self._skip(kind, block, SKIP_BLOCK_ERROR, f"{type(cause).__name__}: {cause}")
            return
        if kind == "ping":
            self.state[k] = "ready"
        elif kind == "prepare":
            block.entries = result
            self.prepared[block.number] = block
        else:
            self.ran[block.number] = (block, stats_from_state(*result))
            self.blocks_run += 1

    def _worker_died(self, k: int, kind: str, block: Block | None) -> None:
        """Ray restarts the worker if it may: ask it for a sign of life. Its blocks go to others."""
        if kind == "ping":  # it died again before answering: its restarts are used up
            self.state[k] = "gone"
            return
        if block.attempts >= BLOCK_ATTEMPTS:
            self._skip(kind, block, SKIP_BLOCK_KILLS_WORKERS, "the worker running it died each time")
        else:
            (self.to_run if kind == "run" else self.to_prepare).append(block)
        if self.state[k] == "ready":
            self.state[k] = "restarting"
            self.in_flight[self.workers[k].info.remote()] = ("ping", k, None)

    def _skip(self, kind: str, block: Block, reason: str, detail: str) -> None:
        """Count the block's entries as skipped with ``reason``, and say so."""
        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .prepare import Item

        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .stats import ERROR_REASON_PREFIX

        reason = ERROR_REASON_PREFIX + reason
        where = block.entries[0].where if block.entries else "?"
        self.skipped_blocks.append(f"entries {block.start}–{block.stop - 1} (from {where}): {detail}")
        if kind == "prepare":  # its entries go on as skipped items
            block.entries = [
                Item(e.index, e.where, reason=reason, detail=f"{e.where}: {detail}", duplicate=bool(e.duplicate))
                for e in block.entries
            ]
            self.prepared[block.number] = block
            return
        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .coverage import Coverage

        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .stats import CorpusSummary

        whole = self.run.stats.summary
        summary = CorpusSummary(
            corpus=whole.corpus,
            model=whole.model,
            annotations=whole.annotations,
            min_attention=whole.min_attention,
            entries=block.stop,
            coverage=Coverage.range(block.start, block.stop),
            corpus_fingerprint=whole.corpus_fingerprint,
            model_fingerprint=whole.model_fingerprint,
        )
        for item in block.entries:
            summary.duplicates += item.duplicate
            summary.skip(item.index, reason, f"{item.where}: {detail}")
        self.ran[block.number] = (block, summary)

    def _cut(self) -> None:
        """Prepared blocks, in corpus order, into run blocks of whole chunks."""
        while self.next_cut in self.prepared:
            block = self.prepared.pop(self.next_cut)
            self.to_run.extend(self.chunker.feed(block.entries, block.digest))
            self.next_cut += 1
        last = self.last_read
        if self.read_all and not self.ended and (last is None or self.next_cut > last.number):
            self.ended = True  # the rest, after the last whole chunk, is the last run block
            if last is not None:
                self.to_run.extend(self.chunker.end(last.stop, last.digest))

    def _merge_ready(self) -> None:
        """Merge the run blocks that follow those merged, in corpus order; checkpoint."""
        # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
        from .snapshot import Snapshot

        stats, before = self.run.stats, self.merged
        while self.merged in self.ran:
            block, part = self.ran.pop(self.merged)
            if hasattr(part, "sums"):
                stats.absorb(part)
            else:  # a skipped block: its summary
                stats.summary = stats.summary.merged_with(part, True)
            if block.digest is not None:
                self.run.prefix = (block.stop, block.digest)
            self.bar.update(block.stop - block.start)
            self.merged += 1
        if self.merged > before:
            self.run.snapshot = Snapshot(stats)
            self.run.checkpoint_if_due()

    def _show(self) -> None:
        self.bar.set_postfix_str(
            f"blocks {self.merged} done, workers {self.alive()}/{len(self.workers)} alive", refresh=False
        )


def run_on_ray(
    source: CorpusSource,
    spec,
    folder,
    start,
    model,
    *,
    device,
    batch_size: int,
    exemplars: int,
    min_attention,
    max_sentences,
    truncate: bool,
    pipeline,
    drop_duplicates: bool,
    strict: bool,
    progress: bool,
    figures: bool,
    checkpoint_every,
    cluster: ClusterOptions,
):
    """The body of ``analyze(..., engine="ray")`` once the corpus, the options and the
    output folder are checked (see :func:`attnwidget.corpus.analysis.analyze`)."""
    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from ..transformer.loading import DEFAULT_MODEL

    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .output_folder import check_resumable

    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .ray_worker import worker_class

    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .run import CorpusRun, new_stats

    check_ray_inputs(model, pipeline)
    cluster.check()
    ray = import_ray()
    spec.settings.update(cluster.settings())
    started = connect(ray, cluster)
    actors = []
    try:
        count, cpus, gpus = plan_workers(ray, cluster)
        cluster.gpus_per_worker = gpus
        chunk = spec.options["chunk_sentences"]
        plan = {
            "corpus": spec.corpus,
            "annotations": source.annotations,
            "corpus_fingerprint": spec.corpus_fingerprint,
            "exemplars": exemplars,
            "min_attention": min_attention,
            "batch_size": batch_size,
            "chunk_size": chunk,
            "truncate": truncate,
            "pipeline": pipeline,
            "drop_duplicates": drop_duplicates,
            "strict": strict,
        }
        began = time.monotonic()
        Worker = worker_class(ray, cpus, gpus)
        actors = [
            Worker.remote(str(model or DEFAULT_MODEL), str(device), int(max(1, cpus)), plan) for _ in range(count)
        ]
        info = _first_info(ray, actors, cluster)
        ready = time.monotonic()
        spec.model, spec.model_fingerprint = info["name"], info["fingerprint"]
        spec.model_info = {
            "requested": model if isinstance(model, str) else None,
            "layers": info["layers"],
            "heads": info["heads"],
            "causal": info["causal"],
        }
        if start is not None:
            check_resumable(spec, start.content, with_model=True)
            stats = start.stats
        else:
            shape = SimpleNamespace(
                name=info["name"],
                num_layers=info["layers"],
                num_heads=info["heads"],
                is_causal=info["causal"],
                device="cpu",
            )
            stats = new_stats(shape, spec, exemplars, min_attention, 0, None)
        run = CorpusRun(
            None,
            stats,
            spec,
            source,
            batch_size=batch_size,
            chunk_size=chunk,
            max_sentences=max_sentences,
            truncate=truncate,
            shard=(0, None),
            pipeline=pipeline,
            drop_duplicates=drop_duplicates,
            strict=strict,
            progress=progress,
            folder=folder,
            figures=figures,
            checkpoint_every=checkpoint_every,
            segments=start.segments if start is not None else None,
            manifest=start.content.manifest if start is not None else None,
        )
        stats = _drive(ray, run, source, cluster, actors, max_sentences, progress)
        # For a caller (bench/bench_ray.py): the first worker's start, and the run after it.
        stats.engine_timing = {"workers": count, "start_s": ready - began, "run_s": time.monotonic() - ready}
        return stats
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):  # already gone
                ray.kill(actor)
        if started:
            ray.shutdown()


def _first_info(ray, actors: list, cluster: ClusterOptions) -> dict:
    """The model's facts, from the first worker to load it (a model that cannot load fails here)."""
    pending = [actor.info.remote() for actor in actors]
    deadline = time.monotonic() + WORKER_START_SECONDS
    died = None
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=max(0.1, deadline - time.monotonic()))
        if not ready:
            break
        try:
            return ray.get(ready[0])
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, BaseException) else exc.as_instanceof_cause()) from None
        except ray.exceptions.RayActorError as exc:  # its constructor failed (the model did not load), or it died
            died = exc
    if died is not None and not pending:
        raise AttnWidgetError(f"no Ray worker could load the model:\n{str(died)[-2000:]}") from None
    resources = ray.cluster_resources()
    raise AttnWidgetError(
        f"no Ray worker loaded the model within {WORKER_START_SECONDS:.0f} s: each worker asks for "
        f"{cluster.cpus_per_worker} CPU and {cluster.gpus_per_worker or 0} GPU, and the cluster "
        f"has {resources.get('CPU', 0):g} CPU and {resources.get('GPU', 0):g} GPU; ask for less "
        "(--cpus-per-worker, --gpus-per-worker, --workers) or add nodes"
    )


def _drive(ray, run, source: CorpusSource, cluster: ClusterOptions, actors: list, max_sentences, progress: bool):
    """Run the blocks; end as :meth:`CorpusRun.go` does (complete, interrupted or failed)."""
    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .prepare import PREPARE_BATCH

    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .reader import expected_entries

    # lazy: keeps torch and the corpus pass out of the driver's import (Ray pickles this module to workers)
    from .snapshot import Snapshot

    stats = run.stats
    stats.summary.interrupted = False
    run.snapshot = Snapshot(stats)
    hasher = None if source.is_file else EntryHasher()
    size = cluster.block_size or -(-run.chunk_size // PREPARE_BATCH) * PREPARE_BATCH
    blocks = blocks_of(source, max_sentences, size, run.resume_from, hasher, run.prefix)
    total = expected_entries(source, max_sentences, 0, None)
    driver = RayRun(
        ray,
        run,
        cluster,
        blocks,
        actors,
        None if total is None else max(0, total - run.resume_from),
        progress,
        Chunker(run.chunk_size, 1, run.resume_from),
    )

    def work() -> None:
        with run.interrupts:
            driver.go()
        if hasher is not None:
            stats.summary.corpus_fingerprint = run.spec.corpus_fingerprint = hasher.digest()

    try:
        stats = run.concluded(work)
    finally:
        if run.resume_from and progress:
            print(
                f"attnwidget: resumed after entry {run.resume_from - 1}: the checkpoint kept the blocks before "
                f"it; {driver.blocks_run} blocks run now",
                file=sys.stderr,
            )
    if driver.skipped_blocks:
        warnings.warn(
            f"attnwidget: {len(driver.skipped_blocks)} block(s) of the corpus skipped after errors "
            "(their entries are counted as skipped in stats.summary):\n  " + "\n  ".join(driver.skipped_blocks[:5]),
            BlockSkippedWarning,
            stacklevel=3,
        )
    stats.blocks_run = driver.blocks_run  # for a caller (and the tests) to see what this session ran
    return stats
