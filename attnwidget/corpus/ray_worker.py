"""A Ray actor that runs blocks of a corpus through the streaming pass, on its own GPU if it has one.

Each worker loads the model once, when it starts (again if Ray restarts it after its
process died), and then does two kinds of work: it prepares blocks of consecutive corpus
entries (annotated, aligned: :func:`attnwidget.corpus.prepare.prepare`), and it runs prepared
sentences, whole chunks of the single-process run at a time, through the same streaming
pass (:meth:`attnwidget.corpus.run.CorpusRun.fold`) into fresh statistics that go back to
the driver as plain arrays (:func:`stats_state`), where they are merged. The driver cuts
the chunks, as a single-process run cuts them, because the batches a sentence is run in
change its attention in the last bits: the same chunks give the same numbers.

Ray is imported only by :func:`worker_class`, so this module loads without it.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

#: Worker deaths (its process killed, its node lost) Ray recovers from by restarting it.
WORKER_RESTARTS = 4


def stats_state(stats) -> tuple[dict, dict]:
    """(arrays, json-able meta) of an :class:`~attnwidget.corpus.stats.AttentionStats`: what a
    worker sends back (numpy arrays and lists travel through Ray's object store as they are)."""
    arrays, sums_meta = stats.sums.state()
    ex_arrays, ex_meta = stats.exemplar_tracker.state()
    return {**arrays, **ex_arrays}, {"sums": sums_meta, "exemplars": ex_meta, "summary": stats.summary.to_json()}


def stats_from_state(arrays: dict, meta: dict):
    """The :class:`~attnwidget.corpus.stats.AttentionStats` of :func:`stats_state`, on the CPU."""
    # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
    from .metrics import ExemplarTracker, HeadSums

    # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
    from .stats import AttentionStats, CorpusSummary

    return AttentionStats(
        HeadSums.from_state(arrays, meta["sums"]),
        ExemplarTracker.from_state(arrays, meta["exemplars"]),
        CorpusSummary.from_json(meta["summary"]),
    )


class BlockWorker:
    """The model, loaded once, and the options of the run (the plain class; Ray's actor
    class is made from it by :func:`worker_class`)."""

    def __init__(self, model: str, device: str, threads: int, run: dict[str, Any]):
        import torch

        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from ..transformer.loading import load_model

        if device == "auto":
            import ray

            device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
        torch.set_num_threads(max(1, threads))
        self.loaded = load_model(model, device=device, progress=False)
        self.run = run

    def info(self) -> dict[str, Any]:
        """What the driver needs of the model (it never loads it) and where this worker is."""
        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from .fingerprint import model_fingerprint

        loaded = self.loaded
        if not hasattr(self, "_info"):
            self._info = {
                "name": loaded.name,
                "fingerprint": model_fingerprint(loaded),
                "layers": loaded.num_layers,
                "heads": loaded.num_heads,
                "causal": loaded.is_causal,
                "device": str(loaded.device),
                "pid": os.getpid(),
                "host": os.uname().nodename,
            }
        return self._info

    def prepare_block(self, entries: list) -> list:
        """Entries (each with its duplicate flag set by the driver) annotated and aligned, or
        why each is skipped: the :class:`~attnwidget.corpus.prepare.Item` of each, in order. The
        driver cuts them into the single-process run's chunks, so the batches are its batches."""
        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from .prepare import End, prepare

        run = self.run
        items = prepare(
            entries,
            self.loaded,
            run["annotations"],
            run["truncate"],
            pipeline=run["pipeline"],
            drop_duplicates=run["drop_duplicates"],
            strict=run["strict"],
        )
        return [item for item in items if not isinstance(item, End)]

    def run_chunks(self, start: int, stop: int, items: list) -> tuple[dict, dict]:
        """Prepared items covering entries ``start … stop−1``, whole chunks of the run, through
        the streaming pass; their statistics as :func:`stats_state`."""
        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from .coverage import Coverage

        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from .prepare import End

        # lazy: the actor imports torch and the corpus pass in its own process, not the driver's
        from .run import CorpusRun, new_stats

        run, loaded = self.run, self.loaded
        spec = SimpleNamespace(
            corpus=run["corpus"],
            options={"annotations": run["annotations"]},
            corpus_fingerprint=run["corpus_fingerprint"],
            model_fingerprint=self.info()["fingerprint"],
        )
        stats = new_stats(loaded, spec, run["exemplars"], run["min_attention"], 0, None)
        corpus_run = CorpusRun(
            loaded,
            stats,
            spec,
            None,
            batch_size=run["batch_size"],
            chunk_size=run["chunk_size"],
            max_sentences=None,
            truncate=run["truncate"],
            shard=(0, None),
            pipeline=run["pipeline"],
            drop_duplicates=run["drop_duplicates"],
            strict=run["strict"],
            progress=False,
            folder=None,
            figures=False,
            checkpoint_every=None,
        )
        corpus_run.fold([*items, End(stop)])
        summary = stats.summary
        summary.entries, summary.coverage = stop, Coverage.range(start, stop)
        return stats_state(stats)


def worker_class(ray, cpus: float, gpus: float):
    """Ray's actor class of :class:`BlockWorker`, asking for ``cpus`` and ``gpus`` each.

    Two calls run at once on a worker (``max_concurrency=2``): the driver gives it one block
    to prepare (tokenizer, spaCy: the CPU) while another runs (the model), as a
    single-process run prepares in a reader thread. Ray restarts a worker whose process
    dies (the model loads again); what it was running is not retried on it by Ray but
    handed back to the driver, which gives it to whichever worker is free
    (``max_task_retries=0``)."""
    return ray.remote(
        num_cpus=cpus, num_gpus=gpus, max_restarts=WORKER_RESTARTS, max_task_retries=0, max_concurrency=2
    )(BlockWorker)
