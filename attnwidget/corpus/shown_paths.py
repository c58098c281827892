"""Paths as a page or file written somewhere shows them: relative to its folder, so a
report moved with its analysis (or sent to someone) does not print the machine's layout."""

from __future__ import annotations

import os
from pathlib import Path

#: How CorpusSummary.merged_with joins the corpora of two merged analyses.
JOIN = " + "


def relative_to(path: str, folder: str | Path | None) -> str:
    """``path`` seen from ``folder`` (each part of a merged ``"a + b"``); unchanged when
    ``folder`` is None, the path is empty, or no relative path exists (another drive)."""
    if folder is None or not path:
        return path
    start = os.path.abspath(folder)
    parts = []
    for part in path.split(JOIN):
        try:
            parts.append(os.path.relpath(os.path.abspath(part), start))
        except ValueError:  # Windows: another drive
            parts.append(part)
    return JOIN.join(parts)
