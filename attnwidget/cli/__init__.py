"""The ``attnwidget`` command: ``commands`` parses the command line, ``analyze`` runs
``attnwidget analyze``/``merge``, ``demo`` opens the standalone demo page."""

from __future__ import annotations

from attnwidget.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
