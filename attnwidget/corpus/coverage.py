"""Which entries of a corpus a result covers: a set of entry indices kept as a few ranges.

A run over a whole corpus covers one range, ``0 … N−1``; shard I of N covers every N-th
entry from I; a run stopped early covers a prefix of either; a merge covers the union of
its parts; a cluster's workers cover blocks. :class:`Coverage` keeps such sets small
whatever the corpus size: as strided ranges (entries ``k`` in ``[start, stop)`` with
``k % step == offset``), so a shard of a million entries is one range, not a million.

Parts of one result never overlap, so :meth:`Coverage.join` refuses an overlap (the error
holds it), and :meth:`Coverage.__and__` finds one exactly: two strided ranges meet where
the Chinese remainder theorem says their strides agree. Saved as JSON (a list of
``[start, stop]`` or ``[start, stop, step, offset]``), in the statistics file and the
output folder's manifest.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from math import gcd

# One class of a coverage: the entries k = p·step + offset for p in some period ranges.
_Key = tuple[int, int]  # (step, offset), 0 ≤ offset < step
_Ranges = list[tuple[int, int]]  # sorted, disjoint, non-adjacent [p0, p1) period ranges


class CoverageOverlapError(ValueError):
    """Two coverages that should be disjoint share entries; ``overlap`` is what they share."""

    def __init__(self, message: str, overlap: Coverage):
        super().__init__(message)
        self.overlap = overlap


class Coverage:
    """An immutable set of corpus entry indices (0-based), stored as strided ranges."""

    __slots__ = ("_classes",)

    def __init__(self, classes: dict[_Key, _Ranges] | None = None):
        self._classes: dict[_Key, _Ranges] = {}
        for key, ranges in (classes or {}).items():
            ranges = _coalesce(ranges)
            if ranges:
                self._classes[key] = ranges
        self._normalize()

    # -- construction -----------------------------------------------------------------

    @classmethod
    def empty(cls) -> Coverage:
        return cls()

    @classmethod
    def range(cls, start: int, stop: int) -> Coverage:
        """Entries ``start … stop−1``."""
        return cls.shard(0, 1, stop, start)

    @classmethod
    def shard(cls, index: int, count: int, stop: int, start: int = 0) -> Coverage:
        """Entries ``k`` in ``[start, stop)`` with ``k % count == index`` (``--shard I/N``)."""
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {index}/{count}: need 0 ≤ index < count")
        first = -(-(start - index) // count)  # the first period whose entry is ≥ start
        last = -(-(stop - index) // count)
        return cls({(count, index): [(first, last)]} if last > first else {})

    @classmethod
    def of(cls, indices: Iterable[int]) -> Coverage:
        """The given entry indices (any order, repeats ignored)."""
        runs: _Ranges = []
        for k in sorted({int(i) for i in indices}):
            if k < 0:
                raise ValueError(f"entry indices are ≥ 0, not {k}")
            if runs and runs[-1][1] == k:
                runs[-1] = (runs[-1][0], k + 1)
            else:
                runs.append((k, k + 1))
        return cls({(1, 0): runs} if runs else {})

    # -- set operations ---------------------------------------------------------------

    def __and__(self, other: Coverage) -> Coverage:
        """The entries in both."""
        out: dict[_Key, _Ranges] = {}
        for (n1, r1), ranges1 in self._classes.items():
            for (n2, r2), ranges2 in other._classes.items():
                common = _crt(n1, r1, n2, r2)
                if common is None:
                    continue
                step, offset = common
                pieces = out.setdefault((step, offset), [])
                for lo, hi in _intersect_spans(_spans(n1, r1, ranges1), _spans(n2, r2, ranges2)):
                    first, last = -(-(lo - offset) // step), -(-(hi - offset) // step)
                    if last > first:
                        pieces.append((first, last))
        return Coverage({key: sorted(ranges) for key, ranges in out.items()})

    def join(self, other: Coverage) -> Coverage:
        """The union of two disjoint coverages; raises :class:`CoverageOverlapError` if
        they share entries (parts of one result never should)."""
        overlap = self & other
        if overlap:
            raise CoverageOverlapError(f"both cover {overlap.describe()}", overlap)
        classes = {key: list(ranges) for key, ranges in self._classes.items()}
        for key, ranges in other._classes.items():
            classes[key] = sorted(classes.get(key, []) + ranges)
        return Coverage(classes)

    def shifted(self, offset: int) -> Coverage:
        """Every index plus ``offset`` (a second corpus placed after a first)."""
        if self and self.parts()[0][0] + offset < 0:
            raise ValueError("a shifted coverage would hold negative indices")
        classes: dict[_Key, _Ranges] = {}
        for (step, r), ranges in self._classes.items():
            moved, carry = (r + offset) % step, (r + offset) // step
            classes[(step, moved)] = [(p0 + carry, p1 + carry) for p0, p1 in ranges]
        return Coverage(classes)

    # -- questions --------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(p1 - p0 for ranges in self._classes.values() for p0, p1 in ranges)

    def __bool__(self) -> bool:
        return bool(self._classes)

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        for (step, r), ranges in self._classes.items():
            if index % step == r:
                p = (index - r) // step
                at = bisect.bisect_right(ranges, (p, float("inf"))) - 1
                if at >= 0 and ranges[at][0] <= p < ranges[at][1]:
                    return True
        return False

    def __iter__(self) -> Iterator[int]:
        """The indices in increasing order."""

        def entries(step, r, ranges):
            for p0, p1 in ranges:
                yield from range(p0 * step + r, (p1 - 1) * step + r + 1, step)

        return heapq.merge(*(entries(step, r, ranges) for (step, r), ranges in self._classes.items()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Coverage):
            return NotImplemented
        return len(self) == len(other) == len(self & other)

    __hash__ = None  # equal sets may be stored differently

    def covers(self, start: int, stop: int) -> bool:
        """Whether every entry ``start … stop−1`` is in the set."""
        return len(self & Coverage.range(start, stop)) == max(0, stop - start)

    @property
    def stop(self) -> int:
        """One past the largest index (0 when empty)."""
        return (
            max((ranges[-1][1] - 1) * step + r + 1 for (step, r), ranges in self._classes.items())
            if self._classes
            else 0
        )

    def first(self, n: int) -> list[int]:
        """The ``n`` smallest indices (for messages)."""
        out = []
        for k in self:
            if len(out) == n:
                break
            out.append(k)
        return out

    # -- text and JSON ----------------------------------------------------------------

    def parts(self) -> list[tuple[int, int, int, int]]:
        """``(start, stop, step, offset)`` of each strided range, by start: the entries
        ``k`` in ``[start, stop)`` with ``k % step == offset``; ``start`` is the first such
        entry and ``stop`` one past the last."""
        out = []
        for (step, r), ranges in self._classes.items():
            out.extend((p0 * step + r, (p1 - 1) * step + r + 1, step, r) for p0, p1 in ranges)
        return sorted(out)

    def to_json(self) -> list[list[int]]:
        return [[a, b] if step == 1 else [a, b, step, r] for a, b, step, r in self.parts()]

    @classmethod
    def from_json(cls, parts: Iterable[Iterable[int]]) -> Coverage:
        """The set :meth:`to_json` wrote (parts must not overlap)."""
        out = cls()
        for part in parts:
            values = [int(v) for v in part]
            if len(values) == 2:
                piece = cls.range(*values)
            elif len(values) == 4:
                start, stop, step, r = values
                piece = cls.shard(r, step, stop, start)
            else:
                raise ValueError(f"a coverage part is [start, stop] or [start, stop, step, offset], not {part!r}")
            out = out.join(piece)
        return out

    def describe(self, limit: int = 4) -> str:
        """E.g. ``entries 0–1999 (2,000)`` or ``entries 0–1998 with index % 2 == 0 (1,000)``."""
        if not self:
            return "no entries"
        texts = []
        for a, b, step, r in self.parts():
            span = f"{a}" if b - a <= 1 else f"{a}–{b - 1}"
            texts.append(span if step == 1 or b - a <= 1 else f"{span} with index % {step} == {r}")
        if len(texts) > limit:
            texts = texts[:limit] + [f"… ({len(texts) - limit} more ranges)"]
        return f"entr{'y' if len(self) == 1 else 'ies'} {', '.join(texts)} ({len(self):,})"

    def __repr__(self) -> str:
        return f"Coverage({self.to_json()!r})"

    # -- canonical form ---------------------------------------------------------------

    def _normalize(self) -> None:
        """Where every residue of a step covers the same periods, those entries form
        plain ranges (shards 0/2 and 1/2 of one corpus join into ``0 … N−1``); a lone
        entry of a strided range becomes a plain one."""
        for step in sorted({step for step, _ in self._classes if step > 1}):
            residues = [self._classes.get((step, r)) for r in range(step)]
            if any(ranges is None for ranges in residues):
                continue
            common = residues[0]
            for ranges in residues[1:]:
                common = _intersect_spans(common, ranges)
            if not common:
                continue
            for r in range(step):
                self._put((step, r), _subtract(self._classes[(step, r)], common))
            self._put((1, 0), self._classes.get((1, 0), []) + [(p0 * step, p1 * step) for p0, p1 in common])
        singles = []
        for key in [key for key in self._classes if key[0] > 1]:
            step, r = key
            kept = [(p0, p1) for p0, p1 in self._classes[key] if p1 - p0 > 1]
            singles += [(p0 * step + r, p0 * step + r + 1) for p0, p1 in self._classes[key] if p1 - p0 == 1]
            self._put(key, kept)
        if singles:
            self._put((1, 0), self._classes.get((1, 0), []) + singles)

    def _put(self, key: _Key, ranges: _Ranges) -> None:
        ranges = _coalesce(ranges)
        if ranges:
            self._classes[key] = ranges
        else:
            self._classes.pop(key, None)


def _coalesce(ranges: Iterable[tuple[int, int]]) -> _Ranges:
    """Sorted ranges, touching ones joined, empty ones dropped."""
    out: _Ranges = []
    for p0, p1 in sorted((int(a), int(b)) for a, b in ranges):
        if p1 <= p0:
            continue
        if out and p0 <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], p1))
        else:
            out.append((p0, p1))
    return out


def _spans(step: int, r: int, ranges: _Ranges) -> _Ranges:
    """Period ranges of a class as the index spans they lie in (sorted)."""
    return [(p0 * step + r, (p1 - 1) * step + r + 1) for p0, p1 in ranges]


def _intersect_spans(a: _Ranges, b: _Ranges) -> _Ranges:
    """The intersection of two sorted lists of disjoint ranges."""
    out: _Ranges = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(a: _Ranges, b: _Ranges) -> _Ranges:
    """Ranges of ``a`` with those of ``b`` (a subset of ``a``'s) taken out."""
    out: _Ranges = []
    for p0, p1 in a:
        cursor = p0
        for q0, q1 in b:
            if q1 <= cursor or q0 >= p1:
                continue
            if q0 > cursor:
                out.append((cursor, q0))
            cursor = max(cursor, q1)
        if cursor < p1:
            out.append((cursor, p1))
    return out


def _crt(n1: int, r1: int, n2: int, r2: int) -> tuple[int, int] | None:
    """(step, offset) of the indices ≡ r1 (mod n1) and ≡ r2 (mod n2); None if there are none."""
    g = gcd(n1, n2)
    if (r2 - r1) % g:
        return None
    step = n1 // g * n2
    m = n2 // g
    t = 0 if m == 1 else ((r2 - r1) // g * pow(n1 // g, -1, m)) % m
    return step, (r1 + n1 * t) % step
