"""``analyze()``: one streaming pass of a model over a corpus, into :class:`AttentionStats`.

The corpus is read entry by entry (a CoNLL-U sentence, a line of text, or an item of an
iterable; :mod:`attnwidget.corpus.reader`), annotated and aligned to the model's tokens in a
reader thread (:mod:`attnwidget.corpus.prepare`), and run chunk by chunk, every batch's attention
folded into the per-head sums at once (:mod:`attnwidget.corpus.run`). Nothing per sentence
is kept beyond what the metrics need (docs/metrics.md), so memory stays flat as the corpus grows.

Everything that can be checked is checked before the model loads: the options, the
corpus (path, format, encoding, a strict CoNLL-U file's validity), the output folder (a
file in its place, no permission, another run writing it, an unfinished run there) and,
when resuming, that the corpus and options are those of the run being continued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attnwidget.corpus.atomic import AtomicFolder
from attnwidget.corpus.fingerprint import model_fingerprint
from attnwidget.corpus.metrics import HeadSums
from attnwidget.corpus.output_folder import (
    ResumeError,
    RunSpec,
    check_resumable,
    inspect_folder,
    load_checkpoint,
    load_output,
    refuse_foreign,
)
from attnwidget.corpus.prepare import SentenceError  # noqa: F401 - part of analyze()'s interface
from attnwidget.corpus.reader import CorpusSource
from attnwidget.corpus.run import (  # noqa: F401
    PREFETCH_SWITCH_INTERVAL,
    CorpusRun,
    InterruptedRunWarning,
    SkippedSentencesWarning,
    new_stats,
    prefetched,
)
from attnwidget.corpus.run_options import check_arguments as _check_arguments
from attnwidget.corpus.run_options import parse_shard
from attnwidget.corpus.stats import AttentionStats
from attnwidget.defaults import CHECKPOINT_SECONDS
from attnwidget.errors import AttnWidgetError
from attnwidget.keywords import checked_keywords
from attnwidget.text.syntax import spacy_pipeline
from attnwidget.transformer.loading import DEFAULT_MODEL, load_model

#: Sentences sorted together by length before batching (× batch size): a run's unit of work.
CHUNK_BATCHES = 8


@checked_keywords
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
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    cpus_per_worker: float = 1,
    block_size: int | None = None,
    ray_init: dict | None = None,
) -> AttentionStats:
    """Measure every head's attention over a corpus, as Vig & Belinkov (2019) did.

    ``corpus``: a ``.conllu`` file, a ``.txt`` file (one sentence per line), or an iterable
    of strings, :class:`~attnwidget.text.syntax.Syntax` or :class:`AnnotatedSentence` objects.
    ``model``: anything :func:`~attnwidget.transformer.loading.load_model` takes. ``annotations``:
    ``"gold"`` (CoNLL-U), ``"spacy"`` (parse the text; for CoNLL-U its ``# text``), or
    None to use gold when the corpus has it. ``max_sentences``: read only the first N
    entries. ``min_attention``: the threshold θ (docs/metrics.md#threshold). ``exemplars``: sentences kept per
    head. ``truncate``: cut sentences longer than the model's window instead of skipping
    them. ``shard``: ``"I/N"`` or ``(I, N)`` analyses entries with index % N == I, for
    :meth:`AttentionStats.merge` later. ``pipeline``: a spaCy pipeline or its name.
    Repeated sentences are counted in the summary and, as every metric sums over every
    sentence (docs/metrics.md), kept unless ``drop_duplicates``.

    ``out``: an output folder (see :mod:`attnwidget.corpus.output_folder`): the run checkpoints there
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

    ``engine="ray"`` spreads the run over a Ray cluster (``pip install 'attnwidget[ray]'``;
    see docs/cluster.md and :mod:`attnwidget.corpus.ray_engine`), with the same result: without
    ``address`` it starts Ray on this machine, ``address="auto"`` or ``"HOST:PORT"`` joins a
    cluster. ``workers`` (default: one per GPU, or per ``cpus_per_worker`` CPUs) each load the
    model once, asking Ray for ``gpus_per_worker`` GPUs (a fraction shares one) and
    ``cpus_per_worker`` CPUs. ``block_size``: entries a worker prepares at a time;
    ``ray_init``: more arguments of ``ray.init``.
    """
    _check_arguments(batch_size, max_sentences, exemplars, min_attention, checkpoint_every, out, resume, restart)
    if engine not in ("local", "ray"):
        raise AttnWidgetError(f"engine must be 'local' (this process) or 'ray' (a Ray cluster), not {engine!r}")
    if engine == "ray":
        # lazy: keeps ray out of importing this module
        from .ray_engine import check_ray_inputs, import_ray

        if shard is not None:
            raise AttnWidgetError(
                "engine='ray' spreads the whole corpus over the cluster itself; shard= is for "
                "splitting it by hand without Ray"
            )
        import_ray()  # before anything is read: say at once if the extra is missing
        check_ray_inputs(model, pipeline)
    elif (
        address is not None
        or workers is not None
        or gpus_per_worker is not None
        or cpus_per_worker != 1
        or block_size is not None
        or ray_init is not None
    ):
        raise AttnWidgetError(
            "address, workers, gpus_per_worker, cpus_per_worker, block_size and ray_init are for "
            "engine='ray' (a Ray cluster); add engine='ray' (CLI: --engine ray)"
        )
    shard_index, shard_count = parse_shard(shard)
    source = CorpusSource.open(corpus, annotations, lenient)
    spec = RunSpec(
        corpus=source.name,
        corpus_fingerprint=source.fingerprint,
        corpus_entries=source.total,
        corpus_is_file=source.is_file,
        model=_model_name(model),
        options={
            "annotations": source.annotations,
            "min_attention": min_attention,
            "exemplars": exemplars,
            "truncate": truncate,
            "drop_duplicates": drop_duplicates,
            "shard": None if shard_count is None else f"{shard_index}/{shard_count}",
            "max_sentences": max_sentences,
            "batch_size": batch_size,
            "chunk_sentences": batch_size * CHUNK_BATCHES,
            "pipeline": _pipeline_name(pipeline),
        },
        settings={
            "device": str(device),
            "strict": strict,
            "lenient": lenient,
            "figures": figures,
            "checkpoint_every": checkpoint_every,
        },
    )
    folder = AtomicFolder(out) if out is not None else None
    with folder.locked() if folder is not None else contextlib.nullcontext():
        start = _starting_point(folder, spec, model, resume, restart)
        if isinstance(start, AttentionStats):  # resume=True on a finished run
            return start
        if isinstance(model, (str, Path)) or model is None:
            source.validate(None if progress else False)  # a strict run stops at an invalid file before the model loads
        if engine == "ray":
            # lazy: keeps ray out of importing this module
            from .ray_engine import ClusterOptions, run_on_ray

            cluster = ClusterOptions(
                address, workers, gpus_per_worker, cpus_per_worker, block_size, dict(ray_init or {})
            )
            return run_on_ray(
                source,
                spec,
                folder,
                start,
                model,
                device=device,
                batch_size=batch_size,
                exemplars=exemplars,
                min_attention=min_attention,
                max_sentences=max_sentences,
                truncate=truncate,
                pipeline=pipeline,
                drop_duplicates=drop_duplicates,
                strict=strict,
                progress=progress,
                figures=figures,
                checkpoint_every=checkpoint_every,
                cluster=cluster,
            )
        loaded = load_model(model, device=device, progress=progress)
        if source.annotations == "spacy" and (pipeline is None or isinstance(pipeline, str)):
            spacy_pipeline(pipeline, progress=progress)  # seconds; loaded once, before the bar starts
        spec.model = loaded.name
        spec.model_fingerprint = model_fingerprint(loaded)
        spec.model_info = {
            "requested": model if isinstance(model, str) else None,
            "layers": loaded.num_layers,
            "heads": loaded.num_heads,
            "causal": loaded.is_causal,
        }
        if start is not None:
            check_resumable(spec, start.content, with_model=True)
            stats = _on_device(start.stats, loaded.device)
        else:
            stats = new_stats(loaded, spec, exemplars, min_attention, shard_index, shard_count)
        run = CorpusRun(
            loaded,
            stats,
            spec,
            source,
            batch_size=batch_size,
            chunk_size=spec.options["chunk_sentences"],
            max_sentences=max_sentences,
            truncate=truncate,
            shard=(shard_index, shard_count),
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
        return run.go()


def _model_name(model) -> str:
    if model is None or isinstance(model, (str, Path)):
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
            "or start over with --restart (restart=True)"
        )
    if not resume:
        return None
    if content.kind in ("missing", "empty"):
        return None  # nothing to continue: a first run
    if content.kind == "legacy":
        raise ResumeError(
            f"{folder.path} holds the output of an older attnwidget, which cannot be resumed; "
            "start over with --restart (restart=True)"
        )
    check_resumable(spec, content, with_model=False)
    if content.kind == "complete":
        saved = content.manifest.get("model", {})
        # A loaded model, or a TransformerLens/nnsight one (read as one, at no cost): compare weights.
        given = model_fingerprint(_loaded(model)) if hasattr(model, "tokenizer") else None
        if (given or spec.model) not in (saved.get("fingerprint"), saved.get("name"), saved.get("requested")):
            raise ResumeError(
                f"{folder.path} holds a finished run of the model {saved.get('name')!r}, "
                f"not {spec.model!r}; start over with --restart (restart=True)"
            )
        return load_output(folder.path)
    stats, segments = load_checkpoint(folder.path)
    return _Start(stats, segments, content)


def _loaded(model):
    return load_model(model, progress=False)


def _on_device(stats: AttentionStats, device) -> AttentionStats:
    """A checkpoint is read onto the CPU before the model loads; its sums and exemplar
    lists go where the model is."""
    old = stats.sums
    sums = HeadSums(old.num_layers, old.num_heads, old.causal, old.min_attention, device)
    sums.pos_vocab, sums.deprel_vocab, sums.cells = old.pos_vocab, old.deprel_vocab, old.cells
    sums.sums = {name: value.to(sums.sum_device) for name, value in old.sums.items()}
    tracker = stats.exemplar_tracker
    tracker.weight, tracker.sentence, tracker.i, tracker.j = (
        t.to(device) for t in (tracker.weight, tracker.sentence, tracker.i, tracker.j)
    )
    return AttentionStats(sums, tracker, stats.summary)
