"""The command line answers at once: help with no heavy import, bad input before any model loads.

Each case runs the real command in a fresh interpreter with ``-X importtime``, which lists
every module the process imported; how long it took is bench work, not a test's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from testdata import REPO

#: What takes seconds to import (torch alone 1-3 s) and is not needed to parse a command line.
HEAVY = ("torch", "transformers", "spacy", "pandas", "numba", "matplotlib", "numpy", "anywidget")


def run_cli(*args, cwd=None) -> tuple[int, str, set[str]]:
    """(exit code, stderr without the import lines, the top-level modules imported)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "attnwidget.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    imported, messages = set(), []
    for line in proc.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", line)
        if found:
            imported.add(found.group(1).split(".")[0])
        elif not line.startswith("import time:"):
            messages.append(line)
    return proc.returncode, proc.stdout + "\n".join(messages), imported


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("analyze", "--help"),
        ("demo", "--help"),
        ("report", "--help"),
        ("merge", "--help"),
        ("tokens", "--help"),
    ],
)
def test_help_imports_nothing_heavy(args):
    code, out, imported = run_cli(*args)
    assert code == 0, out
    assert "usage: attnwidget" in out
    assert not imported & set(HEAVY), f"--help imported {sorted(imported & set(HEAVY))}"


def test_help_still_shows_the_defaults_it_takes_from_the_model_and_analysis_modules():
    from attnwidget.corpus.analysis import CHECKPOINT_SECONDS
    from attnwidget.transformer.loading import OFFLINE_MODEL

    code, out, _ = run_cli("analyze", "--help")
    out = "".join(out.split())  # argparse wraps the lines, also after a hyphen
    assert code == 0
    assert f"default:{OFFLINE_MODEL}" in out
    assert f"default{CHECKPOINT_SECONDS:g}" in out


def _fails_before_torch(tmp_path, *args, expect: str) -> None:
    code, out, imported = run_cli("analyze", *args, cwd=tmp_path)
    assert code == 2, out
    assert re.search(expect, out), out
    assert "torch" not in imported and "transformers" not in imported, "checked only after importing torch"
    assert "Traceback" not in out


def test_a_missing_corpus_fails_before_torch_is_imported(tmp_path):
    _fails_before_torch(tmp_path, "missing.conllu", "--out", "o", expect=r"missing\.conllu.*not found")


def test_an_empty_or_unusable_corpus_fails_before_torch_is_imported(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    _fails_before_torch(tmp_path, "empty.txt", "--out", "o", expect=r"empty\.txt is an empty file: no sentences")
    (tmp_path / "folder.conllu").mkdir()
    _fails_before_torch(tmp_path, "folder.conllu", "--out", "o", expect="a folder, not a file")
    (tmp_path / "corpus.csv").write_text("a,b\n", encoding="utf-8")
    _fails_before_torch(tmp_path, "corpus.csv", "--out", "o", expect="unknown corpus format '.csv'")
    (tmp_path / "plain.txt").write_text("Dogs bark.\n", encoding="utf-8")
    _fails_before_torch(
        tmp_path, "plain.txt", "--annotations", "gold", "--out", "o", expect="gold annotations need a CoNLL-U file"
    )


@pytest.mark.parametrize(
    ("options", "expect"),
    [
        (("--batch-size", "0"), "--batch-size must be at least 1"),
        (("--max-sentences", "0"), "--max-sentences must be at least 1"),
        (("--shard", "4/4"), r"shard 4/4: I must be 0"),
        (("--shard", "half"), "shard must look like I/N"),
        (("--min-attention", "1.5"), r"min_attention must be in \[0, 1\)"),
        (("--exemplars", "-1"), "exemplars must be a whole number"),
        (("--resume", "--restart"), "choose one"),
    ],
)
def test_bad_options_fail_before_torch_is_imported(tmp_path, options, expect):
    (tmp_path / "plain.txt").write_text("Dogs bark.\n", encoding="utf-8")
    _fails_before_torch(tmp_path, "plain.txt", "--out", "o", *options, expect=expect)
