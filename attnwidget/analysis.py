"""``analyze()``: one streaming pass of a model over a corpus, into :class:`AttentionStats`.

The corpus is read entry by entry (a CoNLL-U sentence, a line of text, or an item of an
iterable), annotated, aligned to the model's tokens, and gathered into chunks; each chunk
is sorted by length and run in batches, and every batch's attention is folded into the
per-head sums on the model's device at once. Nothing per sentence is kept beyond what
SPEC.md needs, so memory stays flat as the corpus grows.

Nothing is lost. A chunk is the unit of work: the run's coverage (the entries it has
accounted for, :class:`~attnwidget.coverage.Coverage`) grows a chunk at a time, and a run
stopped inside a chunk goes back to the end of the last one (:mod:`attnwidget.snapshot`).
With an output folder the run checkpoints there every few minutes, and after Ctrl-C, a
crash or a kill, ``resume=True`` continues from the last checkpoint: the chunks come out
the same, so the numbers equal an uninterrupted run's. A sentence whose parsing,
alignment or forward pass raises an unexpected error is skipped and counted (``strict``
makes it an error), its chunk redone a sentence at a time so the others are kept.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from .atomic import AtomicFolder, OutputFolderError
from .corpus import CorpusSource, Entry, expected_entries
from .coverage import Coverage
from .errors import (AttnWidgetError, EmptyTextError, ModelLoadError, NoAttentionError, SpacyPipelineError,
                     TooLongError)
from .fingerprint import EntryHasher, model_fingerprint
from .interrupts import Interrupts
from .metrics import ExemplarTracker, HeadSums, fused_pass
from .runfolder import (CheckpointWriter, ResumeError, RunSpec, build_manifest, check_resumable, inspect_folder,
                        load_checkpoint, load_output, refuse_foreign, write_folder)
from .sentence import AnnotatedSentence, align_many
from .snapshot import Snapshot
from .stats import ERROR_REASON_PREFIX, SKIP_DUPLICATE, AttentionStats, CorpusSummary
from .syntax import parse_spacy_many

#: Sentences sorted together by length before batching (× batch size).
CHUNK_BATCHES = 8
#: Entries parsed (one spaCy ``pipe`` call) and tokenized (one tokenizer call) together.
PREPARE_BATCH = 64
#: How long a thread may hold the GIL while another waits for it, during a prefetched
#: pass (Python's default is 5 ms). See :func:`prefetched`.
PREFETCH_SWITCH_INTERVAL = 1e-4
#: Seconds between the checkpoints of a run with an output folder.
CHECKPOINT_SECONDS = 300.0
#: Sentences failing one after another before a run gives up: by then the model, the
#: device or the pipeline is broken, not the sentences.
MAX_CONSECUTIVE_ERRORS = 16

SKIP_BLANK = "blank"
SKIP_TOO_LONG = "longer than the model's window"
#: Errors that are not one sentence's fault: they stop the run.
_SYSTEMATIC = (SpacyPipelineError, ModelLoadError, NoAttentionError, ResumeError, OutputFolderError, MemoryError)


class SentenceError(AttnWidgetError):
    """A sentence failed (``strict``): ``index`` is its entry index, ``where`` its place."""

    def __init__(self, message: str, index: int, where: str):
        super().__init__(message)
        self.index = index
        self.where = where


class InterruptedRunWarning(UserWarning):
    """A run with an output folder was stopped; the message says how to continue it."""


class SkippedSentencesWarning(UserWarning):
    """Some sentences were skipped after unexpected errors; the message quotes them."""


@dataclass
class Item:
    """One entry of this run's shard, prepared: its sentence, or why it is skipped."""

    index: int
    where: str
    sentence: AnnotatedSentence | None = None
    reason: str = ""
    detail: str = ""
    duplicate: bool = False
    truncated: bool = False
    multi_sentence: bool = False
    digest: str | None = None  # the stream's fingerprint up to this entry (iterables only)


@dataclass
class End:
    """The corpus is read: ``entries`` in all (every shard's)."""

    entries: int
    digest: str | None = None


def analyze(
    corpus: str | Path | Iterable[Any],
    model: Any = None,
    annotations: str | None = None,
    batch_size: int = 32,
    device: str | Any = "auto",
    max_sentences: int | None = None,
    min_attention: float | None = None,
    exemplars: int = 3,
    progress: bool = True,
    truncate: bool = False,
    shard: str | tuple[int, int] | None = None,
    pipeline: Any = None,
    drop_duplicates: bool = False,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    restart: bool = False,
    figures: bool = True,
    checkpoint_every: float | None = CHECKPOINT_SECONDS,
    strict: bool = False,
    lenient: bool = False,
) -> AttentionStats:
    """Measure every head's attention over a corpus, as Vig & Belinkov (2019) did.

    ``corpus``: a ``.conllu`` file, a ``.txt`` file (one sentence per line), or an iterable
    of strings, :class:`~attnwidget.syntax.Syntax` or :class:`AnnotatedSentence` objects.
    ``model``: anything :func:`~attnwidget.models.load_model` takes. ``annotations``:
    ``"gold"`` (CoNLL-U), ``"spacy"`` (parse the text; for CoNLL-U its ``# text``), or
    None to use gold when the corpus has it. ``max_sentences``: read only the first N
    entries. ``min_attention``: SPEC §3's threshold θ. ``exemplars``: sentences kept per
    head. ``truncate``: cut sentences longer than the model's window instead of skipping
    them. ``shard``: ``"I/N"`` or ``(I, N)`` analyses entries with index % N == I, for
    :meth:`AttentionStats.merge` later. ``pipeline``: a spaCy pipeline or its name.
    Repeated sentences are counted in the summary and, as SPEC.md sums over every
    sentence, kept unless ``drop_duplicates``.

    ``out``: an output folder (see :mod:`attnwidget.runfolder`): the run checkpoints there
    every ``checkpoint_every`` seconds (None: only at the end) and writes its tables,
    statistics, figures (unless ``figures=False``) and manifest there when done, each
    time replacing the folder whole. ``resume=True`` continues the unfinished run in
    ``out`` (the same corpus, model and options, or :class:`ResumeError` says what
    differs), or returns its result if it is finished; without it a folder holding an
    unfinished run is refused, and ``restart=True`` starts over.

    A sentence whose parsing, alignment or forward pass raises an unexpected error is
    skipped and counted by reason in ``stats.summary`` (``strict=True``: raise
    :class:`SentenceError` naming it). ``lenient=True`` skips invalid CoNLL-U sentences
    (and lines that are not UTF-8) too, where by default they are an error.

    Ctrl-C stops at once: the chunk in progress is dropped, so the statistics returned
    (flagged ``interrupted`` in ``stats.summary``) cover exactly the entries in
    ``stats.summary.coverage``; with ``out`` they are saved there to resume.
    """
    from .models import load_model

    _check_arguments(batch_size, max_sentences, exemplars, min_attention, checkpoint_every, out, resume, restart)
    shard_index, shard_count = parse_shard(shard)
    source = CorpusSource.open(corpus, annotations, lenient)
    spec = RunSpec(
        corpus=source.name, corpus_fingerprint=source.fingerprint, corpus_entries=source.total,
        corpus_is_file=source.is_file, model=_model_name(model),
        options={"annotations": source.annotations, "min_attention": min_attention, "exemplars": exemplars,
                 "truncate": truncate, "drop_duplicates": drop_duplicates,
                 "shard": None if shard_count is None else f"{shard_index}/{shard_count}",
                 "max_sentences": max_sentences, "batch_size": batch_size,
                 "chunk_sentences": batch_size * CHUNK_BATCHES, "pipeline": _pipeline_name(pipeline)},
        settings={"device": str(device), "strict": strict, "lenient": lenient, "figures": figures,
                  "checkpoint_every": checkpoint_every})
    folder = AtomicFolder(out) if out is not None else None
    with folder.locked() if folder is not None else contextlib.nullcontext():
        start = _starting_point(folder, spec, model, resume, restart)
        if isinstance(start, AttentionStats):  # resume=True on a finished run
            return start
        if isinstance(model, (str, Path)) or model is None:
            source.validate(None if progress else False)  # a strict run stops at an invalid file before the model loads
        loaded = load_model(model, device=device)
        spec.model = loaded.name
        spec.model_fingerprint = model_fingerprint(loaded)
        spec.model_info = {"requested": model if isinstance(model, str) else None, "layers": loaded.num_layers,
                           "heads": loaded.num_heads, "causal": loaded.is_causal}
        if start is not None:
            check_resumable(spec, start.content, with_model=True)
            stats = start.stats
        else:
            stats = _new_stats(loaded, spec, exemplars, min_attention, shard_index, shard_count)
        run = CorpusRun(loaded, stats, spec, source, batch_size=batch_size, max_sentences=max_sentences,
                        truncate=truncate, shard=(shard_index, shard_count), pipeline=pipeline,
                        drop_duplicates=drop_duplicates, strict=strict, progress=progress, folder=folder,
                        figures=figures, checkpoint_every=checkpoint_every,
                        segments=start.segments if start is not None else None,
                        manifest=start.content.manifest if start is not None else None)
        return run.go()


def _check_arguments(batch_size, max_sentences, exemplars, min_attention, checkpoint_every, out, resume, restart):
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AttnWidgetError("batch_size must be at least 1")
    if max_sentences is not None and max_sentences < 1:
        raise AttnWidgetError("max_sentences must be at least 1")
    if not isinstance(exemplars, int) or exemplars < 0:
        raise AttnWidgetError(f"exemplars must be a whole number ≥ 0, not {exemplars!r}")
    if min_attention is not None and not 0 <= min_attention < 1:
        raise AttnWidgetError(f"min_attention must be in [0, 1), not {min_attention!r}")
    if checkpoint_every is not None and checkpoint_every < 0:
        raise AttnWidgetError("checkpoint_every must be a number of seconds ≥ 0, or None")
    if (resume or restart) and out is None:
        raise AttnWidgetError("resume and restart need out= (the output folder of the run)")
    if resume and restart:
        raise AttnWidgetError("resume=True continues the run in out=, restart=True discards it: choose one")


def _model_name(model) -> str:
    if model is None or isinstance(model, (str, Path)):
        from .models import DEFAULT_MODEL

        return str(model if model is not None else DEFAULT_MODEL)
    return str(getattr(model, "name", None) or type(model).__name__)


def _pipeline_name(pipeline) -> str | None:
    if pipeline is None or isinstance(pipeline, str):
        return pipeline
    meta = getattr(pipeline, "meta", {}) or {}
    return f"{meta.get('lang', '?')}_{meta.get('name', '?')}-{meta.get('version', '?')}"


@dataclass
class _Start:
    """An unfinished run to continue."""

    stats: AttentionStats
    segments: list
    content: Any


def _starting_point(folder: AtomicFolder | None, spec: RunSpec, model, resume: bool, restart: bool):
    """None (a new run), the :class:`_Start` of an unfinished one, or the statistics of a
    finished one (resume=True): all decided before the model loads."""
    if folder is None:
        return None
    content = inspect_folder(folder.path)
    refuse_foreign(content)
    if content.kind == "partial" and not (resume or restart):
        manifest = content.manifest
        raise AttnWidgetError(
            f"{folder.path} holds an unfinished run ({manifest.get('covers')} of {manifest['corpus'].get('name')}, "
            f"{manifest.get('status')}, {manifest.get('updated')}); continue it with --resume (Python: resume=True) "
            "or start over with --restart (restart=True)")
    if not resume:
        return None
    if content.kind in ("missing", "empty"):
        return None  # nothing to continue: a first run
    if content.kind == "legacy":
        raise ResumeError(f"{folder.path} holds the output of an older attnwidget, which cannot be resumed; "
                          "start over with --restart (restart=True)")
    check_resumable(spec, content, with_model=False)
    if content.kind == "complete":
        saved = content.manifest.get("model", {})
        given = model_fingerprint(model) if hasattr(model, "tokenizer") else None
        if (given or spec.model) not in (saved.get("fingerprint"), saved.get("name"), saved.get("requested")):
            raise ResumeError(f"{folder.path} holds a finished run of the model {saved.get('name')!r}, "
                              f"not {spec.model!r}; start over with --restart (restart=True)")
        return load_output(folder.path)
    stats, segments = load_checkpoint(folder.path)
    return _Start(stats, segments, content)


def _new_stats(loaded, spec: RunSpec, exemplars: int, min_attention, shard_index: int,
               shard_count: int | None) -> AttentionStats:
    summary = CorpusSummary(corpus=spec.corpus, model=loaded.name, annotations=spec.options["annotations"],
                            min_attention=min_attention,
                            shards=None if shard_count is None else [shard_index], shard_count=shard_count,
                            coverage=Coverage.empty(), corpus_fingerprint=spec.corpus_fingerprint,
                            model_fingerprint=spec.model_fingerprint)
    sums = HeadSums(loaded.num_layers, loaded.num_heads, loaded.is_causal, min_attention, loaded.device)
    tracker = ExemplarTracker(loaded.num_layers, loaded.num_heads, exemplars, loaded.device)
    return AttentionStats(sums, tracker, summary)


# ------------------------------------------------------------------------ the run


class CorpusRun:
    """One pass (or the rest of one) over a corpus: chunks in, statistics, checkpoints out."""

    def __init__(self, loaded, stats: AttentionStats, spec: RunSpec, source: CorpusSource, *, batch_size: int,
                 max_sentences, truncate, shard, pipeline, drop_duplicates, strict, progress, folder, figures,
                 checkpoint_every, segments=None, manifest=None):
        self.loaded, self.stats, self.spec, self.source = loaded, stats, spec, source
        self.batch_size = batch_size
        self.chunk_size = batch_size * CHUNK_BATCHES
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
        self.errors = _Breaker(strict, "running the model")
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
        items = prepare(entries, self.loaded, self.source.annotations, self.truncate, self.shard_index,
                        self.shard_count, self.pipeline, self.drop_duplicates, resume_from=self.resume_from,
                        hasher=hasher, expect=self.prefix, strict=self.strict)
        total = expected_entries(self.source, self.max_sentences, self.shard_index, self.shard_count)
        try:
            with _progress_bar(self.progress, total, self.saved) as self.bar, self.interrupts, \
                    _old_objects_frozen(), prefetched(items, self.chunk_size) as ahead:
                self._consume(ahead)
            if summary.sentences == 0:
                skipped = "; ".join(f"{n} {reason}" for reason, n in summary.skipped.items()) or "none"
                raise AttnWidgetError(f"the corpus {summary.corpus} has no sentences to analyse "
                                      f"({summary.entries} entries read; skipped: {skipped})")
            if self.folder is not None:
                self._write("complete")
        except KeyboardInterrupt:
            return self._stopped()
        except BaseException as exc:
            self._failed(exc)
            raise
        self._report_errors()
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
        except _SYSTEMATIC:
            raise
        except Exception:  # noqa: BLE001 - some sentence of the chunk broke it: find which
            self.snapshot.restore(self.stats)
            self._account(items)
            for item in sentences:
                before = Snapshot(self.stats)
                try:
                    self._process([item])
                    self.errors.succeeded()
                except _SYSTEMATIC:
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
        batch (:func:`~attnwidget.forward.batch_bytes_limit`): a batch costs that code a
        fixed ~8 ms of small tensor operations whatever its size, which for the many small
        batches of short sentences was as much as their arithmetic. Sorted by length,
        joined batches are nearly the same width, so the padding is small. The CPU's
        compiled pass has no such cost, and joining would only copy the attention.

        The attention held between forward passes is at most that one batch's worth, and
        the C heap's free pages go back to the system after each chunk, so the peak memory
        is that of one batch, however long the corpus (see :mod:`attnwidget.allocator`;
        after every batch would slow the next forward pass, which must fault its memory
        back in). Only the forward passes may be interrupted (:mod:`attnwidget.interrupts`)."""
        from .allocator import trim_heap
        from .forward import AttentionBatch, batch_bytes_limit, iter_attention_batches

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
        batches = iter_attention_batches(loaded, [item.sentence for item in items], self.batch_size,
                                         zero_padding=False)
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
        due = self.checkpoint_every is not None and time.monotonic() - self.last_write >= self.checkpoint_every
        if self.folder is not None and not final and due:
            try:
                self._write("checkpoint")
            except (OSError, OutputFolderError) as exc:  # the run goes on; the next checkpoint may succeed
                warnings.warn(f"attnwidget: could not write a checkpoint ({exc}); the run goes on", RuntimeWarning,
                              stacklevel=2)
                self.last_write = time.monotonic()

    # -- writing ----------------------------------------------------------------------

    def _write(self, status: str) -> None:
        summary = self.stats.summary
        manifest = build_manifest(self.spec, summary, status, previous=self.manifest, out=self.folder.path)
        if self.prefix is not None:
            manifest["corpus"]["prefix"] = list(self.prefix)
        complete = status == "complete"
        write_folder(self.folder, self.stats, manifest, results=complete, figures=self.figures,
                     tables=status in ("interrupted", "failed"), checkpoint=None if complete else self.writer)
        self.manifest, self.saved, self.last_write = manifest, len(summary.coverage), time.monotonic()

    def _stopped(self) -> AttentionStats:
        """Ctrl-C: back to the last chunk boundary; saved to resume if there is an output folder."""
        if not self.interrupts.forced:
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
                message += (f"; {self.folder.path} holds {self.manifest.get('covers')}. "
                            f"Continue with:\n  {self.manifest.get('resume')}")
            else:
                message += f"; nothing was finished, {self.folder.path} is unchanged"
        except KeyboardInterrupt:
            message += f"; interrupted again while saving, so {self.folder.path} keeps its last checkpoint"
        warnings.warn(message, InterruptedRunWarning, stacklevel=3)
        return self.stats

    def _failed(self, exc: BaseException) -> None:
        """An error stopped the run: save what the finished chunks hold, and say how to go on."""
        if self.folder is None or self.interrupts.forced:
            return
        self.snapshot.restore(self.stats)
        summary = self.stats.summary
        try:
            if summary.coverage:
                self._write("failed")
        except Exception as write_error:  # noqa: BLE001 - the first error is the one to report
            _note(exc, f"(the checkpoint could not be written either: {write_error})")
            return
        if self.manifest is not None and not self.manifest.get("complete"):
            hint = "" if not isinstance(exc, SentenceError) else " (without --strict to skip that sentence)"
            _note(exc, f"{self.folder.path} holds {self.manifest.get('covers')} analysed before the error; "
                       f"continue{hint} with:\n  {self.manifest.get('resume')}")

    def _report_errors(self) -> None:
        summary = self.stats.summary
        failed = {reason: n for reason, n in summary.skipped.items() if reason.startswith(ERROR_REASON_PREFIX)}
        if failed:
            counts = "; ".join(f"{n} {reason}" for reason, n in failed.items())
            examples = [f"entry {i}: {detail}" for i, reason, detail in summary.skip_examples if reason in failed]
            warnings.warn(f"attnwidget: sentences skipped after errors ({counts}):\n  " + "\n  ".join(examples[:5])
                          + "\n(all in stats.summary.skip_examples; strict=True makes them errors)",
                          SkippedSentencesWarning, stacklevel=3)


def _note(exc: BaseException, text: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(text)


class _Breaker:
    """Counts a run's failed sentences: raises for the first one when strict, and after
    :data:`MAX_CONSECUTIVE_ERRORS` in a row otherwise."""

    def __init__(self, strict: bool, stage: str):
        self.strict, self.stage = strict, stage
        self.in_a_row = 0

    def failed(self, item: Item, exc: Exception, stage: str | None = None) -> None:
        stage = stage or self.stage
        what = f"{type(exc).__name__}: {exc}"
        if self.strict:
            raise SentenceError(f"{item.where} (entry {item.index}): {stage} failed: {what}",
                                item.index, item.where) from exc
        self.in_a_row += 1
        if self.in_a_row >= MAX_CONSECUTIVE_ERRORS:
            raise AttnWidgetError(f"{self.in_a_row} sentences in a row failed while {stage}, the last at "
                                  f"{item.where}: {what}. That looks like a problem of the model, device or "
                                  "pipeline, not of the sentences") from exc
        item.sentence, item.reason, item.detail = None, f"{ERROR_REASON_PREFIX}while {stage} ({type(exc).__name__})", \
            f"{item.where}: {exc}"

    def succeeded(self) -> None:
        self.in_a_row = 0


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


# -------------------------------------------------------------------- preparing


def prepare(entries: Iterable[Entry], loaded, annotations: str, truncate: bool, shard_index: int = 0,
            shard_count: int | None = None, pipeline: Any = None, drop_duplicates: bool = False, *,
            resume_from: int = 0, hasher: EntryHasher | None = None, expect=None,
            strict: bool = False) -> Iterator[Item | End]:
    """This shard's entries from ``resume_from`` on, as :class:`Item` in corpus order
    (annotated and aligned sentences, or why each is skipped: blank, too long, a duplicate
    if asked, invalid, an error), then :class:`End`.

    Entries go through in groups of :data:`PREPARE_BATCH`: spaCy parses a group's texts in
    one ``pipe`` call and the tokenizer reads them in one call. ``hasher`` fingerprints a
    stream as it is read; ``expect`` = (entries, fingerprint) of the stream a resumed run
    began with, checked when that many entries have been read."""
    seen: set[int] = set()
    group: list[tuple[Entry, Item]] = []
    errors = _Breaker(strict, "preparing")
    read = 0
    for entry in entries:
        read = entry.index + 1
        digest = None
        if hasher is not None:
            hasher.update(entry.text, entry.syntax)
            digest = hasher.digest()
            if expect is not None and read == expect[0] and digest != expect[1]:
                raise ResumeError(f"the sentences given differ from those the run began with: their first {read} "
                                  "entries have another fingerprint; resume with the same sentences, or restart")
        key = entry.text.strip()
        duplicate = bool(key) and hash(key) in seen
        seen.add(hash(key))  # every shard sees every entry, so all agree on duplicates
        if (shard_count is not None and entry.index % shard_count != shard_index) or entry.index < resume_from:
            continue
        item = Item(entry.index, entry.where, duplicate=duplicate, digest=digest)
        if entry.invalid is not None:
            item.reason, item.detail = entry.invalid_reason, entry.invalid
        elif not key:
            item.reason, item.detail = SKIP_BLANK, entry.where
        elif duplicate and drop_duplicates:
            item.reason, item.detail = SKIP_DUPLICATE, entry.where
        group.append((entry, item))
        if len(group) >= PREPARE_BATCH:
            yield from _annotate_and_align(group, loaded, annotations, truncate, pipeline, errors)
            group = []
    yield from _annotate_and_align(group, loaded, annotations, truncate, pipeline, errors)
    if expect is not None and read < expect[0]:
        raise ResumeError(f"the sentences given end after {read} entries, but the run being resumed had read "
                          f"{expect[0]}; resume with the same sentences, or restart")
    yield End(read, hasher.digest() if hasher is not None else None)


def _annotate_and_align(group: list[tuple[Entry, Item]], loaded, annotations, truncate, pipeline, errors):
    """The group's items in corpus order: parsed where needed, then aligned."""
    live = [(e, it) for e, it in group if not it.reason]
    to_parse = [(e, it) for e, it in live if e.sentence is None and (annotations == "spacy" or e.syntax is None)]
    parsed = _each(lambda texts: list(parse_spacy_many(texts, pipeline)), [e.text for e, _ in to_parse])
    for (entry, item), syntax in zip(to_parse, parsed):
        if isinstance(syntax, Exception):
            errors.failed(item, syntax, "parsing with spaCy")
            continue
        item.multi_sentence = syntax.meta.get("spacy_sentences", 1) > 1
        entry.syntax = syntax
    to_align = [(e, it) for e, it in live if e.sentence is None and not it.reason]
    aligned = _each(lambda sources: align_many(sources, loaded, truncate), [e.syntax or e.text for e, _ in to_align])
    for (entry, item), result in zip(to_align, aligned):
        if isinstance(result, TooLongError):
            item.reason, item.detail = SKIP_TOO_LONG, f"{entry.where}: {result.n_tokens} tokens, window {result.max_length}"
        elif isinstance(result, EmptyTextError):
            item.reason, item.detail = SKIP_BLANK, entry.where
        elif isinstance(result, Exception):
            errors.failed(item, result, "aligning tokens")
        else:
            item.truncated = result.truncated
            entry.sentence = result
            errors.succeeded()
    for entry, item in group:
        if not item.reason:
            item.sentence = entry.sentence
        yield item


def _each(work, inputs: list) -> list:
    """``work(inputs)``; if that raises, ``work`` on each input alone, with the error in
    place of the result of each input that fails by itself."""
    if not inputs:
        return []
    try:
        return work(inputs)
    except _SYSTEMATIC:
        raise
    except Exception:  # noqa: BLE001 - find the input(s) at fault
        results = []
        for one in inputs:
            try:
                results.append(work([one])[0])
            except _SYSTEMATIC:
                raise
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results


def parse_shard(shard) -> tuple[int, int | None]:
    """``"I/N"`` or ``(I, N)`` → (I, N), 0 ≤ I < N; None → (0, None)."""
    if shard is None:
        return 0, None
    try:
        index, count = (shard.split("/") if isinstance(shard, str) else shard)
        index, count = int(index), int(count)
    except (TypeError, ValueError):
        raise AttnWidgetError(f"shard must look like I/N (for example 0/4), not {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise AttnWidgetError(f"shard {index}/{count}: I must be 0 … N−1 (shards are numbered from 0)")
    return index, count


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
def _progress_bar(enabled: bool, total: int | None, initial: int = 0):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="sent", desc="analyze", disable=not enabled, smoothing=0.1)
    try:
        yield bar
    finally:
        bar.close()
