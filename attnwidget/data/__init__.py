"""Data that ships with attnwidget (written for the project; see README.md here)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from attnwidget.keywords import checked_keywords

SAMPLE_SENTENCE = "The keys to the old cabinet in the hallway are missing, but nobody seems worried."


def sample_corpus_path() -> Path:
    """Path of the bundled sample corpus: one English sentence per line."""
    return Path(str(resources.files(__name__) / "sample_corpus.txt"))


def sample_gold_path() -> Path:
    """Path of a hand-made gold UD v2 annotation (CoNLL-U) of the first 40 sample sentences."""
    return Path(str(resources.files(__name__) / "sample_gold.conllu"))


@checked_keywords
def sample_corpus(limit: int | None = None) -> list[str]:
    """The bundled sample sentences (a few hundred, varied constructions)."""
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    return lines[:limit] if limit is not None else lines
