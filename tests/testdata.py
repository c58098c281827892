"""Paths of the data the tests read (importable from any test module)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
EWT_DEV = REPO.parent / "shared" / "data" / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
HARD_CASES = TESTS / "data" / "hard_cases.conllu"
CLEAN = TESTS / "data" / "clean.conllu"  # valid: a multiword token, an empty node, no # text
ODD_UNICODE = TESTS / "data" / "odd_unicode.conllu"  # NFD, emoji ZWJ sequences, RTL, Indic
