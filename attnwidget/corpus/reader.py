"""Where a corpus analysis reads its sentences: a CoNLL-U file, a text file, or an iterable.

:meth:`CorpusSource.open` checks everything that can be checked before a model loads (the
path, the format, the annotations asked for, the file's encoding) and fingerprints a file
(:mod:`attnwidget.corpus.fingerprint`); :meth:`CorpusSource.entries` then streams its entries,
each with its index in the corpus and where it came from, for messages.

In lenient mode an entry that cannot be read (an invalid CoNLL-U sentence, a line that is
not UTF-8, an item that is not a sentence) comes as an :class:`Entry` with ``invalid`` set
and keeps its index, so the analysis skips it and counts it; strict (the default) raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attnwidget.corpus.entries import (
    CONLLU_SUFFIXES,
    SKIP_INVALID_CONLLU,
    SKIP_INVALID_TEXT,
    SKIP_NOT_A_SENTENCE,
    TEXT_SUFFIXES,
    Entry,
    conllu_detail,
)
from attnwidget.corpus.files import CorpusFiles, is_many
from attnwidget.corpus.fingerprint import file_fingerprint
from attnwidget.errors import AttnWidgetError, ConlluError
from attnwidget.text.sentence import AnnotatedSentence
from attnwidget.text.syntax import Syntax, iter_conllu, validate_conllu


@dataclass
class CorpusSource:
    """A checked corpus. ``fingerprint`` and ``total`` (entries) are known beforehand for a
    file, not for an iterable."""

    name: str
    annotations: str
    path: Path | None = None
    items: Any = None
    lenient: bool = False
    fingerprint: str | None = None
    total: int | None = None
    files: Any = None  # a CorpusFiles: many files, globs, gzip, JSON Lines

    @property
    def is_file(self) -> bool:
        return self.path is not None or self.files is not None

    @property
    def is_conllu(self) -> bool:
        return self.path is not None and self.path.suffix.lower() in CONLLU_SUFFIXES

    @classmethod
    def open(cls, corpus, annotations: str | None, lenient: bool = False) -> CorpusSource:
        """Check the corpus and the annotations asked for; fingerprint and count a file."""
        if annotations not in (None, "gold", "spacy"):
            raise AttnWidgetError(f"annotations must be 'gold' or 'spacy', not {annotations!r}")
        if is_many(corpus):
            files = corpus if isinstance(corpus, CorpusFiles) else CorpusFiles([corpus])
            return cls(
                files.name,
                files.annotations(annotations),
                lenient=lenient,
                files=files,
                fingerprint=files.fingerprint(),
                total=files.count(lenient),
            )
        if isinstance(corpus, (str, Path)):
            path = Path(corpus)
            annotations = check_corpus_file(path, annotations)
            try:
                source = cls(str(path), annotations, path=path, lenient=lenient, fingerprint=file_fingerprint(path))
                source.total = source._count()
            except OSError as exc:
                raise AttnWidgetError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
            return source
        if isinstance(corpus, (bytes, Syntax, AnnotatedSentence)) or not hasattr(corpus, "__iter__"):
            raise AttnWidgetError(
                f"corpus must be a file path or an iterable of sentences, not {type(corpus).__name__}"
            )
        total = len(corpus) if hasattr(corpus, "__len__") else None
        return cls("<sentences>", annotations or "auto", items=corpus, lenient=lenient, total=total)

    def validate(self, progress: bool | None = None) -> None:
        """A strict run over a CoNLL-U file reads it through once before the model loads
        (:func:`attnwidget.text.syntax.validate_conllu`) and stops at
        its first invalid sentence, saying how many more there are. Plain text is checked
        while it is counted."""
        if not self.is_conllu or self.lenient:
            return
        errors = validate_conllu(self.path, progress=progress)
        if errors:
            first = errors[0]
            more = len(errors) - 1
            if more and hasattr(first, "add_note"):
                count = f"{more}{'+' if getattr(errors, 'truncated', False) else ''}"
                first.add_note(
                    f"({count} more invalid sentences in {self.path}: fix them, or skip them with "
                    "--lenient / lenient=True)"
                )
            raise first

    def entries(self) -> Iterator[Entry]:
        if self.files is not None:
            return self.files.entries(self.lenient)
        if self.path is None:
            return self._item_entries()
        if self.is_conllu:
            return self._conllu_entries()
        return self._text_entries()

    # -- files ------------------------------------------------------------------------

    def _count(self) -> int:
        """Entries in the file (for the progress bar and the manifest); a strict run also
        learns here of a line that is not UTF-8."""
        with open(self.path, "rb") as handle:
            if self.is_conllu:
                total, in_sentence = 0, False
                for line in handle:
                    blank = not line.strip()
                    total += in_sentence and blank
                    in_sentence = not blank
                return total + in_sentence
            total = 0
            for total, raw in enumerate(handle, start=1):
                if not self.lenient:
                    _decode(raw, self.path, total)
            return total

    def _conllu_entries(self) -> Iterator[Entry]:
        path = self.path
        sentences = iter_conllu(path, lenient=True) if self.lenient else iter_conllu(path)
        for index, syntax in enumerate(sentences):
            if isinstance(syntax, ConlluError):
                yield Entry(
                    index,
                    f"{path}, line {syntax.line}",
                    "",
                    invalid=conllu_detail(syntax, path),
                    invalid_reason=SKIP_INVALID_CONLLU,
                )
            else:
                yield Entry(index, f"{path}, line {syntax.meta.get('line', '?')}", syntax.text, syntax=syntax)

    def _text_entries(self) -> Iterator[Entry]:
        with open(self.path, "rb") as handle:
            for index, raw in enumerate(handle):
                where = f"{self.path}, line {index + 1}"
                try:
                    text = _decode(raw, self.path, index + 1)
                except AttnWidgetError as exc:
                    if not self.lenient:
                        raise
                    yield Entry(index, where, "", invalid=str(exc), invalid_reason=SKIP_INVALID_TEXT)
                    continue
                yield Entry(index, where, text)

    # -- iterables --------------------------------------------------------------------

    def _item_entries(self) -> Iterator[Entry]:
        annotations = self.annotations
        for index, item in enumerate(self.items):
            where = f"item {index}"
            if isinstance(item, AnnotatedSentence):
                if item.syntax is None and annotations != "spacy":
                    raise AttnWidgetError(
                        f"{where}: this AnnotatedSentence has no syntax; use annotations='spacy' to parse it"
                    )
                # Without syntax it is parsed again from its text.
                yield Entry(
                    index, where, item.text, syntax=item.syntax, sentence=item if item.syntax is not None else None
                )
            elif isinstance(item, Syntax):
                yield Entry(index, where, item.text, syntax=item)
            elif isinstance(item, str):
                if annotations == "gold":
                    raise AttnWidgetError(
                        f"{where}: gold annotations need CoNLL-U (a .conllu file or "
                        "Syntax objects); plain strings need annotations='spacy'"
                    )
                yield Entry(index, where, item)
            else:
                message = f"{where}: expected a string, Syntax or AnnotatedSentence, not {type(item).__name__}"
                if not self.lenient:
                    raise AttnWidgetError(message)
                yield Entry(index, where, "", invalid=message, invalid_reason=SKIP_NOT_A_SENTENCE)


def check_corpus_file(path: Path, annotations: str | None) -> str:
    """What can be wrong with a corpus file before it is read: missing, a folder, an unknown
    format, gold annotations asked of plain text, unreadable, empty. Returns the annotations
    it gets (gold for CoNLL-U unless asked otherwise, spaCy for text)."""
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "not found"
        raise AttnWidgetError(
            f"no corpus file at {str(path)!r} ({what}; give a .conllu or .txt file, or a list of sentences)"
        )
    suffix = path.suffix.lower()
    if suffix in CONLLU_SUFFIXES:
        annotations = annotations or "gold"
    elif suffix in TEXT_SUFFIXES:
        if annotations == "gold":
            raise AttnWidgetError(
                f"{path}: gold annotations need a CoNLL-U file (.conllu); for plain text use annotations='spacy'"
            )
        annotations = "spacy"
    else:
        raise AttnWidgetError(
            f"{path}: unknown corpus format {suffix or '(no suffix)'!r}; "
            "use .conllu (CoNLL-U) or .txt (one sentence per line)"
        )
    try:
        with path.open("rb") as f:
            empty = not f.read(1)
    except OSError as exc:
        raise AttnWidgetError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if empty:
        raise AttnWidgetError(f"the corpus {path} is an empty file: no sentences to analyse")
    return annotations


def _decode(raw: bytes, path: Path, line: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise AttnWidgetError(f"{path}, line {line}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def expected_entries(
    source: CorpusSource, max_sentences: int | None, shard_index: int, shard_count: int | None
) -> int | None:
    """Entries this run will account for (its shard's), for the progress bar; None if unknown."""
    total = source.total
    if total is not None and max_sentences is not None:
        total = min(total, max_sentences)
    if total is not None and shard_count:
        total = max(0, total - shard_index + shard_count - 1) // shard_count
    return total
