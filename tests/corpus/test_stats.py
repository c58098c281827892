"""AttentionStats: tidy table, accessors, Clark's table, save/load, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.coverage import Coverage, CoverageOverlapError
from attnwidget.corpus.metrics import BASELINE_OFFSETS
from attnwidget.corpus.plots import save_figures
from attnwidget.corpus.stats import METRICS, AttentionStats


@pytest.fixture(scope="module")
def stats(minilm, ewt_path):
    return analyze(ewt_path, model=minilm, max_sentences=16, progress=False)


def test_tidy_table_has_spec_columns_and_every_metric(stats):
    frame = stats.to_frame()
    assert list(frame.columns) == ["metric", "layer", "head", "key", "value"]
    assert set(frame["metric"]) == set(METRICS)
    corpus = frame[frame["metric"].isin(["dep_align_baseline", "pos_frequency", "head_accuracy_baseline"])]
    assert corpus["layer"].isna().all() and corpus["head"].isna().all()
    heads = frame[~frame.index.isin(corpus.index)]
    assert heads["layer"].notna().all() and heads["layer"].max() == 5 and heads["head"].max() == 11
    # per-head shares of a keyed metric sum to one over the keys
    pos_to = frame[frame.metric == "pos_to"].groupby(["layer", "head"])["value"].sum()
    assert np.allclose(pos_to, 1.0)
    assert np.isclose(frame[frame.metric == "pos_frequency"]["value"].sum(), 1.0)


def test_accessors_agree_with_the_table(stats):
    frame = stats.to_frame()
    noun = frame[(frame.metric == "pos_to") & (frame.key == "NOUN")]
    grid = stats.values("pos_to", "NOUN")
    assert grid.shape == (6, 12)
    assert np.allclose(grid[noun["layer"].to_numpy(int), noun["head"].to_numpy(int)], noun["value"])
    table = stats.table("entropy")
    assert table.index.name == "layer" and table.columns.name == "head"
    assert np.allclose(table.to_numpy(), stats.values("entropy"))
    assert stats.baseline("dep_align_baseline").index.tolist() == ["child_to_parent", "parent_to_child", "either"]
    with pytest.raises(ValueError, match="needs a key"):
        stats.values("pos_to")
    with pytest.raises(KeyError, match="no key"):
        stats.values("pos_to", "NOPE")
    with pytest.raises(KeyError, match="unknown metric"):
        stats.values("attention")
    # pooled per layer = Σ numerators / Σ denominators over the layer's heads
    mass = stats.sums.sums["mass"].numpy()
    per_layer = (stats.values("distance") * mass).sum(1) / mass.sum(1)
    assert np.allclose(stats.by_layer("distance"), per_layer)


def test_head_accuracy_table_is_clarks_table_1(stats):
    table = stats.head_accuracy_table()
    assert list(table.columns) == [
        "relation",
        "count",
        "direction",
        "layer",
        "head",
        "best_head",
        "accuracy",
        "baseline",
        "baseline_offset",
    ]
    assert table.iloc[0]["relation"] == "ALL"
    assert "punct" not in set(table["relation"]) and "root" not in set(table["relation"])
    assert set(table["baseline_offset"]) <= set(BASELINE_OFFSETS)
    frame = stats.to_frame()
    for row in table.itertuples():
        key = f"{row.relation}:{row.direction}"
        best = frame[(frame.metric == "head_accuracy") & (frame.key.str.rsplit(":", n=1).str[0] == row.relation)]
        assert row.accuracy == pytest.approx(best["value"].max())
        cell = frame[
            (frame.metric == "head_accuracy")
            & (frame.key == key)
            & (frame["layer"] == row.layer)
            & (frame["head"] == row.head)
        ]
        assert cell["value"].item() == pytest.approx(row.accuracy)
        base = frame[(frame.metric == "head_accuracy_baseline") & (frame.key == row.relation)]
        assert base["value"].item() == pytest.approx(row.baseline)
    one_way = stats.head_accuracy_table("head_to_dependent")
    assert set(one_way["direction"]) == {"head_to_dependent"}


def test_summary(stats):
    s = stats.summary
    assert (s.sentences, s.entries, s.interrupted) == (16, 16, False)
    assert s.tokens > s.annotated_tokens > 0
    assert "16 sentences" in s.describe() and "INTERRUPTED" not in s.describe()
    assert "16 sentences" in repr(stats)


def test_save_and_load_round_trip_exactly(stats, tmp_path):
    path = stats.save(tmp_path / "stats.npz")
    loaded = AttentionStats.load(path)
    pd.testing.assert_frame_equal(loaded.to_frame(), stats.to_frame(), check_exact=True)
    assert loaded.exemplar_rows() == stats.exemplar_rows()
    assert loaded.summary == stats.summary
    for name, value in stats.sums.sums.items():
        assert np.array_equal(loaded.sums.sums[name].numpy(), value.cpu().numpy()), name
    assert loaded.summary.coverage == stats.summary.coverage and loaded.summary.coverage
    # a loaded object still merges; with itself only when told the two are different corpora
    with pytest.raises(CoverageOverlapError, match="both parts cover entries 0–15"):
        loaded.merge(stats)
    twice = loaded.merge(stats, different_corpora=True)
    assert twice.summary.sentences == 32 and twice.summary.entries == 32
    assert twice.summary.coverage == Coverage.range(0, 32)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(ValueError, match="not a saved AttentionStats"):
        AttentionStats.load(path)


@pytest.mark.parametrize(
    ("metric", "key"),
    [
        ("first_token", None),
        ("pos_to", "NOUN"),
        ("pos_to", None),
        ("pos_from", "VERB"),
        ("dep_align", None),
        ("dep_to", None),
        ("dep_to", "nsubj"),
        ("distance", None),
        ("entropy", None),
        ("variability", None),
        ("head_accuracy", "ALL:dependent_to_head"),
    ],
)
def test_plots_draw_the_paper_figure_forms(stats, metric, key):
    fig = stats.plot(metric, key)
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    if metric == "dep_align" or (metric == "dep_to" and key is None):
        lines = axes[0].get_lines()
        assert len(axes[0].get_xticks()) == 6 and len(lines) >= 2
        if metric == "dep_align":  # a dashed baseline per direction
            assert sum(line.get_linestyle() == "--" for line in lines) == 3
    else:
        images = [im for ax in axes for im in ax.get_images()]
        assert images and images[0].get_array().shape == (6, 12)
    plt.close(fig)


def test_save_figures_writes_pngs(stats, tmp_path):
    paths = save_figures(stats, tmp_path)
    assert {p.name for p in paths} >= {"first_token.png", "dep_align.png", "variability.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
