"""The tutorials' executed copies that the documentation site shows (``docs/_site/executed.py``),
for the tests that check them: the test command runs each tutorial once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SOURCE = Path(__file__).resolve().parents[1] / "docs" / "_site" / "executed.py"
_spec = importlib.util.spec_from_file_location("attnwidget_docs_executed", _SOURCE)
executed_tutorials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(executed_tutorials)
