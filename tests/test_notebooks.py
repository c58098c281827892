"""The tutorials in notebooks/ run top to bottom, offline, in a real kernel.

They run through ``docs/_site/executed.py``, which keeps the executed copy the
documentation site shows (while the notebook, the package and the libraries are
unchanged), so the docs build and this test share one run.
"""

from __future__ import annotations

import pytest

from tutorial_copies import executed_tutorials

TUTORIALS = executed_tutorials.tutorials()


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_offline(path):
    import nbformat

    nb = nbformat.read(executed_tutorials.executed(path), as_version=4)  # a failing cell raises here
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, errors
    assert [cell.source for cell in code] == [
        cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
    ], "the executed copy is not of this notebook"
    assert all(cell.get("execution_count") for cell in code if cell.source.strip()), "a cell did not run"
    assert "widgets" not in nb.metadata, "widget state was stored: a page of it would fetch a widget manager"


def test_every_tutorial_is_collected():
    assert len(TUTORIALS) >= 4, f"expected the four tutorials in notebooks/, found {[p.name for p in TUTORIALS]}"
