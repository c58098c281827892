"""Corpus entries made ready for the model: annotated, aligned, or the reason each is skipped.

:func:`prepare` runs in a reader thread ahead of the model (see
:func:`attnwidget.corpus.run.prefetched`): it keeps this run's shard, notes repeats, parses
with spaCy where asked and aligns to the model's tokens, a group of entries at a time.
What it yields is in corpus order, so a run can say exactly which entries it has
accounted for. An unexpected error while parsing or aligning a group is retried entry by
entry, so it costs only the entry at fault: that one is skipped with the error as its
reason, or, in a strict run, raises :class:`SentenceError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from attnwidget.corpus.atomic import OutputFolderError
from attnwidget.corpus.fingerprint import EntryHasher
from attnwidget.corpus.output_folder import ResumeError
from attnwidget.corpus.reader import Entry
from attnwidget.corpus.stats import ERROR_REASON_PREFIX, SKIP_DUPLICATE
from attnwidget.errors import (
    AttnWidgetError,
    EmptyTextError,
    ModelLoadError,
    NoAttentionError,
    SpacyPipelineError,
    TooLongError,
)
from attnwidget.text.sentence import AnnotatedSentence, align_many
from attnwidget.text.syntax import parse_spacy_many

#: Entries parsed (one spaCy ``pipe`` call) and tokenized (one tokenizer call) together.
PREPARE_BATCH = 64
#: Sentences failing one after another before a run gives up: by then the model, the
#: device or the pipeline is broken, not the sentences.
MAX_CONSECUTIVE_ERRORS = 16

SKIP_BLANK = "blank"
SKIP_TOO_LONG = "longer than the model's window"
#: Errors that are not one sentence's fault: they stop the run.
SYSTEMATIC = (SpacyPipelineError, ModelLoadError, NoAttentionError, ResumeError, OutputFolderError, MemoryError)


class SentenceError(AttnWidgetError):
    """A sentence failed (``strict``): ``index`` is its entry index, ``where`` its place."""

    def __init__(self, message: str, index: int, where: str):
        super().__init__(message)
        self.index = index
        self.where = where


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


class Breaker:
    """Counts a run's failed sentences: raises for the first one when strict, and after
    :data:`MAX_CONSECUTIVE_ERRORS` in a row otherwise."""

    def __init__(self, strict: bool, stage: str):
        self.strict, self.stage = strict, stage
        self.in_a_row = 0

    def failed(self, item: Item, exc: Exception, stage: str | None = None) -> None:
        stage = stage or self.stage
        what = f"{type(exc).__name__}: {exc}"
        if self.strict:
            raise SentenceError(
                f"{item.where} (entry {item.index}): {stage} failed: {what}", item.index, item.where
            ) from exc
        self.in_a_row += 1
        if self.in_a_row >= MAX_CONSECUTIVE_ERRORS:
            raise AttnWidgetError(
                f"{self.in_a_row} sentences in a row failed while {stage}, the last at "
                f"{item.where}: {what}. That looks like a problem of the model, device or "
                "pipeline, not of the sentences"
            ) from exc
        item.sentence, item.reason, item.detail = (
            None,
            f"{ERROR_REASON_PREFIX}while {stage} ({type(exc).__name__})",
            f"{item.where}: {exc}",
        )

    def succeeded(self) -> None:
        self.in_a_row = 0


def prepare(
    entries: Iterable[Entry],
    loaded,
    annotations: str,
    truncate: bool,
    shard_index: int = 0,
    shard_count: int | None = None,
    pipeline: Any = None,
    drop_duplicates: bool = False,
    *,
    resume_from: int = 0,
    hasher: EntryHasher | None = None,
    expect=None,
    strict: bool = False,
) -> Iterator[Item | End]:
    """This shard's entries from ``resume_from`` on, as :class:`Item` in corpus order
    (annotated and aligned sentences, or why each is skipped: blank, too long, a duplicate
    if asked, invalid, an error), then :class:`End`.

    Entries go through in groups of :data:`PREPARE_BATCH`: spaCy parses a group's texts in
    one ``pipe`` call and the tokenizer reads them in one call. ``hasher`` fingerprints a
    stream as it is read; ``expect`` = (entries, fingerprint) of the stream a resumed run
    began with, checked when that many entries have been read."""
    seen: set[int] = set()
    group: list[tuple[Entry, Item]] = []
    errors = Breaker(strict, "preparing")
    read = 0
    for entry in entries:
        read = entry.index + 1
        digest = None
        if hasher is not None:
            hasher.update(entry.text, entry.syntax)
            digest = hasher.digest()
            if expect is not None and read == expect[0] and digest != expect[1]:
                raise ResumeError(
                    f"the sentences given differ from those the run began with: their first {read} "
                    "entries have another fingerprint; resume with the same sentences, or restart"
                )
        key = entry.text.strip()
        duplicate = entry.duplicate
        if duplicate is None:
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
        raise ResumeError(
            f"the sentences given end after {read} entries, but the run being resumed had read "
            f"{expect[0]}; resume with the same sentences, or restart"
        )
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
            item.reason = SKIP_TOO_LONG
            item.detail = f"{entry.where}: {result.n_tokens} tokens, window {result.max_length}"
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
    except SYSTEMATIC:
        raise
    except Exception:  # noqa: BLE001 - find the input(s) at fault
        results = []
        for one in inputs:
            try:
                results.append(work([one])[0])
            except SYSTEMATIC:
                raise
            except Exception as exc:  # noqa: BLE001
                results.append(exc)
        return results
