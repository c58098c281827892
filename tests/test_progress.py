"""Long steps show progress (tqdm.auto, on stderr outside a notebook), and progress=False
silences them: loading a model, generating, exporting an explorer, the report, the demo."""

from __future__ import annotations

import io
import threading

import pytest

import tiny_models
from attnwidget.progress import bar, status
from attnwidget.transformer.loading import OFFLINE_MODEL, load_model


def test_loading_a_model_by_name_shows_a_status_line(capfd):
    load_model(OFFLINE_MODEL, device="cpu")
    err = capfd.readouterr().err
    assert f"loading model {OFFLINE_MODEL}" in err and "done in" in err
    load_model(OFFLINE_MODEL, device="cpu", progress=False)
    assert capfd.readouterr().err == ""


def test_a_failed_load_leaves_no_done_line_and_no_clock_running(capfd):
    with pytest.raises(Exception):
        load_model("/no/such/model/folder", device="cpu")
    err = capfd.readouterr().err
    assert "loading model /no/such/model/folder" in err and "done in" not in err
    assert not [t for t in threading.enumerate() if t.name == "attnwidget-status"]


def test_a_status_line_in_a_log_file_is_written_once_not_every_tick(monkeypatch):
    import time

    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    with status("waiting"):
        time.sleep(1.2)  # a terminal would see the clock move twice
    text = log.getvalue()
    assert text.count("waiting") == 2 and "done in 1." in text  # the start and the end


def test_generation_shows_a_bar_over_new_tokens(capfd):
    from attnwidget.transformer.generation import generate_attention

    model = load_model(tiny_models.tiny_gpt2_lm(), device="cpu", progress=False)
    gen = generate_attention(model, "The cat", max_new_tokens=4, min_new_tokens=4)
    err = capfd.readouterr().err
    assert gen.num_generated == 4 and "generating" in err and "4/4" in err
    generate_attention(model, "The cat", max_new_tokens=2, progress=False)
    assert capfd.readouterr().err == ""


def test_the_report_command_shows_progress_unless_quiet(ewt_path, tmp_path, capfd):
    from attnwidget.cli.commands import main

    folder = tmp_path / "analysis"
    assert (
        main(
            [
                "analyze",
                str(ewt_path),
                "--out",
                str(folder),
                "--max-sentences",
                "6",
                "--quiet",
                "--no-figures",
                "--model",
                OFFLINE_MODEL,
            ]
        )
        == 0
    )
    capfd.readouterr()
    assert main(["report", str(folder), "-o", str(tmp_path / "r.html"), "--model", OFFLINE_MODEL]) == 0
    err = capfd.readouterr().err
    assert f"loading model {OFFLINE_MODEL}" in err and "exemplar attention" in err and "figures" in err
    assert main(["report", str(folder), "-o", str(tmp_path / "q.html"), "--quiet"]) == 0
    assert capfd.readouterr().err.strip().startswith("wrote ")


def test_the_demo_shows_progress_unless_asked_not_to(tmp_path, capfd):
    from attnwidget.cli.demo import demo

    demo(out=tmp_path / "a.html")
    assert f"loading model {OFFLINE_MODEL}" in capfd.readouterr().err
    demo(out=tmp_path / "b.html", progress=False)
    assert capfd.readouterr().err == ""


def test_bar_off_is_silent(capfd):
    for _ in bar(range(3), desc="x", enabled=False):
        pass
    assert capfd.readouterr().err == ""


def test_tqdm_disable_silences_the_notebook_bars_too(monkeypatch):
    """In a kernel tqdm.auto is tqdm.notebook, which passes disable=False over TQDM_DISABLE
    (executed notebooks, such as the docs site's tutorials, would keep frozen bars)."""
    import tqdm.auto
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr(tqdm.auto, "tqdm", notebook_tqdm)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert bar(total=1, desc="x").disable
    with status("loading"):  # no widget displayed, no clock started
        assert not [t for t in threading.enumerate() if t.name == "attnwidget-status"]
