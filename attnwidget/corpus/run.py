"""A corpus run: prepared sentences in, chunk by chunk, statistics and checkpoints out.

Sentences are gathered into chunks; each chunk is sorted by length and run in batches,
and every batch's attention is folded into the per-head sums on the model's device at
once. A chunk is the unit of work: the run's coverage (the entries it has accounted
for) grows a chunk at a time, and a run stopped inside a chunk goes back to the end of
the last one (:mod:`attnwidget.corpus.snapshot`), so a resumed run, whose chunks come out the
same, gives the numbers of an uninterrupted one. With an output folder the run
checkpoints there every few minutes (:mod:`attnwidget.corpus.output_folder`). A chunk that an
unexpected error breaks is redone a sentence at a time, so only the sentence at fault
is lost (and counted).
"""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from itertools import islice

from attnwidget.corpus.atomic import OutputFolderError
from attnwidget.corpus.coverage import Coverage
from attnwidget.corpus.fingerprint import EntryHasher
from attnwidget.corpus.heap import trim_heap
from attnwidget.corpus.interrupts import Interrupts
from attnwidget.corpus.metrics import ExemplarTracker, HeadSums, fused_pass
from attnwidget.corpus.output_folder import CheckpointWriter, RunSpec, build_manifest, write_folder
from attnwidget.corpus.prepare import SYSTEMATIC, Breaker, End, Item, SentenceError, prepare
from attnwidget.corpus.reader import CorpusSource, expected_entries
from attnwidget.corpus.snapshot import Snapshot
from attnwidget.corpus.stats import ERROR_REASON_PREFIX, AttentionStats, CorpusSummary
from attnwidget.errors import AttnWidgetError
from attnwidget.progress import bar as tqdm_bar
from attnwidget.transformer.forward import AttentionBatch, batch_bytes_limit, iter_attention_batches

#: How long a thread may hold the GIL while another waits for it, during a prefetched
#: pass (Python's default is 5 ms). See :func:`prefetched`.
PREFETCH_SWITCH_INTERVAL = 1e-4


class InterruptedRunWarning(UserWarning):
    """A run with an output folder was stopped; the message says how to continue it."""


class SkippedSentencesWarning(UserWarning):
    """Some sentences were skipped after unexpected errors; the message quotes them."""


class CorpusRun:
    """One pass (or the rest of one) over a corpus: chunks in, statistics, checkpoints out."""

    def __init__(
        self,
        loaded,
        stats: AttentionStats,
        spec: RunSpec,
        source: CorpusSource,
        *,
        batch_size: int,
        chunk_size: int,
        max_sentences,
        truncate,
        shard,
        pipeline,
        drop_duplicates,
        strict,
        progress,
        folder,
        figures,
        checkpoint_every,
        segments=None,
        manifest=None,
    ):
        self.loaded, self.stats, self.spec, self.source = loaded, stats, spec, source
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.max_sentences, self.truncate, self.pipeline = max_sentences, truncate, pipeline
        self.drop_duplicates, self.strict, self.progress = drop_duplicates, strict, progress
        self.shard_index, self.shard_count = shard
        self.folder, self.figures, self.checkpoint_every = folder, figures, checkpoint_every
        self.writer = CheckpointWriter(folder, segments) if folder is not None else None
        self.manifest = manifest
        self.resume_from = stats.summary.entries if manifest is not None else 0
        self.saved = len(stats.summary.coverage or ()) if manifest is not None else 0
        self.last_write = time.monotonic()
        self.interrupts = Interrupts()
        self.errors = Breaker(strict, "running the model")
        self.prefix: tuple[int, str] | None = (manifest or {}).get("corpus", {}).get("prefix")

    # -- the pass ---------------------------------------------------------------------

    def go(self) -> AttentionStats:
        summary = self.stats.summary
        summary.interrupted = False
        self.snapshot = Snapshot(self.stats)
        entries = self.source.entries()
        if self.max_sentences is not None:
            entries = islice(entries, self.max_sentences)
        hasher = None if self.source.is_file else EntryHasher()
        items = prepare(
            entries,
            self.loaded,
            self.source.annotations,
            self.truncate,
            self.shard_index,
            self.shard_count,
            self.pipeline,
            self.drop_duplicates,
            resume_from=self.resume_from,
            hasher=hasher,
            expect=self.prefix,
            strict=self.strict,
        )
        total = expected_entries(self.source, self.max_sentences, self.shard_index, self.shard_count)

        def work() -> None:
            with (
                progress_bar(self.progress, total, self.saved) as self.bar,
                self.interrupts,
                _old_objects_frozen(),
                prefetched(items, self.chunk_size) as ahead,
            ):
                self._consume(ahead)

        return self.concluded(work)

    def concluded(self, work) -> AttentionStats:
        """``work()`` (the pass), then the end every run has (this process's or a cluster's):
        an error if no sentence was analysed, else the output folder written complete; on
        Ctrl-C, the statistics of the chunks done (saved to resume); on an error, those
        chunks saved, and the error raised."""
        try:
            work()
            summary = self.stats.summary
            if summary.sentences == 0:
                skipped = "; ".join(f"{n} {reason}" for reason, n in summary.skipped.items()) or "none"
                raise AttnWidgetError(
                    f"the corpus {summary.corpus} has no sentences to analyse "
                    f"({summary.entries} entries read; skipped: {skipped})"
                )
            if self.folder is not None:
                self._write("complete")
        except KeyboardInterrupt:
            return self._stopped()
        except BaseException as exc:
            self._failed(exc)
            raise
        self._report_errors()
        return self.stats

    def fold(self, items: Iterator) -> AttentionStats:
        """Run prepared ``items`` (of :func:`~attnwidget.prepare.prepare`) into the statistics
        chunk by chunk, as :meth:`go` does, but with no progress bar, checkpoint or Ctrl-C
        handling: a cluster worker's block (:mod:`attnwidget.corpus.ray_engine`)."""
        self.snapshot = Snapshot(self.stats)
        with progress_bar(False, None) as self.bar, _old_objects_frozen():
            self._consume(iter(items))
        return self.stats

    def _consume(self, items: Iterator) -> None:
        chunk: list[Item] = []
        sentences = 0
        while True:
            with self.interrupts.interruptible():  # waiting for the reader holds nothing
                item = next(items)
            if isinstance(item, End):
                if chunk:
                    self._run_chunk(chunk)
                self._boundary(item.entries, item.digest, final=True)
                return
            chunk.append(item)
            if item.sentence is not None:
                sentences += 1
                if sentences == self.chunk_size:
                    self._run_chunk(chunk)
                    self._boundary(item.index + 1, item.digest)
                    chunk, sentences = [], 0

    def _run_chunk(self, items: list[Item]) -> None:
        """Account for a chunk's entries and add its sentences to the sums, all or nothing."""
        sentences = [item for item in items if item.sentence is not None]
        self._account(items)
        try:
            self._process(sentences)
            self.errors.succeeded()
        except SYSTEMATIC:
            raise
        except Exception:  # noqa: BLE001 - some sentence of the chunk broke it: find which
            self.snapshot.restore(self.stats)
            self._account(items)
            for item in sentences:
                before = Snapshot(self.stats)
                try:
                    self._process([item])
                    self.errors.succeeded()
                except SYSTEMATIC:
                    raise
                except Exception as exc:  # noqa: BLE001 - this sentence's own fault
                    before.restore(self.stats)
                    self.errors.failed(item, exc)
                    self.stats.summary.skip(item.index, item.reason, item.detail)

    def _account(self, items: list[Item]) -> None:
        summary = self.stats.summary
        skipped = 0
        for item in items:
            summary.duplicates += item.duplicate
            summary.multi_sentence += item.multi_sentence
            if item.sentence is None:
                summary.skip(item.index, item.reason, item.detail)
                skipped += 1
            else:
                summary.truncated += item.truncated
        if skipped:
            self.bar.update(skipped)

    def _process(self, items: list[Item]) -> None:
        """Batched forward passes over one length-sorted chunk; the batches go into the sums.

        Where the sums are tensor code (off the CPU), consecutive batches of short
        sentences are joined before they go into the sums, up to the size of one full
        batch (:func:`~attnwidget.transformer.forward.batch_bytes_limit`): a batch costs that code a
        fixed ~8 ms of small tensor operations whatever its size, which for the many small
        batches of short sentences was as much as their arithmetic. Sorted by length,
        joined batches are nearly the same width, so the padding is small. The CPU's
        compiled pass has no such cost, and joining would only copy the attention.

        The attention held between forward passes is at most that one batch's worth, and
        the C heap's free pages go back to the system after each chunk, so the peak memory
        is that of one batch, however long the corpus (see :mod:`attnwidget.corpus.heap`;
        after every batch would slow the next forward pass, which must fault its memory
        back in). Only the forward passes may be interrupted (:mod:`attnwidget.corpus.interrupts`)."""

        if not items:
            return
        loaded, stats = self.loaded, self.stats
        sums, tracker, summary = stats.sums, stats.exemplar_tracker, stats.summary
        limit = 0 if fused_pass(loaded.device) else batch_bytes_limit(loaded.device)
        pending: list[tuple[AttentionBatch, list[int]]] = []

        def flush() -> None:
            batch = AttentionBatch.join([b for b, _ in pending])
            batch_ids = [i for _, ids in pending for i in ids]
            pending.clear()
            for index, sentence in zip(batch_ids, batch.sentences):
                tracker.offer(index, sentence.text, sentence.tokens)
            features = sums.features(batch.sentences)
            sums.update(batch.attention, batch.lengths, features, tracker, batch_ids, consume=True)
            summary.sentences += len(batch_ids)
            summary.tokens += sum(len(s) for s in batch.sentences)
            summary.annotated_tokens += sum(int(s.annotated.sum()) for s in batch.sentences)
            self.bar.update(len(batch_ids))

        trim_heap()
        ids = [item.index for item in items]
        # The sums mask every weight by the counted pairs, padding included.
        batches = iter_attention_batches(loaded, [item.sentence for item in items], self.batch_size, zero_padding=False)
        while True:
            with self.interrupts.interruptible():  # a forward pass holds nothing of the run's state
                batch = next(batches, None)
            if batch is None:
                break
            if pending and _joined_bytes([b for b, _ in pending] + [batch]) > limit:
                flush()
            pending.append((batch, [ids[k] for k in batch.indices]))
            del batch  # not alive during the next forward pass, but in ``pending``
        flush()

    def _boundary(self, upto: int, digest: str | None, final: bool = False) -> None:
        """The end of a chunk: entries below ``upto`` are accounted for."""
        summary = self.stats.summary
        summary.entries = max(summary.entries, upto)
        summary.coverage = Coverage.shard(self.shard_index, self.shard_count or 1, summary.entries)
        if digest is not None:
            self.prefix = (summary.entries, digest)
            if final:
                summary.corpus_fingerprint = self.spec.corpus_fingerprint = digest
        self.snapshot = Snapshot(self.stats)
        if not final:
            self.checkpoint_if_due()

    def checkpoint_if_due(self) -> None:
        """Checkpoint into the output folder if ``checkpoint_every`` seconds have passed since
        the last write; a write that fails is a warning: the run goes on, the next may succeed."""
        due = self.checkpoint_every is not None and time.monotonic() - self.last_write >= self.checkpoint_every
        if self.folder is None or not due:
            return
        try:
            self._write("checkpoint")
        except (OSError, OutputFolderError) as exc:
            warnings.warn(
                f"attnwidget: could not write a checkpoint ({exc}); the run goes on", RuntimeWarning, stacklevel=3
            )
            self.last_write = time.monotonic()

    # -- writing ----------------------------------------------------------------------

    def _write(self, status: str) -> None:
        summary = self.stats.summary
        manifest = build_manifest(self.spec, summary, status, previous=self.manifest, out=self.folder.path)
        if self.prefix is not None:
            manifest["corpus"]["prefix"] = list(self.prefix)
        complete = status == "complete"
        write_folder(
            self.folder,
            self.stats,
            manifest,
            results=complete,
            figures=self.figures,
            tables=status in ("interrupted", "failed"),
            checkpoint=None if complete else self.writer,
        )
        self.manifest, self.saved, self.last_write = manifest, len(summary.coverage), time.monotonic()

    def _stopped(self) -> AttentionStats:
        """Ctrl-C: back to the last chunk boundary; saved to resume if there is an output folder."""
        self.snapshot.restore(self.stats)
        summary = self.stats.summary
        summary.interrupted = True
        if self.folder is None:
            return self.stats
        message = f"analysis interrupted with {summary.coverage.describe()} done"
        try:
            if self.interrupts.forced:
                message += f"; a second Ctrl-C left its state torn, so {self.folder.path} keeps its last checkpoint"
            elif summary.coverage:
                self._write("interrupted")
            if self.manifest is not None and not self.manifest.get("complete"):
                message += (
                    f"; {self.folder.path} holds {self.manifest.get('covers')}. "
                    f"Continue with:\n  {self.manifest.get('resume')}"
                )
            else:
                message += f"; nothing was finished, {self.folder.path} is unchanged"
        except KeyboardInterrupt:
            message += f"; interrupted again while saving, so {self.folder.path} keeps its last checkpoint"
        except (OSError, OutputFolderError) as exc:
            message += f"; it could not be saved ({exc})"
        warnings.warn(message, InterruptedRunWarning, stacklevel=4)
        return self.stats

    def _failed(self, exc: BaseException) -> None:
        """An error stopped the run: save what the finished chunks hold, and say how to go on."""
        if self.folder is None or self.interrupts.forced:
            return
        self.snapshot.restore(self.stats)
        if isinstance(exc, OutputFolderError):  # writing failed (a full disk...): do not try again
            exc.stats = self.stats  # what was computed, for a caller to save elsewhere
            return
        summary = self.stats.summary
        try:
            if summary.coverage:
                self._write("failed")
        except Exception as write_error:  # noqa: BLE001 - the first error is the one to report
            _note(exc, f"(the checkpoint could not be written either: {write_error})")
            return
        if self.manifest is not None and not self.manifest.get("complete"):
            hint = "" if not isinstance(exc, SentenceError) else " (without --strict to skip that sentence)"
            _note(
                exc,
                f"{self.folder.path} holds {self.manifest.get('covers')} analysed before the error; "
                f"continue{hint} with:\n  {self.manifest.get('resume')}",
            )

    def _report_errors(self) -> None:
        summary = self.stats.summary
        failed = {reason: n for reason, n in summary.skipped.items() if reason.startswith(ERROR_REASON_PREFIX)}
        if failed:
            counts = "; ".join(f"{n} {reason}" for reason, n in failed.items())
            examples = [f"entry {i}: {detail}" for i, reason, detail in summary.skip_examples if reason in failed]
            warnings.warn(
                f"attnwidget: sentences skipped after errors ({counts}):\n  "
                + "\n  ".join(examples[:5])
                + "\n(all in stats.summary.skip_examples; strict=True makes them errors)",
                SkippedSentencesWarning,
                stacklevel=4,
            )


def _note(exc: BaseException, text: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(text)


def _joined_bytes(batches) -> int:
    """Bytes of the attention of ``batches`` joined into one (padded to the widest)."""
    B, L, H = sum(b.attention.shape[0] for b in batches), *batches[0].attention.shape[1:3]
    width = max(b.attention.shape[-1] for b in batches)
    return B * L * H * width * width * batches[0].attention.element_size()


@contextlib.contextmanager
def prefetched(items: Iterator, depth: int):
    """``items`` produced by a background thread, up to ``depth`` ahead of the consumer.

    Reading, parsing and aligning the next sentences then overlaps the model's forward
    passes (torch releases the GIL). Errors and KeyboardInterrupt raised while producing
    are re-raised in the consumer, in order.

    Meanwhile the GIL changes hands every 0.1 ms rather than every 5 ms: the model's
    thread gives the GIL up at each tensor operation and, with the default, then waited up
    to 5 ms for the producer to hand it back, between operations that take far less. That
    wait made the forward passes of a 2,000-sentence EWT run some 0.7 s (8%) slower than
    with the sentences aligned beforehand; at 0.1 ms the difference is gone (0.05 ms and
    0.02 ms were slower again; measured on this project's 2-core machine).
    """
    buffer: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(message) -> bool:
        while not stop.is_set():
            try:
                buffer.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer as is
            put(("error", exc))

    def consume():
        while True:
            kind, value = buffer.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    worker = threading.Thread(target=produce, name="attnwidget-prefetch", daemon=True)
    try:
        with _short_gil_turns():
            worker.start()
            yield consume()
    finally:  # also when an interrupt lands between starting the thread and the yield
        stop.set()
        if worker.is_alive():
            worker.join(timeout=5)


_turns_lock = threading.Lock()
_turns_users = 0
_turns_saved = 0.0


@contextlib.contextmanager
def _short_gil_turns():
    """:data:`PREFETCH_SWITCH_INTERVAL` while any prefetched pass runs (the interval is the
    process's: the first pass to start saves the old one, the last to end restores it)."""
    global _turns_users, _turns_saved
    with _turns_lock:
        if _turns_users == 0:
            _turns_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_turns_saved, PREFETCH_SWITCH_INTERVAL))
        _turns_users += 1
    try:
        yield
    finally:
        with _turns_lock:
            _turns_users -= 1
            if _turns_users == 0:
                sys.setswitchinterval(_turns_saved)


# --------------------------------------------------------------- progress


@contextlib.contextmanager
def _old_objects_frozen():
    """Leave the objects that exist before the pass (torch's, transformers', the model's:
    some 400,000) out of the garbage collector's scans until it ends. The pass makes many
    small objects per sentence, which sets off full collections, and each one walked every
    old object again: 0.3–0.4 s per collection on a 2,000-sentence EWT run, 3–4% of it.
    Nothing is kept from collection for good: ``unfreeze`` hands them back at the end. A
    freeze someone else made (before forking workers, say) is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int | None, initial: int = 0):
    bar = tqdm_bar(total=total, initial=initial, unit="sent", desc="analyze", enabled=enabled, smoothing=0.1)
    try:
        yield bar
    finally:
        bar.close()


def new_stats(
    loaded, spec: RunSpec, exemplars: int, min_attention, shard_index: int, shard_count: int | None
) -> AttentionStats:
    summary = CorpusSummary(
        corpus=spec.corpus,
        model=loaded.name,
        annotations=spec.options["annotations"],
        min_attention=min_attention,
        shards=None if shard_count is None else [shard_index],
        shard_count=shard_count,
        coverage=Coverage.empty(),
        corpus_fingerprint=spec.corpus_fingerprint,
        model_fingerprint=spec.model_fingerprint,
    )
    sums = HeadSums(loaded.num_layers, loaded.num_heads, loaded.is_causal, min_attention, loaded.device)
    tracker = ExemplarTracker(loaded.num_layers, loaded.num_heads, exemplars, loaded.device)
    return AttentionStats(sums, tracker, summary)
