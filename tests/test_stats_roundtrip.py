"""save/load is an exact round trip, even when the sums were built over many batches."""

from __future__ import annotations

import dataclasses

from attnwidget.analysis import analyze
from attnwidget.data import sample_corpus
from attnwidget.stats import AttentionStats


def test_many_batches_reload_bit_identical(minilm, tmp_path):
    stats = analyze(sample_corpus(36), model=minilm, annotations="spacy", batch_size=4, progress=False)
    loaded = AttentionStats.load(stats.save(tmp_path / "stats.npz"))
    assert loaded.to_frame().equals(stats.to_frame())  # exact, variability included
    assert loaded.exemplar_rows() == stats.exemplar_rows()
    assert dataclasses.asdict(loaded.summary) == dataclasses.asdict(stats.summary)
