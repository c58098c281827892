"""analyze() trims the C heap between chunks, so a long pass keeps a flat resident size."""

from __future__ import annotations

import sys

import pytest

from attnwidget.corpus import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_returns_freed_heap_pages():
    import numpy as np

    def resident_kib() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4

    # Many mid-sized blocks (below glibc's mmap threshold, so they live on the heap), then
    # free all but the last: the free space stays resident until the heap is trimmed.
    blocks = [np.ones(16_000, dtype=np.float64) for _ in range(4_000)]  # ~500 MB
    del blocks[:-1]
    before = resident_kib()
    assert heap.trim_heap()
    assert before - resident_kib() > 200_000


def test_analyze_trims_between_chunks(minilm, monkeypatch):
    from attnwidget.corpus import analysis, run
    from attnwidget.data import sample_corpus

    calls = []
    monkeypatch.setattr(run, "trim_heap", lambda: calls.append(1) or True)
    monkeypatch.setattr(analysis, "CHUNK_BATCHES", 1)
    analysis.analyze(sample_corpus(12), model=minilm, annotations="spacy", batch_size=4, progress=False)
    assert len(calls) == 3  # one per chunk of 4 sentences (one batch each)
