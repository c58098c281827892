"""The built wheel carries the JS bundle and the sample corpus; the version is consistent."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_bundle_and_data(tmp_path):
    if not (REPO / "attnwidget" / "static" / "widget.js").exists():
        pytest.fail("attnwidget/static/widget.js is missing: the hatch build hook did not run")
    env = {**__import__("os").environ, "ATTNWIDGET_SKIP_JS": "1"}  # reuse the bundle just built
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)],
        check=True,
        env=env,
    )
    (wheel,) = tmp_path.glob("attnwidget-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "attnwidget/static/widget.js" in names
    assert "attnwidget/static/explorer.js" in names
    assert "attnwidget/data/sample_gold.conllu" in names
    assert "attnwidget/data/sample_corpus.txt" in names
    assert not any(n.startswith(("js/", "tests/")) for n in names)


def test_version_matches_pyproject():
    import tomllib

    import attnwidget

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert attnwidget.__version__ == project["version"]
