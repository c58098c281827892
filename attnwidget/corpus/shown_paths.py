"""Paths as a page or file written somewhere shows them: relative to its folder, so a
report moved with its analysis (or sent to someone) does not print the machine's layout."""

from __future__ import annotations

import os
from pathlib import Path

#: How CorpusSummary.merged_with joins the corpora of two merged analyses.
JOIN = " + "


#: The installed package's folder: its own data (the sample corpus) is shown as ``attnwidget/…``.
PACKAGE = Path(__file__).resolve().parents[1]


def relative_to(path: str, folder: str | Path | None) -> str:
    """``path`` seen from ``folder`` (each part of a merged ``"a + b"``); unchanged when the
    path is empty, or no relative path exists (another drive). With no ``folder`` (a summary
    printed in a notebook or a terminal): the package's own files as ``attnwidget/…``, files
    under the working folder relative to it, others as they are."""
    if not path:
        return path
    return JOIN.join(_relative(part, folder) for part in path.split(JOIN))


def _relative(path: str, folder: str | Path | None) -> str:
    absolute = Path(os.path.abspath(path))
    if folder is None:
        if absolute.is_relative_to(PACKAGE):
            return (Path(PACKAGE.name) / absolute.relative_to(PACKAGE)).as_posix()
        if not absolute.is_relative_to(Path.cwd()):
            return path
        folder = Path.cwd()
    try:
        return os.path.relpath(absolute, os.path.abspath(folder))
    except ValueError:  # Windows: another drive
        return path
