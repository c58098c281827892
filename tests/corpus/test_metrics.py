"""The batched metrics of attnwidget/corpus/metrics.py against the per-pair reference loop and
hand-worked cases; random attention, hand-made annotation (no model needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnwidget.corpus.metrics import ExemplarTracker, HeadSums
from attnwidget.corpus.stats import frame_from
from attnwidget.text.sentence import AnnotatedSentence
from attnwidget.text.syntax import Syntax
from metrics_reference import compare_frames, reference_exemplars, reference_frame

# Every test here runs with both codes of the metrics (compiled on the CPU, tensor elsewhere).
pytestmark = pytest.mark.usefixtures("metrics_code")

TAGS = ["NOUN", "VERB", "DET", "ADJ", "PUNCT"]
RELS = ["nsubj", "obj", "det", "amod", "punct", "nmod:poss"]


def make_sentence(token_word, upos, heads, deprels, text="x") -> AnnotatedSentence:
    n = len(upos)
    syntax = Syntax(text, [f"w{k}" for k in range(n)], [(0, 0)] * n, list(upos), list(heads), list(deprels))
    T = len(token_word)
    return AnnotatedSentence(
        text, [f"t{k}" for k in range(T)], list(range(T)), [(0, 0)] * T, np.asarray(token_word, dtype=np.int64), syntax
    )


def random_item(rng, n_words, L, H, causal, special=True, index=0):
    """A sentence with split words, a word with no token, and peaky random attention."""
    token_word = [-1] if special else []
    for w in range(n_words):
        if w == 2 and n_words > 4:
            continue  # a word that received no model token
        token_word += [w] * int(rng.integers(1, 3))
    if special:
        token_word.append(-1)
    root = int(rng.integers(n_words))
    heads = [-1 if w == root else int(rng.choice([v for v in range(n_words) if v != w])) for w in range(n_words)]
    upos = [TAGS[int(rng.integers(len(TAGS)))] for _ in range(n_words)]
    deprels = ["root" if w == root else RELS[int(rng.integers(len(RELS)))] for w in range(n_words)]
    T = len(token_word)
    logits = rng.normal(size=(L, H, T, T)) * 2.5
    if causal:
        logits = np.where(np.tril(np.ones((T, T))) > 0, logits, -np.inf)
    att = np.exp(logits - logits.max(-1, keepdims=True))
    att = (att / att.sum(-1, keepdims=True)).astype(np.float32)
    sentence = make_sentence(token_word, upos, heads, deprels, text=f"sentence {index}")
    return sentence, att


def random_items(seed, n, L=2, H=3, causal=False, special=True):
    rng = np.random.default_rng(seed)
    return [random_item(rng, int(rng.integers(2, 12)), L, H, causal, special, k) for k in range(n)]


def run(items, causal, min_attention=None, batch_size=4, k=3, ids=None, padding=0.0):
    """Feed items through HeadSums in padded batches, as analyze() does; ``padding`` fills
    the cells past each sentence's length."""
    L, H = items[0][1].shape[:2]
    sums = HeadSums(L, H, causal, min_attention)
    tracker = ExemplarTracker(L, H, k)
    ids = list(range(len(items))) if ids is None else ids
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        chunk_ids = ids[start : start + batch_size]
        T = max(len(s) for s, _ in chunk)
        att = torch.full((len(chunk), L, H, T, T), padding)
        for b, (s, a) in enumerate(chunk):
            att[b, :, :, : len(s), : len(s)] = torch.from_numpy(a)
            tracker.offer(chunk_ids[b], s.text, s.tokens)
        lengths = torch.tensor([len(s) for s, _ in chunk])
        sums.update(att, lengths, sums.features([s for s, _ in chunk]), tracker, chunk_ids)
    return sums, tracker


def frame(sums):
    from attnwidget.corpus.metrics import metric_values

    return frame_from(metric_values(sums), sums.num_layers, sums.num_heads)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("min_attention", [None, 0.3])
def test_batched_metrics_match_reference_loop(causal, min_attention):
    items = random_items(1, 14, causal=causal)
    assert any(len(s) >= 10 for s, _ in items) and any(len(s) < 10 for s, _ in items)
    sums, _ = run(items, causal, min_attention)
    compare_frames(frame(sums), reference_frame(items, causal, min_attention))


@pytest.mark.parametrize("causal", [False, True])
def test_no_special_tokens_first_word_at_position_0(causal):
    # GPT-2 style: position 0 is an annotated word piece, still left out as a target.
    items = random_items(2, 10, causal=causal, special=False)
    sums, _ = run(items, causal)
    compare_frames(frame(sums), reference_frame(items, causal))


@pytest.mark.parametrize("causal", [False, True])
def test_exemplars_match_reference(causal):
    items = random_items(3, 12, causal=causal)
    _, tracker = run(items, causal, k=3)
    want = reference_exemplars(items, causal, k=3)
    rows = tracker.rows()
    for (layer, head), ranked in want.items():
        got = [r for r in rows if (r["layer"], r["head"]) == (layer, head)]
        assert [(r["sentence"], r["i"], r["j"]) for r in got] == [x[:3] for x in ranked]
        assert [r["weight"] for r in got] == pytest.approx([x[3] for x in ranked])
        for r in got:
            assert r["text"] == items[r["sentence"]][0].text
    # memory stays bounded: only sentences still in some list keep their text
    assert set(tracker.records) == {r["sentence"] for r in rows}


def test_batch_size_does_not_change_results():
    items = random_items(4, 11)
    one, ex_one = run(items, False, batch_size=1)
    many, ex_many = run(items, False, batch_size=5)
    compare_frames(frame(many), frame(one), atol=1e-6, rtol=1e-6)
    assert ex_one.rows() == ex_many.rows()


def test_merge_equals_analysing_all_at_once():
    items = random_items(5, 13, causal=True)
    whole, ex_whole = run(items, True, 0.2)
    a, ex_a = run(items[:6], True, 0.2)
    b, ex_b = run(items[6:], True, 0.2)
    merged = a.merge(b)
    compare_frames(frame(merged), frame(whole), atol=1e-6, rtol=1e-6)
    assert ex_a.merge(ex_b, offset=6).rows() == ex_whole.rows()


def test_merge_joins_vocabularies_by_name():
    items = random_items(6, 8)
    a, _ = run(items[:4], False)
    b, _ = run(items[4:], False)
    b.pos_vocab.keys.reverse()  # same tags, other ids: the merge must go by name
    b.pos_vocab = type(b.pos_vocab)(b.pos_vocab.keys)
    for name in ("pos_to", "pos_from", "pos_pairs"):
        b.sums[name] = b.sums[name].flip(-1)
    whole, _ = run(items, False)
    compare_frames(frame(a.merge(b)), frame(whole), atol=1e-6, rtol=1e-6)


def test_merge_refuses_different_thresholds():
    items = random_items(7, 3)
    with pytest.raises(ValueError, match="threshold"):
        run(items, False, 0.1)[0].merge(run(items, False, 0.3)[0])


# ------------------------------------------------------------------ hand-worked cases

#: [CLS] w0 w1 [SEP]; w0 (NOUN, nsubj) depends on w1 (VERB, root).
TWO_WORDS = make_sentence([-1, 0, 1, -1], ["NOUN", "VERB"], [1, -1], ["nsubj", "root"], "dogs bark")
TWO_WORD_ATTENTION = np.array(
    [[0.1, 0.2, 0.3, 0.4], [0.5, 0.2, 0.3, 0.0], [0.4, 0.1, 0.4, 0.1], [0.25, 0.25, 0.25, 0.25]], dtype=np.float32
)[None, None]


def values_of(sums):
    f = frame(sums)
    return {(m, k): v for m, k, v in zip(f["metric"], f["key"], f["value"])}


def test_two_word_sentence_by_hand():
    sums, tracker = run([(TWO_WORDS, TWO_WORD_ATTENTION)], causal=False)
    v = values_of(sums)
    # counted pairs: (1,1)=.2 (1,2)=.3 (2,1)=.1 (2,2)=.4, total 1.0
    assert v["first_token", ""] == pytest.approx((0.5 + 0.4) / 2)
    assert v["pos_to", "NOUN"] == pytest.approx(0.3)
    assert v["pos_to", "VERB"] == pytest.approx(0.7)
    assert v["pos_from", "NOUN"] == pytest.approx(0.5)
    assert v["dep_align", "child_to_parent"] == pytest.approx(0.3)
    assert v["dep_align", "parent_to_child"] == pytest.approx(0.1)
    assert v["dep_align", "either"] == pytest.approx(0.4)
    assert v["dep_to", "nsubj"] == pytest.approx(0.3)
    assert v["dep_to", "root"] == pytest.approx(0.7)
    assert v["distance", ""] == pytest.approx(0.4)
    h = lambda *p: -sum(x * math.log(x) for x in p)
    assert v["entropy", ""] == pytest.approx((h(0.4, 0.6) + h(0.2, 0.8)) / 2)
    assert math.isnan(v["variability", ""])  # no sentence has 10 tokens
    assert v["head_accuracy", "nsubj:dependent_to_head"] == 1.0
    assert v["head_accuracy", "nsubj:head_to_dependent"] == 1.0
    assert v["head_accuracy", "ALL:dependent_to_head"] == 1.0
    assert v["head_accuracy_baseline", "nsubj"] == 1.0  # offset +1
    assert v["dep_align_baseline", "either"] == pytest.approx(0.5)
    assert v["dep_align_baseline", "child_to_parent"] == pytest.approx(0.25)
    assert v["pos_frequency", "NOUN"] == pytest.approx(0.5)
    assert not any(k.startswith("root:") for m, k in v if m == "head_accuracy")
    [best] = [r for r in tracker.rows() if r["rank"] == 0]
    assert (best["i"], best["j"], best["weight"]) == (1, 2, pytest.approx(0.3))


def test_two_word_sentence_with_threshold_by_hand():
    sums, _ = run([(TWO_WORDS, TWO_WORD_ATTENTION)], causal=False, min_attention=0.25)
    v = values_of(sums)
    # α' keeps (1,2)=.3 and (2,2)=.4 only; first-token weights .5 and .4 both survive
    assert v["first_token", ""] == pytest.approx(0.45)
    assert v["pos_to", "VERB"] == pytest.approx(1.0)
    assert v["dep_align", "either"] == pytest.approx(0.3 / 0.7)
    assert v["distance", ""] == pytest.approx(0.3 / 0.7)
    assert v["entropy", ""] == pytest.approx(0.0)  # one target left in each row
    # Clark's task ignores the threshold: (2,1)=.1 still points w1 -> w0
    assert v["head_accuracy", "nsubj:head_to_dependent"] == 1.0


def test_two_word_sentence_causal_by_hand():
    sums, _ = run([(TWO_WORDS, TWO_WORD_ATTENTION)], causal=True)
    v = values_of(sums)
    # counted: (1,1)=.2 (2,1)=.1 (2,2)=.4; w0 cannot see its head w1
    assert v["dep_align", "parent_to_child"] == pytest.approx(0.1 / 0.7)
    assert v["dep_align", "child_to_parent"] == 0.0
    assert v["head_accuracy", "nsubj:dependent_to_head"] == 0.0  # every candidate scores 0
    assert v["head_accuracy", "nsubj:head_to_dependent"] == 1.0


def test_entropy_skips_rows_that_mostly_attend_to_the_first_token():
    att = TWO_WORD_ATTENTION.copy()
    att[0, 0, 1] = [0.95, 0.02, 0.03, 0.0]  # 5% on counted targets: row 1 left out
    sums, _ = run([(TWO_WORDS, att)], causal=False)
    h = -(0.2 * math.log(0.2) + 0.8 * math.log(0.8))
    assert values_of(sums)["entropy", ""] == pytest.approx(h)


def test_variability_by_hand():
    # Two 10-token sentences; every counted cell is .1 in one and .05 in the other, so
    # the mean is .075 and the value is |.1 − .05| / (2 (.1 + .05)) = 1/6.
    words = list(range(9))
    sentence = make_sentence([-1] + words, ["NOUN"] * 9, [-1] + [0] * 8, ["root"] + ["dep"] * 8)
    a = np.full((1, 1, 10, 10), 0.1, dtype=np.float32)
    b = np.full((1, 1, 10, 10), 0.05, dtype=np.float32)
    sums, _ = run([(sentence, a), (sentence, b)], causal=False)
    assert values_of(sums)["variability", ""] == pytest.approx(1 / 6)


def test_known_tree_head_accuracy_and_baseline():
    # "the cat sat": the(det)->cat, cat(nsubj)->sat, sat root. Attention from each word
    # to its head is high, so dependent_to_head is right for both; head_to_dependent: the
    # word attending most to "the" is "sat" (wrong: 0.3 > cat's 0.1), to "cat" is "sat"
    # (right: 0.6 > the's 0.4).
    sentence = make_sentence([-1, 0, 1, 2, -1], ["DET", "NOUN", "VERB"], [1, 2, -1], ["det", "nsubj", "root"])
    att = np.zeros((1, 1, 5, 5), dtype=np.float32)
    att[0, 0, 1] = [0.5, 0.0, 0.4, 0.1, 0.0]  # the -> cat
    att[0, 0, 2] = [0.5, 0.1, 0.0, 0.4, 0.0]  # cat -> sat
    att[0, 0, 3] = [0.1, 0.3, 0.6, 0.0, 0.0]  # sat -> cat (most), the
    sums, _ = run([(sentence, att)], causal=False)
    v = values_of(sums)
    assert v["head_accuracy", "ALL:dependent_to_head"] == 1.0
    assert v["head_accuracy", "det:head_to_dependent"] == 0.0
    assert v["head_accuracy", "nsubj:head_to_dependent"] == 1.0
    assert v["head_accuracy", "ALL:head_to_dependent"] == 0.5
    assert v["head_accuracy_baseline", "ALL"] == 1.0  # every head is the next word


def test_long_batches_are_sliced_without_changing_results(monkeypatch):
    import attnwidget.corpus.metrics as metrics

    items = random_items(8, 9, causal=True)
    whole, ex_whole = run(items, True, 0.2, batch_size=9)
    monkeypatch.setattr(metrics, "MAX_SLICE_ELEMENTS", 2 * 3 * 12 * 12 * 2)  # ~2 sentences a slice
    sliced, ex_sliced = run(items, True, 0.2, batch_size=9)
    compare_frames(frame(sliced), frame(whole), atol=1e-6, rtol=1e-6)
    assert ex_sliced.rows() == ex_whole.rows()


def test_exemplar_ties_go_to_the_first_pair_in_row_major_order(monkeypatch):
    import attnwidget.corpus.metrics as metrics

    # Every counted off-diagonal weight of head 0 is 0.25: the first row, then its first
    # column, wins; head 1's maximum sits in the last row only. Only the few weights that
    # enter a list are located, in whichever slice of the batch holds them.
    att = np.full((1, 2, 4, 4), 0.25, dtype=np.float32)
    att[0, 1] = [[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.3, 0.3, 0.2, 0.2], [0.1, 0.1, 0.5, 0.3]]
    items = [(TWO_WORDS, att)] * 3
    _, tracker = run(items, causal=False)
    got = {(r["head"], r["rank"]): (r["sentence"], r["i"], r["j"]) for r in tracker.rows()}
    assert got == {(0, k): (k, 1, 2) for k in range(3)} | {(1, k): (k, 2, 1) for k in range(3)}
    monkeypatch.setattr(metrics, "MAX_SLICE_ELEMENTS", 16)  # one sentence a slice
    _, sliced = run(items, causal=False)
    assert sliced.rows() == tracker.rows()


@pytest.mark.parametrize("causal", [False, True])
def test_what_lies_past_a_sentence_is_never_counted(causal):
    # The corpus pass leaves the model's padded query rows as they come (any finite value).
    items = random_items(11, 9, causal=causal)
    zeros, ex_zeros = run(items, causal, 0.1)
    junk, ex_junk = run(items, causal, 0.1, padding=0.9)
    compare_frames(frame(junk), frame(zeros), atol=0, rtol=0)
    assert ex_junk.rows() == ex_zeros.rows()


def test_exemplar_pair_is_a_counted_pair_when_its_weights_are_all_zero():
    # Every head puts all its weight on the first token: each counted weight is 0, and the
    # exemplar still names the first counted off-diagonal pair, in both codes (the tensor
    # code once named (0, 0), which is no counted pair).
    att = np.zeros((1, 2, 4, 4), dtype=np.float32)
    att[..., 0] = 1.0
    _, tracker = run([(TWO_WORDS, att)], causal=False)
    assert {(r["i"], r["j"], r["weight"]) for r in tracker.rows()} == {(1, 2, 0.0)}
