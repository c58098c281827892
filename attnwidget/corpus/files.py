"""A corpus of many files: paths and globs, plain or gzip, CoNLL-U, plain text or JSON Lines.

A corpus at scale comes as many files (``wiki-*.jsonl.gz``), not one. :class:`CorpusFiles`
reads them in the order given (each glob's matches sorted by name) as one stream of
:class:`~attnwidget.corpus.Entry`, numbered across the files, one file open at a time, so
memory stays flat whatever the corpus size. The format of each file is its suffix, after
an optional ``.gz``: ``.conllu``/``.conll`` (gold syntax), ``.txt`` (one sentence per line)
or ``.jsonl``/``.ndjson`` (one JSON object per line; its ``text_field`` is the sentence).

The fingerprint of the whole is that of the list of the files' fingerprints, so a resumed
run or a merge knows the same corpus from a changed one.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import AttnWidgetError, ConlluError
from ..text.syntax import iter_conllu
from .entries import (
    CONLLU_SUFFIXES,
    SKIP_INVALID_CONLLU,
    SKIP_INVALID_TEXT,
    TEXT_SUFFIXES,
    Entry,
    conllu_detail,
)
from .fingerprint import file_fingerprint, hasher

JSONL_SUFFIXES = (".jsonl", ".ndjson")
SKIP_INVALID_JSON = "not a JSON object with the text field"
_GLOB_CHARS = "*?["


def kind_of(path: Path) -> str | None:
    """``conllu``, ``text`` or ``jsonl`` from the file's suffix (``.gz`` looked through); None if unknown."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in CONLLU_SUFFIXES:
        return "conllu"
    if last in TEXT_SUFFIXES:
        return "text"
    if last in JSONL_SUFFIXES:
        return "jsonl"
    return None


def is_many(corpus) -> bool:
    """Whether ``corpus`` is for :class:`CorpusFiles`: one already, a glob, a gzip or JSON Lines
    file (a single ``.conllu``/``.txt`` file stays with :class:`~attnwidget.corpus.CorpusSource`)."""
    if isinstance(corpus, CorpusFiles):
        return True
    if not isinstance(corpus, (str, Path)):
        return False
    text = str(corpus)
    return any(c in text for c in _GLOB_CHARS) or Path(text).suffix.lower() in (".gz", *JSONL_SUFFIXES)


@dataclass
class CorpusFiles:
    """The files of ``patterns`` (paths or globs), read as one corpus.

    ``text_field``: the key of the sentence in each JSON Lines object."""

    patterns: list[str]
    text_field: str = "text"
    paths: list[Path] = field(default_factory=list)

    def __post_init__(self):
        if isinstance(self.patterns, (str, Path)):
            self.patterns = [self.patterns]
        self.patterns = [str(p) for p in self.patterns]
        if not self.patterns:
            raise AttnWidgetError("no corpus files given")
        if not self.paths:
            self.paths = self._expand()

    @property
    def name(self) -> str:
        return " ".join(self.patterns)

    @property
    def kinds(self) -> set[str]:
        return {kind_of(p) for p in self.paths}

    def _expand(self) -> list[Path]:
        paths: list[Path] = []
        for pattern in self.patterns:
            if any(c in pattern for c in _GLOB_CHARS):
                found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
                if not found:
                    raise AttnWidgetError(f"no corpus file matches {pattern!r}")
            else:
                path = Path(pattern)
                if not path.is_file():
                    what = "a folder, not a file" if path.is_dir() else "not found"
                    raise AttnWidgetError(f"no corpus file at {pattern!r} ({what})")
                found = [path]
            for path in found:
                if kind_of(path) is None:
                    raise AttnWidgetError(
                        f"{path}: unknown corpus format; use .conllu (CoNLL-U), .txt (one "
                        "sentence per line) or .jsonl (JSON Lines), each optionally .gz"
                    )
            paths += found
        seen = set()
        for path in paths:
            if path.resolve() in seen:
                raise AttnWidgetError(f"{path} is given twice: each file may be read once")
            seen.add(path.resolve())
        return paths

    def annotations(self, asked: str | None) -> str:
        """Gold when every file is CoNLL-U (unless spaCy is asked for); gold is refused otherwise."""
        if self.kinds == {"conllu"}:
            return asked or "gold"
        if asked == "gold":
            raise AttnWidgetError(
                f"{self.name}: gold annotations need CoNLL-U files (.conllu); "
                "for plain text or JSON Lines use annotations='spacy'"
            )
        return "spacy"

    def fingerprint(self) -> str:
        """``blake2b:<hex>`` of the files' fingerprints, in order."""
        h = hasher()
        for path in self.paths:
            try:
                h.update(file_fingerprint(path).encode())
            except OSError as exc:
                raise AttnWidgetError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
            h.update(b"\x1e")
        return f"blake2b:{h.hexdigest()}"

    # -- reading ---------------------------------------------------------------------

    def entries(self, lenient: bool = False) -> Iterator[Entry]:
        """Every file's entries in order, indices running on across files."""
        index = 0
        for path in self.paths:
            for entry in self._file_entries(path, lenient):
                entry.index = index
                index += 1
                yield entry

    def count(self, lenient: bool = False) -> int:
        """Entries in all the files (one cheap pass: no parsing beyond finding the entries)."""
        total = 0
        for path in self.paths:
            with _open_binary(path) as handle:
                if kind_of(path) == "conllu":
                    in_sentence = False
                    for line in handle:
                        blank = not line.strip()
                        total += in_sentence and blank
                        in_sentence = not blank
                    total += in_sentence
                else:
                    total += sum(1 for _ in handle)
        return total

    def _file_entries(self, path: Path, lenient: bool) -> Iterator[Entry]:
        kind = kind_of(path)
        with _open_binary(path) as handle:
            if kind == "conllu":
                text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
                for syntax in iter_conllu(text, str(path), lenient=lenient):
                    if isinstance(syntax, ConlluError):
                        yield Entry(
                            -1,
                            f"{path}, line {syntax.line}",
                            "",
                            invalid=conllu_detail(syntax, path),
                            invalid_reason=SKIP_INVALID_CONLLU,
                        )
                    else:
                        yield Entry(-1, f"{path}, line {syntax.meta.get('line', '?')}", syntax.text, syntax=syntax)
                return
            for number, raw in enumerate(handle, start=1):
                where = f"{path}, line {number}"
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    message = f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start})"
                    if not lenient:
                        raise AttnWidgetError(message) from None
                    yield Entry(-1, where, "", invalid=message, invalid_reason=SKIP_INVALID_TEXT)
                    continue
                if kind == "text":
                    yield Entry(-1, where, line)
                    continue
                text, problem = self._json_text(line)
                if problem is None:
                    yield Entry(-1, where, text)
                elif not line.strip():
                    yield Entry(-1, where, "")  # a blank line: skipped as blank, like a text file's
                elif lenient:
                    yield Entry(-1, where, "", invalid=f"{where}: {problem}", invalid_reason=SKIP_INVALID_JSON)
                else:
                    raise AttnWidgetError(f"{where}: {problem} (skip such lines with --lenient / lenient=True)")

    def _json_text(self, line: str) -> tuple[str, str | None]:
        try:
            record = json.loads(line)
        except ValueError as exc:
            return "", f"not JSON ({exc})"
        if not isinstance(record, dict):
            return "", f"a JSON {type(record).__name__}, not an object"
        text = record.get(self.text_field)
        if not isinstance(text, str):
            keys = ", ".join(list(record)[:8])
            return "", (
                f"no string {self.text_field!r} field (it has {keys or 'no fields'}; choose another "
                "with --text-field / text_field=)"
            )
        return text, None


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed if it is gzip (known by its magic number, not its name)."""
    with open(path, "rb") as handle:
        if handle.peek(2)[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield unzipped
        else:
            yield handle
