"""analyze() on real sentences and real models, against the per-pair reference loop;
invariance to batch size, shards and device; bad input; interrupts."""

from __future__ import annotations

import os
import signal
from itertools import islice

import numpy as np
import pytest
import torch

from attnwidget.corpus.analysis import analyze
from attnwidget.corpus.coverage import Coverage, CoverageOverlapError
from attnwidget.errors import AttnWidgetError, ConlluError, TooLongError
from attnwidget.text.sentence import align
from attnwidget.text.syntax import iter_conllu
from attnwidget.transformer.forward import attention
from metrics_reference import assert_same_exemplars, compare_frames, reference_exemplars, reference_frame

N_SENTENCES = 36


def reference_items(model, path, n):
    """(index, sentence, attention) of the first n corpus sentences that fit the window."""
    kept = []
    for index, syntax in enumerate(islice(iter_conllu(path), n)):
        try:
            kept.append((index, align(syntax, model)))
        except TooLongError:
            continue
    arrays = attention(model, [s for _, s in kept], batch_size=8)
    return [(index, s, a) for (index, s), a in zip(kept, arrays)]


@pytest.fixture(scope="module", params=["minilm", "gpt2_small"])
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def items(model, ewt_path):
    return reference_items(model, ewt_path, N_SENTENCES)


@pytest.mark.parametrize("min_attention", [None, 0.3])
def test_every_metric_matches_the_reference_loop(model, ewt_path, items, min_attention, metrics_code):
    stats = analyze(
        ewt_path, model=model, max_sentences=N_SENTENCES, batch_size=8, min_attention=min_attention, progress=False
    )
    assert stats.summary.sentences == len(items)
    want = reference_frame([(s, a) for _, s, a in items], model.is_causal, min_attention)
    compare_frames(stats.to_frame(), want)


def test_exemplars_match_the_reference(model, ewt_path, items, metrics_code):
    stats = analyze(ewt_path, model=model, max_sentences=N_SENTENCES, batch_size=8, progress=False)
    want = reference_exemplars(
        [(s, a) for _, s, a in items], model.is_causal, k=3, ids=[index for index, _, _ in items]
    )
    for (layer, head), ranked in want.items():
        got = stats.exemplars(layer, head)
        assert [(r["sentence"], r["i"], r["j"]) for r in got] == [x[:3] for x in ranked]
        assert [r["weight"] for r in got] == pytest.approx([x[3] for x in ranked], abs=1e-6)
        for r in got:
            sentence = next(s for index, s, _ in items if index == r["sentence"])
            assert r["text"] == sentence.text and r["tokens"] == sentence.tokens


def test_batch_size_does_not_change_the_result(minilm, ewt_path):
    one = analyze(ewt_path, model=minilm, max_sentences=20, batch_size=1, progress=False)
    many = analyze(ewt_path, model=minilm, max_sentences=20, batch_size=7, progress=False)
    compare_frames(many.to_frame(), one.to_frame(), atol=1e-6, rtol=1e-6)
    assert [r["sentence"] for r in one.exemplar_rows()] == [r["sentence"] for r in many.exemplar_rows()]


def test_small_batches_are_joined_for_the_tensor_metrics_only(minilm, ewt_path, monkeypatch):
    from attnwidget.corpus.metrics import HeadSums

    widths = []
    real_update = HeadSums.update

    def update(self, attention, *args, **kwargs):
        widths.append(attention.shape[0])
        return real_update(self, attention, *args, **kwargs)

    monkeypatch.setattr(HeadSums, "update", update)
    monkeypatch.setattr("attnwidget.corpus.metrics.FUSED_ON_CPU", False)
    joined = analyze(ewt_path, model=minilm, max_sentences=24, batch_size=2, progress=False)
    assert len(widths) < 12 and sum(widths) == 24  # forward batches of 2, joined for the metrics
    widths.clear()
    monkeypatch.setattr("attnwidget.corpus.run._joined_bytes", lambda batches: float("inf"))  # never join
    apart = analyze(ewt_path, model=minilm, max_sentences=24, batch_size=2, progress=False)
    assert widths == [2] * 12
    compare_frames(joined.to_frame(), apart.to_frame(), atol=1e-6, rtol=1e-6)
    assert_same_exemplars(joined.exemplar_rows(), apart.exemplar_rows())
    # The CPU's compiled pass has no fixed cost per batch to share: joining would only copy.
    widths.clear()
    monkeypatch.undo()
    monkeypatch.setattr(HeadSums, "update", update)
    fused = analyze(ewt_path, model=minilm, max_sentences=24, batch_size=2, progress=False)
    assert widths == [2] * 12
    compare_frames(fused.to_frame(), apart.to_frame(), atol=1e-6, rtol=1e-6)
    assert_same_exemplars(fused.exemplar_rows(), apart.exemplar_rows())


def test_shards_merge_to_the_whole(gpt2_small, ewt_path):
    whole = analyze(ewt_path, model=gpt2_small, max_sentences=30, progress=False, min_attention=0.1)
    parts = [
        analyze(ewt_path, model=gpt2_small, max_sentences=30, progress=False, min_attention=0.1, shard=f"{i}/3")
        for i in range(3)
    ]
    assert sum(p.summary.sentences for p in parts) == whole.summary.sentences
    merged = parts[2].merge(parts[0]).merge(parts[1])  # any order
    compare_frames(merged.to_frame(), whole.to_frame(), atol=1e-6, rtol=1e-6)
    assert_same_exemplars(merged.exemplar_rows(), whole.exemplar_rows())
    assert merged.summary.shards == [0, 1, 2] and merged.summary.entries == whole.summary.entries
    assert merged.summary.coverage == whole.summary.coverage == Coverage.range(0, 30)
    with pytest.raises(CoverageOverlapError, match=r"both parts cover entries 0–27 with index % 3 == 0 \(10\)"):
        merged.merge(parts[0])
    with pytest.raises(CoverageOverlapError, match="both parts cover"):
        whole.merge(parts[1])  # a shard and a run that includes it


def test_merging_two_corpora_offsets_the_second(minilm, ewt_path):
    texts = [s.text for s in islice(iter_conllu(ewt_path), 12)]
    whole = analyze(texts, model=minilm, progress=False)
    a = analyze(texts[:5], model=minilm, progress=False)
    b = analyze(texts[5:], model=minilm, progress=False)
    with pytest.raises(ValueError, match="different corpora"):
        a.merge(b)  # two corpora are appended only when asked
    merged = a.merge(b, different_corpora=True)
    compare_frames(merged.to_frame(), whole.to_frame(), atol=1e-6, rtol=1e-6)
    assert_same_exemplars(merged.exemplar_rows(), whole.exemplar_rows())
    assert merged.summary.entries == 12 and merged.summary.coverage == Coverage.range(0, 12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(ewt_path):
    from attnwidget.transformer.loading import OFFLINE_MODEL, load_model

    cpu = analyze(ewt_path, model=load_model(OFFLINE_MODEL, "cpu"), max_sentences=24, progress=False)
    gpu = analyze(ewt_path, model=load_model(OFFLINE_MODEL, "cuda"), max_sentences=24, progress=False)
    compare_frames(gpu.to_frame(), cpu.to_frame(), atol=1e-5)


# --------------------------------------------------------------------- corpus input


def test_text_file_with_spacy(minilm, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("The cat sat on the mat.\n\nDogs bark. Cats meow.\nThe cat sat on the mat.\n", encoding="utf-8")
    stats = analyze(path, model=minilm, progress=False)
    s = stats.summary
    assert (s.entries, s.sentences, s.annotations) == (4, 3, "spacy")
    assert s.skipped == {"blank": 1} and s.skip_examples[0][:2] == [1, "blank"]
    assert s.duplicates == 1 and s.multi_sentence == 1
    assert "kept" in s.describe() and "several sentences" in s.describe()
    dropped = analyze(path, model=minilm, progress=False, drop_duplicates=True)
    assert dropped.summary.sentences == 2
    assert dropped.summary.skipped["duplicate of an earlier sentence"] == 1


def test_conllu_with_spacy_uses_its_text(minilm, ewt_path):
    stats = analyze(ewt_path, model=minilm, annotations="spacy", max_sentences=4, progress=False)
    assert stats.summary.annotations == "spacy" and stats.summary.sentences == 4
    assert stats.keys("pos_to")  # spaCy's tags arrived


def test_iterables_of_strings_and_syntax(minilm, ewt_path):
    syntaxes = list(islice(iter_conllu(ewt_path), 3))
    gold = analyze(syntaxes, model=minilm, progress=False)
    assert gold.summary.sentences == 3
    with pytest.raises(AttnWidgetError, match="item 0: gold annotations need CoNLL-U"):
        analyze(["a sentence"], model=minilm, annotations="gold", progress=False)


def test_too_long_sentences_are_skipped_or_truncated(gpt2_small):
    long = " ".join(["word"] * 300)
    texts = ["A short sentence.", long]
    stats = analyze(texts, model=gpt2_small, progress=False)
    assert stats.summary.sentences == 1
    assert stats.summary.skipped == {"longer than the model's window": 1}
    assert "item 1" in stats.summary.skip_examples[0][2]
    cut = analyze(texts, model=gpt2_small, truncate=True, progress=False)
    assert cut.summary.sentences == 2 and cut.summary.truncated == 1
    assert "truncated" in cut.summary.describe()


def test_malformed_conllu_names_file_and_line(minilm, tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text("# text = A b\n1\tA\ta\tDET\t_\t_\t2\tdet\t_\t_\n2\tb\tb\tNOUN\t_\t_\n", encoding="utf-8")
    with pytest.raises(ConlluError) as info:
        analyze(path, model=minilm, progress=False)
    assert "bad.conllu" in str(info.value) and info.value.line == 3


def test_bad_corpus_arguments(minilm, tmp_path):
    with pytest.raises(AttnWidgetError, match="no corpus file"):
        analyze(tmp_path / "missing.conllu", model=minilm, progress=False)
    (tmp_path / "c.csv").write_text("x\n")
    with pytest.raises(AttnWidgetError, match="unknown corpus format"):
        analyze(tmp_path / "c.csv", model=minilm, progress=False)
    (tmp_path / "c.txt").write_text("x\n")
    with pytest.raises(AttnWidgetError, match="gold annotations need a CoNLL-U"):
        analyze(tmp_path / "c.txt", model=minilm, annotations="gold", progress=False)
    (tmp_path / "bad.txt").write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(AttnWidgetError, match=r"bad.txt, line 2: not valid UTF-8"):
        analyze(tmp_path / "bad.txt", model=minilm, progress=False)
    with pytest.raises(AttnWidgetError, match="shard"):
        analyze(["x"], model=minilm, shard="3/3", progress=False)


def test_empty_corpus_is_an_error(minilm, tmp_path):
    with pytest.raises(AttnWidgetError, match="no sentences to analyse"):
        analyze([], model=minilm, progress=False)
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(AttnWidgetError, match=r"no sentences.*2 entries read; skipped: 2 blank"):
        analyze(tmp_path / "blank.txt", model=minilm, progress=False)


# ----------------------------------------------------------------------- interrupts


def test_keyboard_interrupt_returns_partial_stats(minilm, ewt_path):
    syntaxes = list(islice(iter_conllu(ewt_path), 40))

    def corpus():
        for k, syntax in enumerate(syntaxes):
            if k == 20:
                raise KeyboardInterrupt
            yield syntax

    stats = analyze(corpus(), model=minilm, batch_size=4, progress=False)
    assert stats.summary.interrupted and "INTERRUPTED" in stats.summary.describe()
    assert stats.summary.sentences == 0  # interrupted while the first chunk was being read
    assert not stats.summary.coverage
    assert np.isnan(stats.values("distance")).all()


def test_ctrl_c_drops_the_chunk_in_flight(minilm, ewt_path, monkeypatch):
    syntaxes = list(islice(iter_conllu(ewt_path), 120))

    def corpus():
        for k, syntax in enumerate(syntaxes):
            if k == 100:
                os.kill(os.getpid(), signal.SIGINT)
            yield syntax

    before = signal.getsignal(signal.SIGINT)
    stats = analyze(corpus(), model=minilm, batch_size=4, progress=False)
    assert stats.summary.interrupted
    # Reading runs ahead of the model, so the signal lands during some chunk (of 32
    # sentences); that chunk is dropped, so what is kept is whole chunks, and says so.
    done = stats.summary.sentences
    assert done % 32 == 0 and done < 120
    assert stats.summary.coverage == Coverage.range(0, done) and stats.summary.entries == done
    assert done == 0 or np.isfinite(stats.values("distance")).all()
    assert signal.getsignal(signal.SIGINT) is before


def test_prefetching_shortens_gil_turns_and_restores_them():
    import sys
    import threading

    from attnwidget.corpus.analysis import PREFETCH_SWITCH_INTERVAL, prefetched

    before = sys.getswitchinterval()
    seen = []
    with prefetched(iter(range(3)), 2) as outer:
        seen.append(sys.getswitchinterval())
        with prefetched(iter(range(2)), 2) as inner:  # overlapping passes share the setting
            assert list(inner) == [0, 1]
        seen.append(sys.getswitchinterval())
        assert list(outer) == [0, 1, 2]
    assert seen == [pytest.approx(PREFETCH_SWITCH_INTERVAL)] * 2
    assert sys.getswitchinterval() == before

    def failing():
        yield 1
        raise ValueError("bad entry")

    with pytest.raises(ValueError, match="bad entry"):
        with prefetched(failing(), 2) as items:
            list(items)
    assert sys.getswitchinterval() == before
    assert not [t for t in threading.enumerate() if t.name == "attnwidget-prefetch"]
