"""One corpus entry and the names of what can be wrong with one: shared by ``reader`` (one
file or an iterable) and ``files`` (many files, globs, gzip, JSON Lines)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attnwidget.errors import ConlluError
from attnwidget.text.sentence import AnnotatedSentence
from attnwidget.text.syntax import Syntax

CONLLU_SUFFIXES = (".conllu", ".conll")
TEXT_SUFFIXES = (".txt",)
SKIP_INVALID_CONLLU = "invalid CoNLL-U"
SKIP_INVALID_TEXT = "not valid UTF-8"
SKIP_NOT_A_SENTENCE = "not a sentence"


@dataclass
class Entry:
    """One corpus entry: its index in the corpus, where it came from, and its content
    (``invalid``: why it could not be read, in lenient mode)."""

    index: int
    where: str  # "file, line N" or "item N", for messages
    text: str
    syntax: Syntax | None = None
    sentence: AnnotatedSentence | None = None
    invalid: str | None = None
    invalid_reason: str = ""
    duplicate: bool | None = None  # already known (a cluster's driver sees every entry); None: prepare finds out


def conllu_detail(error: ConlluError, path: Path) -> str:
    """ "file, line N, sent_id X: reason" of an invalid sentence."""
    parts = [str(getattr(error, "source", None) or path)]
    if getattr(error, "line", None) is not None:
        parts.append(f"line {error.line}")
    if getattr(error, "sent_id", None):
        parts.append(f"sent_id {error.sent_id}")
    return f"{', '.join(parts)}: {getattr(error, 'reason', None) or error}"
