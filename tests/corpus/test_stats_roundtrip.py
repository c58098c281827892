"""save/load is an exact round trip, even when the sums were built over many batches."""

from __future__ import annotations

import dataclasses

from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.stats import AttentionStats
from attnwidget.data import sample_corpus


def test_many_batches_reload_bit_identical(minilm, tmp_path):
    stats = analyze(sample_corpus(36), model=minilm, annotations="spacy", batch_size=4, progress=False)
    loaded = AttentionStats.load(stats.save(tmp_path / "stats.npz"))
    assert loaded.to_frame().equals(stats.to_frame())  # exact, variability included
    assert loaded.exemplar_rows() == stats.exemplar_rows()
    assert dataclasses.asdict(loaded.summary) == dataclasses.asdict(stats.summary)


def test_cells_spilled_to_disk_change_nothing(minilm, tmp_path, monkeypatch):
    """Variability's kept cells go to a temporary file past a memory budget (so memory does
    not grow with the corpus); values, save/load and merge are the same as all in memory."""
    from attnwidget.corpus import variability_cells as cells

    texts = sample_corpus(40)
    in_memory = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False)
    assert not in_memory.sums.cells._spilled
    monkeypatch.setattr(cells, "SPILL_BYTES", 1)  # every chunk goes to the file
    spilled = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False)
    store = spilled.sums.cells
    assert store._spilled and not store._memory and len(store) == len(in_memory.sums.cells)
    assert spilled.to_frame().equals(in_memory.to_frame())
    loaded = AttentionStats.load(spilled.save(tmp_path / "spilled.npz"))
    assert loaded.to_frame().equals(in_memory.to_frame())
    first = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False, shard="0/2")
    second = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False, shard="1/2")
    monkeypatch.setattr(cells, "SPILL_BYTES", 8 << 20)
    kept_first = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False, shard="0/2")
    kept_second = analyze(texts, model=minilm, annotations="spacy", batch_size=4, progress=False, shard="1/2")
    assert first.merge(second).to_frame().equals(kept_first.merge(kept_second).to_frame())


def test_cell_store_checks_shapes():
    import numpy as np
    import pytest

    from attnwidget.corpus.variability_cells import CellStore

    store = CellStore(2, 3)
    with pytest.raises(ValueError, match="2 layers × 3 heads"):
        store.append(np.zeros((4, 3, 2), np.float32), np.zeros(4, np.int16))
    store.append(np.zeros((0, 2, 3), np.float32), np.zeros(0, np.int16))
    assert len(store) == 0 and store.cells == 0
    values, ids, chunks = store.arrays()
    assert values.shape == (0, 2, 3) and ids.shape == (0,) and chunks.shape == (0,)
