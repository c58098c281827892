"""The tutorials in notebooks/ run top to bottom, offline, in a real kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Notebooks driven by the browser tests rather than executed here.
BROWSER_ONLY = {"widget_e2e.ipynb"}
TUTORIALS = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.name not in BROWSER_ONLY)


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_offline(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("ATTNWIDGET_TUTORIAL_OUT", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors


def test_every_tutorial_is_collected():
    assert len(TUTORIALS) >= 4, f"expected the four tutorials in {NOTEBOOKS}, found {[p.name for p in TUTORIALS]}"
