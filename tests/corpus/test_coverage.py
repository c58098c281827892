"""Coverage: sets of corpus entries as strided ranges, checked against plain Python sets."""

from __future__ import annotations

import json
import random

import pytest

from attnwidget.corpus.coverage import Coverage, CoverageOverlapError


def random_coverage(rng: random.Random, size: int = 60) -> Coverage:
    """A union of a few disjoint random ranges, shards and single entries below ``size``."""
    out = Coverage.empty()
    for _ in range(rng.randint(0, 5)):
        kind = rng.random()
        start = rng.randrange(size)
        stop = rng.randint(start, size)
        if kind < 0.4:
            piece = Coverage.range(start, stop)
        elif kind < 0.8:
            count = rng.randint(2, 6)
            piece = Coverage.shard(rng.randrange(count), count, stop, start)
        else:
            piece = Coverage.of(rng.sample(range(size), rng.randint(0, 5)))
        if not (out & piece):
            out = out.join(piece)
    return out


def test_set_operations_agree_with_python_sets():
    rng = random.Random(17)
    for _ in range(400):
        a, b = random_coverage(rng), random_coverage(rng)
        sa, sb = set(a), set(b)
        assert list(a) == sorted(sa) and len(a) == len(sa)
        assert set(a & b) == sa & sb and len(a & b) == len(sa & sb)
        assert all((k in a) == (k in sa) for k in range(-2, 70))
        if not sa & sb:
            assert set(a.join(b)) == sa | sb and a.join(b) == b.join(a)
        else:
            with pytest.raises(CoverageOverlapError) as info:
                a.join(b)
            assert set(info.value.overlap) == sa & sb
        back = Coverage.from_json(json.loads(json.dumps(a.to_json())))
        assert back == a and set(back) == sa
        assert set(a.shifted(7)) == {k + 7 for k in sa}
        assert a.stop == (max(sa) + 1 if sa else 0)
        assert a.covers(3, 9) == (set(range(3, 9)) <= sa)


def test_shards_join_into_one_range_and_stay_small():
    shards = [Coverage.shard(i, 4, 1_000_001) for i in range(4)]
    assert [len(s.to_json()) for s in shards] == [1, 1, 1, 1]  # a million entries, one part each
    whole = shards[3].join(shards[1]).join(shards[0]).join(shards[2])
    assert whole.to_json() == [[0, 1_000_001]] and whole == Coverage.range(0, 1_000_001)
    assert whole.describe() == "entries 0–1000000 (1,000,001)"
    assert shards[1].describe() == "entries 1–999997 with index % 4 == 1 (250,000)"
    with pytest.raises(CoverageOverlapError, match=r"both cover entries 2–999998 with index % 4 == 2"):
        whole.join(shards[2])


def test_overlap_of_different_strides_is_found_exactly():
    evens = Coverage.shard(0, 2, 100)
    thirds = Coverage.shard(1, 3, 100)
    both = evens & thirds  # k ≡ 0 (mod 2) and k ≡ 1 (mod 3): 4, 10, 16, ...
    assert list(both) == list(range(4, 100, 6))
    assert not (Coverage.shard(0, 4, 100) & Coverage.shard(1, 2, 100))  # 4k is never odd
    prefix = Coverage.range(0, 10)
    assert list(prefix & Coverage.shard(1, 4, 100)) == [1, 5, 9]


def test_empty_and_bad_input():
    empty = Coverage.empty()
    assert not empty and len(empty) == 0 and empty.describe() == "no entries" and empty.stop == 0
    assert Coverage.range(5, 5) == empty and Coverage.shard(0, 3, 0) == empty
    assert Coverage.of([3]).describe() == "entry 3 (1)"
    with pytest.raises(ValueError):
        Coverage.shard(3, 3, 10)
    with pytest.raises(ValueError):
        Coverage.of([-1])
    with pytest.raises(ValueError):
        Coverage.from_json([[1, 2, 3]])
    with pytest.raises(CoverageOverlapError):
        Coverage.from_json([[0, 10], [5, 6]])
