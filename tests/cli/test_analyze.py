"""`attnwidget analyze` and `attnwidget merge` through the real command-line entry point."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from attnwidget.cli.commands import main
from attnwidget.corpus.stats import AttentionStats
from attnwidget.transformer.loading import OFFLINE_MODEL
from metrics_reference import assert_same_exemplars

SPEC_EXEMPLAR_FIELDS = {"layer", "head", "rank", "sentence", "text", "tokens", "i", "j", "weight"}


def run(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def whole(ewt_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole")
    assert (
        run(
            "analyze",
            ewt_path,
            "--model",
            OFFLINE_MODEL,
            "--out",
            out,
            "--max-sentences",
            12,
            "--device",
            "cpu",
            "--quiet",
        )
        == 0
    )
    return out


def test_analyze_writes_table_exemplars_stats_and_figures(whole):
    frame = pd.read_csv(whole / "metrics.csv", keep_default_na=False, na_values=[""])
    assert list(frame.columns) == ["metric", "layer", "head", "key", "value"]
    stats = AttentionStats.load(whole / "stats.npz")
    want = stats.to_frame()
    assert len(frame) == len(want)
    assert np.allclose(frame["value"], want["value"], equal_nan=True, rtol=1e-12, atol=0)
    assert frame.loc[frame.metric == "pos_frequency", "layer"].isna().all()
    rows = [json.loads(line) for line in (whole / "exemplars.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and all(set(r) == SPEC_EXEMPLAR_FIELDS for r in rows)
    assert {(r["layer"], r["head"]) for r in rows} == {(l, h) for l in range(6) for h in range(12)}
    assert all(r["tokens"][r["i"]] and r["i"] != r["j"] for r in rows)
    assert "12 sentences" in (whole / "summary.txt").read_text()
    pngs = sorted(p.name for p in (whole / "figures").glob("*.png"))
    assert "dep_align.png" in pngs and "first_token.png" in pngs


def test_shards_then_merge_equal_the_whole_run(whole, ewt_path, tmp_path):
    for i in range(2):
        assert (
            run(
                "analyze",
                ewt_path,
                "--model",
                OFFLINE_MODEL,
                "--out",
                tmp_path / f"s{i}",
                "--max-sentences",
                12,
                "--shard",
                f"{i}/2",
                "--device",
                "cpu",
                "--quiet",
                "--no-figures",
            )
            == 0
        )
    assert run("merge", tmp_path / "s1", tmp_path / "s0", "--out", tmp_path / "merged", "--no-figures") == 0
    merged = pd.read_csv(tmp_path / "merged" / "metrics.csv")
    want = pd.read_csv(whole / "metrics.csv")
    assert (merged[["metric", "key"]].fillna("") == want[["metric", "key"]].fillna("")).all().all()
    assert np.allclose(merged["value"], want["value"], equal_nan=True, atol=1e-6, rtol=1e-6)
    rows = lambda out: [json.loads(line) for line in (out / "exemplars.jsonl").read_text().splitlines()]
    assert_same_exemplars(rows(tmp_path / "merged"), rows(whole))


def test_malformed_conllu_exits_non_zero_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "broken.conllu"
    bad.write_text(
        "# text = Dogs bark\n1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_\n2\tbark\tbark\tVERB\t_\t_\tzero\troot\t_\t_\n",
        encoding="utf-8",
    )
    code = run("analyze", bad, "--model", OFFLINE_MODEL, "--out", tmp_path / "out", "--device", "cpu", "--quiet")
    err = capsys.readouterr().err
    assert code == 2
    assert "broken.conllu" in err and "line 3" in err and "HEAD" in err


def test_empty_corpus_and_bad_merge_inputs_exit_non_zero(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert run("analyze", empty, "--model", OFFLINE_MODEL, "--out", tmp_path / "o", "--device", "cpu", "--quiet") == 2
    assert "no sentences to analyse" in capsys.readouterr().err
    assert run("merge", tmp_path / "nowhere", "--out", tmp_path / "m") == 2
    assert "nowhere" in capsys.readouterr().err
    assert run("analyze", empty, "--out", tmp_path / "o", "--shard", "2/2") == 2
    assert "shard" in capsys.readouterr().err
