"""The built wheel carries the JS bundle and the sample corpus; the sdist carries the bundle
too, so a wheel builds from it offline with no Node.js; the version is consistent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_bundle_and_data(tmp_path):
    if not (REPO / "attnwidget" / "static" / "widget.js").exists():
        pytest.fail("attnwidget/static/widget.js is missing: the hatch build hook did not run")
    env = {**os.environ, "ATTNWIDGET_SKIP_JS": "1"}  # reuse the bundle just built
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
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


BUNDLES = ("widget.js", "standalone.js", "explorer.js")

# In the fresh environment: the installed package, not the checkout, holds a bundle the widget uses.
CHECK_INSTALLED = """
import sys
from pathlib import Path
import attnwidget
from attnwidget import AttentionWidget
package = Path(attnwidget.__file__).parent
assert Path(sys.prefix) in package.parents, f"imported {package}, not the fresh install under {sys.prefix}"
for name in ("widget.js", "standalone.js", "explorer.js"):
    assert (package / "static" / name).stat().st_size > 10_000, name
assert AttentionWidget._esm == (package / "static" / "widget.js").read_text(encoding="utf-8")
print(package)
"""


def _run(args, **kwargs):
    """Run a build step; on failure show its own output, not just the exit status."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


@pytest.mark.slow
def test_sdist_builds_a_working_wheel_offline_without_node(tmp_path):
    """The sdist carries the built bundle; a wheel built from it with no npm on PATH and no
    package index installs into a fresh environment and serves that bundle."""
    if not all((REPO / "attnwidget" / "static" / name).exists() for name in BUNDLES):
        pytest.fail("attnwidget/static/ lacks the bundles: the hatch build hook did not run")
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ATTNWIDGET_SKIP_JS", "ATTNWIDGET_BUILD_JS")}
    # The sdist, from the checkout (reusing the bundle built at install, as scripts/test.sh leaves it).
    _run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", tmp_path / "dist", REPO],
        env={**base, "ATTNWIDGET_SKIP_JS": "1"},
    )
    (sdist,) = (tmp_path / "dist").glob("attnwidget-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        tar.extractall(tmp_path / "src", filter="data")
    assert {f"attnwidget/static/{name}" for name in BUNDLES} <= names
    assert "js/package.json" in names and "PKG-INFO" in names
    assert not any(name.startswith("js/node_modules/") for name in names)
    (unpacked,) = (tmp_path / "src").iterdir()

    # A PATH holding only this Python: no node, no npm; pip may not reach any index.
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    assert shutil.which("npm", path=str(bare)) is None and shutil.which("node", path=str(bare)) is None
    offline = {**base, "PATH": str(bare), "PIP_NO_INDEX": "1"}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            tmp_path / "wheels",
            unpacked,
        ],
        env=offline,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "wheels").glob("attnwidget-*.whl")
    assert {f"attnwidget/static/{name}" for name in BUNDLES} <= set(zipfile.ZipFile(wheel).namelist())

    # A fresh environment that sees the installed dependencies but not the checkout.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
        env=offline,
        cwd=tmp_path,
    )
    done = _run([python, "-c", CHECK_INSTALLED], env=offline, cwd=tmp_path)
    assert Path(done.stdout.strip()).is_relative_to(venv)
