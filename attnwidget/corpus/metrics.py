"""SPEC.md §2–§5 as batched tensor code, and accumulators that merge.

Everything here works on one padded batch at a time: attention ``[B, L, H, T, T]`` and
per-token annotation ids ``[B, T]``, on the model's device, with no Python loop over
tokens or pairs. What is kept between batches is a set of additive sums per head (so two
accumulators merge by adding), the top-k exemplar candidates per head, and, for
variability only, each long sentence's counted weights in its first 10×10 block (its
formula needs |α − ᾱ| with the corpus mean ᾱ known only at the end, so no running sum is
exact; the mean itself is a running sum).

On the CPU a batch's sums come from the compiled single pass of :mod:`attnwidget.corpus.compiled`
instead of the tensor code here; both fill the same sums, and the tests run both.
"""

from __future__ import annotations

import functools
import importlib
import math
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnwidget.corpus.variability_cells import CellStore

#: Position of the "null attention" target (SPEC §2).
NULL_POSITION = 0
#: Window of the variability metric (SPEC §3, N).
VARIABILITY_WINDOW = 10
#: An attending token whose counted weights sum to less than this is left out of entropy.
ENTROPY_MIN_MASS = 0.1
#: dep(i, j) directions of SPEC §1, in the order of the ``dep_align`` key axis.
DEP_DIRECTIONS = ("child_to_parent", "parent_to_child", "either")
#: Clark et al.'s two directions (SPEC §5).
HEAD_DIRECTIONS = ("dependent_to_head", "head_to_dependent")
#: Largest slice of a batch (attention weights) worked on at once; bounds temporaries.
MAX_SLICE_ELEMENTS = 1 << 23
#: CPU batches go through the compiled single pass of :mod:`attnwidget.corpus.compiled`; other
#: devices (and tests of this module's tensor code on the CPU) through tensor operations.
FUSED_ON_CPU = True
#: Fixed-offset baseline of SPEC §5.
BASELINE_OFFSETS = (-3, -2, -1, 1, 2, 3)


def fused_pass(device) -> bool:
    """Whether batches on ``device`` go through :mod:`attnwidget.corpus.compiled` (a compiled loop, on
    the CPU) rather than tensor operations."""
    return torch.device(device).type == "cpu" and FUSED_ON_CPU and _fused_available()


@functools.cache
def _fused_available() -> bool:
    """numba imports and can cache its code here; if not, the tensor code does the work."""
    try:
        importlib.import_module("attnwidget.corpus.compiled")
    except Exception as exc:  # noqa: BLE001 - any failure of numba here means: do without it
        warnings.warn(
            f"attnwidget: the compiled CPU pass of the corpus metrics is unavailable "
            f"({type(exc).__name__}: {exc}); using tensor code, 2-3 times slower on the CPU. "
            "Without numba, pip install numba brings it back; where numba cannot write its "
            "cache, set NUMBA_CACHE_DIR to a writable folder.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


class Vocabulary:
    """Strings (UPOS tags, relations) to dense ids, growing as new ones are seen."""

    def __init__(self, keys: Iterable[str] = ()):
        self.keys: list[str] = []
        self._ids: dict[str, int] = {}
        for key in keys:
            self.id(key)

    def id(self, key: str | None) -> int:
        if key is None:
            return -1
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.keys)
            self.keys.append(key)
        return found

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self._ids


@dataclass
class TokenFeatures:
    """Per-token annotation of a padded batch: LongTensors ``[B, T]``, -1 = none.

    ``word`` is the token's word index (-1: unannotated, including padding), ``head`` its
    word's head word index (-1: root or unannotated), ``pos``/``deprel`` vocabulary ids.
    """

    word: torch.Tensor
    head: torch.Tensor
    pos: torch.Tensor
    deprel: torch.Tensor

    @property
    def annotated(self) -> torch.Tensor:
        return self.word >= 0

    @classmethod
    def from_lists(cls, word, head, pos, deprel, device=None) -> TokenFeatures:
        """Pad per-sentence integer lists (or arrays) into ``[B, T]`` tensors."""
        lengths = [len(w) for w in word]
        width = max(lengths)
        valid = np.arange(width)[None, :] < np.asarray(lengths)[:, None]

        def pad(rows):
            out = np.full((len(rows), width), -1, dtype=np.int64)
            out[valid] = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
            return torch.from_numpy(out).to(device)

        return cls(pad(word), pad(head), pad(pos), pad(deprel))

    def rows(self, index: slice) -> TokenFeatures:
        """The features of some sentences of the batch."""
        return TokenFeatures(self.word[index], self.head[index], self.pos[index], self.deprel[index])

    def widen(self, width: int) -> TokenFeatures:
        """Pad on the right to ``width`` positions (the attention's T)."""
        extra = width - self.word.shape[1]
        if extra <= 0:
            return self
        fill = lambda t: torch.nn.functional.pad(t, (0, extra), value=-1)  # noqa: E731
        return TokenFeatures(fill(self.word), fill(self.head), fill(self.pos), fill(self.deprel))


# ----------------------------------------------------------------------------- pairs


def counted_pairs(features: TokenFeatures, causal: bool) -> torch.Tensor:
    """SPEC §2: bool ``[B, T, T]``, True where the pair (i attends, j attended) counts."""
    annotated = features.annotated
    counted = annotated[:, :, None] & annotated[:, None, :]
    counted[:, :, NULL_POSITION] = False
    if causal:
        width = counted.shape[-1]
        counted &= torch.ones(width, width, dtype=torch.bool, device=counted.device).tril()
    return counted


def one_hot(ids: torch.Tensor, size: int, dtype=torch.float32) -> torch.Tensor:
    """``[..., size]`` indicator of ``ids``; -1 gives an all-zero row."""
    out = torch.zeros(*ids.shape, size + 1, dtype=dtype, device=ids.device)
    out.scatter_(-1, torch.where(ids >= 0, ids, size).unsqueeze(-1), 1)
    return out[..., :size]


def contract(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ over the batch b and the last axis t of x[b, ..., t] · y[b, t, k...]: shape
    ``x.shape[1:-1] + y.shape[2:]``. One batched matrix product (einsum spends longer
    planning such a small product than doing it)."""
    B, T = x.shape[0], x.shape[-1]
    out = torch.bmm(x.reshape(B, -1, T), y.reshape(B, T, -1)).sum(0)
    return out.view(*x.shape[1:-1], *y.shape[2:])


def row_sums(x: torch.Tensor) -> torch.Tensor:
    """Σ over the last axis, as a product with a vector of ones: over short rows (a
    sentence's tokens or words) torch's ``sum`` costs two to three times as much."""
    return torch.matmul(x, x.new_ones(x.shape[-1]))


def threshold(attention: torch.Tensor, min_attention: float | None) -> torch.Tensor:
    """SPEC §3: α·1[α > θ]; the attention itself when no threshold is set."""
    if min_attention is None:
        return attention
    return attention * (attention > min_attention)


# ------------------------------------------------------------------- word-level (§5)


@dataclass
class WordView:
    """Word-level structure of a batch (SPEC §5): ``[B, W]`` tensors.

    ``kept`` marks words that received a model token, ``head``/``deprel``/``pos`` their
    gold head, relation and tag (-1 none), ``evaluated`` the words scored in Clark's task (relation given,
    gold head kept), ``pieces`` the ``[B, T, W]`` token-to-word indicator, ``token_slot``
    ``[B, T]`` each token's word with unannotated tokens sent to word 0 (they carry no
    counted weight, so adding them anywhere adds zero).
    """

    pieces: torch.Tensor
    kept: torch.Tensor
    head: torch.Tensor
    deprel: torch.Tensor
    pos: torch.Tensor
    evaluated: torch.Tensor
    token_slot: torch.Tensor

    @classmethod
    def of(cls, features: TokenFeatures) -> WordView:
        word = features.word
        width = int(torch.maximum(word.max(), features.head.max()).item()) + 1
        width = max(width, 1)
        pieces = one_hot(word, width)  # [B, T, W]
        kept = pieces.sum(1) > 0

        def per_word(values: torch.Tensor) -> torch.Tensor:
            # Every piece of a word carries the word's value, so scattering them agrees.
            out = torch.full((word.shape[0], width + 1), -1, dtype=torch.long, device=word.device)
            out.scatter_(1, torch.where(word >= 0, word, width), values)
            return out[:, :width]

        head, deprel, pos = per_word(features.head), per_word(features.deprel), per_word(features.pos)
        head_kept = kept.gather(1, head.clamp(min=0)) & (head >= 0)
        evaluated = kept & (deprel >= 0) & head_kept
        return cls(pieces, kept, head, deprel, pos, evaluated, word.clamp(min=0))

    def dependency_masks(self) -> torch.Tensor:
        """dep(i, j) of SPEC §1 between words, in the layout of :func:`word_sums` (source w,
        target v): bool ``[B, 3, W, W]`` for child_to_parent (v is w's head),
        parent_to_child (w is v's head), either. Every token of a word shares its word's
        relations, so word sums against these give the token-level sums."""
        width = self.head.shape[-1]
        k = torch.arange(width, device=self.head.device)
        child_to_parent = self.head[:, :, None] == k[None, None, :]  # [b, w, v]: head(w) = v
        parent_to_child = self.head[:, None, :] == k[None, :, None]  # [b, w, v]: head(v) = w
        return torch.stack([child_to_parent, parent_to_child, child_to_parent | parent_to_child], 1)


class Scratch:
    """Reusable buffers for the big temporaries of one batch's slices.

    Fresh multi-megabyte tensors for every slice cost page faults; one growing buffer per
    purpose avoids them. ``get`` hands out a view of the first ``prod(shape)`` elements.
    ``clear`` lets them go once the batch is done: kept, they would sit beside the next
    forward pass and raise the peak memory by their size.
    """

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}

    def clear(self) -> None:
        self._buffers.clear()

    def get(self, name: str, shape, like: torch.Tensor) -> torch.Tensor:
        n = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.numel() < n or buffer.device != like.device or buffer.dtype != like.dtype:
            buffer = self._buffers[name] = torch.empty(n, dtype=like.dtype, device=like.device)
        return buffer[:n].view(shape)


def word_sums(weights: torch.Tensor, words: WordView, scratch: Scratch | None = None, tag: str = "") -> torch.Tensor:
    """``[B, L, H, W, W]``: ``out[..., w, v]`` = Σ over pieces i of word w and pieces j of
    word v of ``weights[..., i, j]`` (weights on counted pairs only: unannotated tokens,
    all sent to word 0, must carry none).

    Columns are scattered into their word, then whole rows are added into theirs
    (``index_add_`` of rows beats a scatter of single weights there). Everything SPEC §3
    sums by word, and Clark's A, come from this one W×W array; no product with the one-hot
    piece matrix, which multiplies T·T·W weights where T·T adds are enough. ``tag`` names
    the scratch buffers (two calls may share a batch)."""
    B, L, H, T, _ = weights.shape
    width = words.pieces.shape[-1]
    LH = L * H
    device = weights.device

    def buffer(name, shape):
        if scratch is None:
            return torch.zeros(shape, dtype=weights.dtype, device=device)
        return scratch.get(name + tag, shape, weights).zero_()

    by_target = buffer("by_target", (B, LH * T, width))  # [B, LH·i, v]
    by_target.scatter_add_(2, words.token_slot[:, None, :].expand(B, LH * T, T), weights.reshape(B, LH * T, T))
    # Row (b, l·h, i) goes to row (b, l·h, word of i).
    base = (torch.arange(B, device=device)[:, None] * LH + torch.arange(LH, device=device)[None, :]) * width
    index = (base[:, :, None] + words.token_slot[:, None, :]).reshape(-1)
    out = buffer("words", (B * LH * width, width))
    out.index_add_(0, index, by_target.view(B * LH * T, width))
    return out.view(B, L, H, width, width)


def clark_scores(sums: torch.Tensor, words: WordView) -> torch.Tensor:
    """SPEC §5's A (``[B, L, H, W, W]``): A[w, v] = the mean over pieces of w of the sum
    over pieces of v of α (``sums`` from :func:`word_sums`, changed in place). The
    diagonal (a word and itself) is set to -1 so it never wins a prediction."""
    n_pieces = words.pieces.sum(1).clamp(min=1)  # [B, W]
    scores = sums.div_(n_pieces[:, None, None, :, None])
    scores.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
    return scores


def predict_heads(scores: torch.Tensor, words: WordView, direction: str) -> torch.Tensor:
    """Clark's prediction for each word w: correct ``[B, L, H, W]`` (bool).

    ``scores`` is A (from :func:`clark_scores`). ``dependent_to_head`` picks the v
    maximising A[w, v] (a row), ``head_to_dependent`` the v maximising A[v, w] (a column).
    Candidates are words v ≠ w (the diagonal holds -1). A word with no token scores 0
    everywhere, so it is only "predicted" when every candidate scores 0, which counts as
    wrong anyway. Ties go to the smallest index: ``max`` returns the first maximum.
    """
    over = -1 if direction == "dependent_to_head" else -2
    best, predicted = scores.max(over)
    return (predicted == words.head[:, None, None, :]) & (best > 0) & words.evaluated[:, None, None, :]


def baseline_hits(words: WordView) -> torch.Tensor:
    """Fixed-offset baseline: bool ``[B, len(BASELINE_OFFSETS), W]``, True where kept word
    (rank of w) + k is w's gold head; offsets count kept words in sentence order."""
    kept = words.kept
    B, width = kept.shape
    rank = kept.long().cumsum(1) - 1
    n_kept = kept.sum(1)
    word_at_rank = torch.full((B, width + 1), -1, dtype=torch.long, device=kept.device)
    positions = torch.arange(width, device=kept.device).expand(B, width)
    word_at_rank.scatter_(1, torch.where(kept, rank, width), positions)
    offsets = torch.tensor(BASELINE_OFFSETS, device=kept.device)
    target = rank[:, None, :] + offsets[None, :, None]  # [B, K, W]
    inside = (target >= 0) & (target < n_kept[:, None, None])
    K = len(BASELINE_OFFSETS)
    predicted = word_at_rank[:, None, :width].expand(B, K, width).gather(2, target.clamp(0, width - 1))
    return inside & (predicted == words.head[:, None, :]) & words.evaluated[:, None, :]


# --------------------------------------------------------------------- accumulation

#: Additive sums: name -> (trailing key axis or None). Every array is [L, H, ...] unless
#: listed in _CORPUS_SUMS.
_HEAD_SUMS = {
    "first_token": None,  # Σ α'_{i,0} over annotated i ≥ 1
    "mass": None,  # Σ α' over counted pairs: the shared denominator
    "pos_to": "pos",
    "pos_from": "pos",
    "dep_align": "direction",
    "dep_to": "deprel",
    "distance": None,
    "entropy": None,  # Σ of kept rows' entropies
    "entropy_rows": None,  # number of kept rows
    "head_correct": "deprel",  # [L, H, 2 directions, R]
    "var_sum": None,  # Σ α' over the N×N block of sentences with ≥ N tokens: [L, H, N, N]
    "var_mass": None,  # Σ α' over their counted cells
}
_CORPUS_SUMS = {
    "first_token_rows": None,  # annotated i ≥ 1, scalar
    "pairs": None,  # counted pairs, scalar
    "dep_pairs": "direction",
    "pos_pairs": "pos",
    "head_words": "deprel",  # words scored in Clark's task per relation
    "baseline_correct": "deprel",  # [offsets, R]
    "var_sentences": None,  # sentences with ≥ N tokens
}


@dataclass
class _Contribution:
    """What one slice of a batch adds: sums, variability cells, exemplar candidates (each
    sentence's largest weight per head, and ``locate(rows, layers, heads)`` for where it
    lies, as :func:`locate_maxima` gives it)."""

    sums: dict[str, torch.Tensor]
    cell_values: torch.Tensor | None
    cell_ids: torch.Tensor | None
    best: torch.Tensor | None
    locate: Callable | None


class HeadSums:
    """Additive per-head sums for one corpus (or a part of one); ``merge`` adds them.

    ``update`` consumes one batch; ``state``/``from_state`` give plain numpy arrays for
    saving. Keyed sums (tags, relations) are indexed by ``pos_vocab``/``deprel_vocab``.
    """

    def __init__(
        self,
        num_layers: int,
        num_heads: int,
        causal: bool,
        min_attention: float | None = None,
        device: torch.device | str = "cpu",
    ):
        self.num_layers, self.num_heads = num_layers, num_heads
        self.causal = causal
        self.min_attention = min_attention
        self.device = torch.device(device)
        # MPS has no float64; sums over a corpus need it.
        self.sum_device = self.device if self.device.type != "mps" else torch.device("cpu")
        self.pos_vocab = Vocabulary()
        self.deprel_vocab = Vocabulary()
        L, H = num_layers, num_heads
        z = lambda *shape: torch.zeros(*shape, dtype=torch.float64, device=self.sum_device)  # noqa: E731
        self.sums: dict[str, torch.Tensor] = {
            "first_token": z(L, H),
            "mass": z(L, H),
            "pos_to": z(L, H, 0),
            "pos_from": z(L, H, 0),
            "dep_align": z(L, H, 3),
            "dep_to": z(L, H, 0),
            "distance": z(L, H),
            "entropy": z(L, H),
            "entropy_rows": z(L, H),
            "head_correct": z(L, H, 2, 0),
            "first_token_rows": z(()),
            "pairs": z(()),
            "dep_pairs": z(3),
            "pos_pairs": z(0),
            "head_words": z(0),
            "baseline_correct": z(len(BASELINE_OFFSETS), 0),
            "var_sum": z(L, H, VARIABILITY_WINDOW, VARIABILITY_WINDOW),
            "var_mass": z(L, H),
            "var_sentences": z(()),
        }
        # Variability: α' of each counted cell (i, j < N) of each sentence with ≥ N tokens,
        # and the cell's index i·N + j.
        self.cells = CellStore(L, H)
        self._scratch = Scratch()

    # -- batch -------------------------------------------------------------------------

    def features(self, sentences, device=None) -> TokenFeatures:
        """Token features of annotated sentences (``token_word``, ``token_head``,
        ``token_pos``, ``token_deprel`` as on :class:`AnnotatedSentence`), with ids from
        this object's vocabularies (new tags and relations are added)."""
        pos = [[self.pos_vocab.id(t) for t in s.token_pos] for s in sentences]
        rel = [[self.deprel_vocab.id(r) for r in s.token_deprel] for s in sentences]
        return TokenFeatures.from_lists(
            [s.token_word for s in sentences],
            [s.token_head for s in sentences],
            pos,
            rel,
            device=self.device if device is None else device,
        )

    def update(
        self,
        attention: torch.Tensor,
        lengths: torch.Tensor,
        features: TokenFeatures,
        exemplars: ExemplarTracker | None = None,
        sentence_ids=None,
        consume: bool = False,
    ) -> None:
        """Add one batch. ``attention`` ``[B, L, H, T, T]`` (weights past each length are
        never counted, so they may hold anything finite), ``lengths`` ``[B]``,
        ``features`` with ids from this object's vocabularies,
        ``sentence_ids`` the sentences' corpus indices (for ``exemplars``).
        ``consume=True`` lets the attention tensor be overwritten (saves a full copy).

        A batch of long sentences is worked through in slices of at most
        ``MAX_SLICE_ELEMENTS`` attention weights, so temporaries stay small. All slices'
        contributions are added at the end: an interrupt leaves the sums untouched.
        """
        B, L, H, T, _ = attention.shape
        if (self.num_layers, self.num_heads) != (L, H):
            raise ValueError(f"attention has {L} layers × {H} heads, expected {self.num_layers} × {self.num_heads}")
        features = features.widen(T)
        self._grow()
        # The tensor code's temporaries are the size of its slice; the fused pass has none.
        step = B if fused_pass(attention.device) else max(1, MAX_SLICE_ELEMENTS // (L * H * T * T))
        try:
            parts = [
                self._contributions(
                    attention[k : k + step],
                    lengths[k : k + step],
                    features.rows(slice(k, k + step)),
                    consume,
                    exemplars is not None,
                )
                for k in range(0, B, step)
            ]
        finally:
            self._scratch.clear()
        for part in parts:
            for name, value in part.sums.items():
                self.sums[name] += value.to(self.sum_device)  # a float64 sum of float32 parts
            if part.cell_values is not None:
                self.cells.append(part.cell_values, part.cell_ids)
        if exemplars is not None:

            def locate(rows, layers, heads):  # rows of the whole batch; a slice holds ``step``
                i, j = torch.empty_like(rows), torch.empty_like(rows)
                for k, part in enumerate(parts):
                    inside = rows // step == k
                    if bool(inside.any()):
                        i[inside], j[inside] = part.locate(rows[inside] - k * step, layers[inside], heads[inside])
                return i, j

            exemplars.add(torch.cat([p.best for p in parts]), list(sentence_ids), locate)

    def _contributions(
        self,
        attention: torch.Tensor,
        lengths: torch.Tensor,
        features: TokenFeatures,
        consume: bool,
        want_exemplars: bool,
    ) -> _Contribution:
        """One slice's additions to every sum (no state is changed here)."""
        if fused_pass(attention.device):
            # lazy: keeps numba out of importing this module
            from attnwidget.corpus.compiled import batch_sums

            part = batch_sums(
                attention,
                lengths,
                features,
                len(self.pos_vocab),
                len(self.deprel_vocab),
                self.causal,
                self.min_attention,
                ENTROPY_MIN_MASS,
                VARIABILITY_WINDOW,
                BASELINE_OFFSETS,
            )
            return _Contribution(
                part.sums, part.cell_values, part.cell_ids, part.best if want_exemplars else None, part.locate
            )
        attention = attention.float()
        B, L, H, T, _ = attention.shape
        batch: dict[str, torch.Tensor] = {}
        add = batch.__setitem__
        n_pos, n_rel = len(self.pos_vocab), len(self.deprel_vocab)
        counted = counted_pairs(features, self.causal)  # [B, T, T]
        counted_f = counted.float()
        words = WordView.of(features)
        pos_token = one_hot(features.pos, n_pos)  # [B, T, K]
        rows = features.annotated.clone()  # attending tokens of first_token and entropy
        rows[:, : NULL_POSITION + 1] = False

        # What needs uncounted cells is read before the attention is masked in place.
        add("first_token", contract(threshold(attention[..., NULL_POSITION], self.min_attention), rows.float()))
        add("first_token_rows", rows.sum())
        n = VARIABILITY_WINDOW
        long_enough = lengths.to(attention.device) >= n
        cell_values = cell_ids = None
        if n <= T and bool(long_enough.any()):
            # Variability over the first N×N block of each sentence with ≥ N tokens: ᾱ is a
            # running sum over every cell; |α − ᾱ| needs each counted cell's own value kept.
            block = threshold(attention[..., :n, :n][long_enough], self.min_attention)  # [b, L, H, N, N]
            block_mask = counted[:, :n, :n][long_enough]  # [b, N, N]
            add("var_sum", block.sum(0))
            add("var_sentences", long_enough.sum())
            add("var_mass", (block * block_mask[:, None, None]).sum((0, 3, 4)))
            cell_values = block.permute(0, 3, 4, 1, 2)[block_mask]  # [c, L, H]
            cells = torch.arange(n * n, device=block.device, dtype=torch.int16).view(n, n)
            cell_ids = cells.expand_as(block_mask)[block_mask]

        # m: α' on counted pairs; raw: α on counted pairs (Clark's task and exemplars have
        # no threshold). Without a threshold they are one tensor.
        mask = counted_f[:, None, None]
        if self.min_attention is None:
            m = raw = attention.mul_(mask) if consume else attention * mask
        else:
            m = threshold(attention, self.min_attention).mul_(mask)
            raw = attention.mul_(mask) if consume else attention * mask

        # Everything but distance and entropy comes from sums over word pairs: both tokens of
        # a counted pair belong to words, and share their words' tags and relations.
        pair_sums = word_sums(m, words, self._scratch)  # [B, L, H, w, v]
        from_word = row_sums(pair_sums)  # [B, L, H, W]: weight the pieces of word w give
        to_word = pair_sums.sum(-2)  # [B, L, H, W]: weight the pieces of word v receive
        words_pos = one_hot(words.pos, n_pos)  # [B, W, K]
        words_rel = one_hot(words.deprel, n_rel)  # [B, W, R]
        add("mass", from_word.sum((0, 3)))
        add("pos_from", contract(from_word, words_pos))
        add("pos_to", contract(to_word, words_pos))
        add("dep_to", contract(to_word, words_rel))
        dep_masks = words.dependency_masks().float().flatten(2)  # [B, 3, w·v]
        add("dep_align", contract(pair_sums.flatten(3), dep_masks.transpose(1, 2)))
        from_mass = row_sums(m)  # [B, L, H, T]: row i's counted weight

        span = torch.arange(T, device=attention.device, dtype=torch.float32)
        distance = (span[:, None] - span[None, :]).abs().reshape(T * T, 1)
        add("distance", torch.matmul(m.reshape(B * L * H, T * T), distance).view(B, L, H).sum(0))

        # entropy of each kept row's renormalised counted weights: log s − Σ m log m / s.
        kept_rows = rows[:, None, None] & (from_mass >= ENTROPY_MIN_MASS)
        # Σ m log m with 0 log 0 = 0: log of m clamped away from 0 is finite, times m = 0 is 0.
        # (log2 times ln 2, as torch's log2 runs twice as fast as its log on CPU; entr and
        # xlogy are slower still.)
        plogm = torch.clamp(m, min=torch.finfo(m.dtype).tiny, out=self._scratch.get("plogm", m.shape, m))
        plogp = row_sums(plogm.log2_().mul_(m)).mul_(math.log(2.0))
        safe = from_mass.clamp(min=ENTROPY_MIN_MASS)
        # A row's entropy is ≥ 0; float rounding of log2 · ln 2 can leave -1e-8 where one
        # target holds all the weight, so clamp it.
        row_entropy = (torch.log(safe) - plogp / safe).clamp_(min=0.0)
        add("entropy", (row_entropy * kept_rows).sum((0, 3)))
        add("entropy_rows", kept_rows.sum((0, 3)))

        # corpus baselines (not weighted by attention), also through words: the number of
        # counted pairs between each two words, against the same dependency masks
        pieces_t = words.pieces.transpose(1, 2)  # [B, W, T]
        counted_words = torch.bmm(torch.bmm(pieces_t, counted_f), words.pieces)  # [B, w, v]
        add("pairs", counted.sum())
        add("dep_pairs", contract(dep_masks, counted_words.flatten(1)))
        add("pos_pairs", contract(counted_f.sum(1), pos_token))

        # Clark et al.: word-level head prediction from raw α on counted pairs.
        clark = pair_sums if raw is m else word_sums(raw, words, self._scratch, tag="raw")
        scores = clark_scores(clark, words)  # in place: the sums above are done with it
        correct = torch.stack([predict_heads(scores, words, d) for d in HEAD_DIRECTIONS], 3)  # [B,L,H,2,W]
        add("head_correct", contract(correct.float(), words_rel))
        add("head_words", contract(words.evaluated.float(), words_rel))
        add("baseline_correct", contract(baseline_hits(words).float(), words_rel))

        best = locate = None
        if want_exemplars:
            # Largest raw α over counted pairs with i ≠ j (SPEC §4). ``raw`` may be ``m``:
            # no sum needs it after this, so its diagonal is cleared in place.
            raw.diagonal(dim1=-2, dim2=-1).zero_()
            pairs = counted & ~torch.eye(T, dtype=torch.bool, device=counted.device)
            best = exemplar_candidates(raw, pairs.any((1, 2)))
            locate = lambda rows, layers, heads: locate_maxima(raw, rows, layers, heads, pairs)  # noqa: E731
        return _Contribution(batch, cell_values, cell_ids, best, locate)

    def _grow(self) -> None:
        """Widen keyed sums to the current vocabularies (new tags/relations start at 0)."""
        sizes = {"pos": len(self.pos_vocab), "deprel": len(self.deprel_vocab)}
        for name, axis in {**_HEAD_SUMS, **_CORPUS_SUMS}.items():
            if axis in sizes:
                extra = sizes[axis] - self.sums[name].shape[-1]
                if extra > 0:
                    self.sums[name] = torch.nn.functional.pad(self.sums[name], (0, extra))

    # -- variability ---------------------------------------------------------------------

    def variability(self) -> torch.Tensor:
        """SPEC §3 variability per head, float64 ``[L, H]`` (NaN with no long sentence):
        Σ |α(x) − ᾱ| over counted cells / (2 Σ α(x)), worked through chunk by chunk."""
        L, H, n = self.num_layers, self.num_heads, VARIABILITY_WINDOW
        if not len(self.cells):
            return torch.full((L, H), float("nan"), dtype=torch.float64)
        mean = (self.sums["var_sum"] / self.sums["var_sentences"]).reshape(L, H, n * n).cpu()
        deviation = torch.zeros(L, H, dtype=torch.float64)
        for values, cells in self.cells.chunks():
            cell_mean = mean[:, :, torch.from_numpy(cells).long()].permute(2, 0, 1)  # [c, L, H]
            deviation += (torch.from_numpy(values).double() - cell_mean).abs().sum(0)
        return deviation / (2 * self.sums["var_mass"].cpu())

    # -- merge and persistence -------------------------------------------------------------

    def merge(self, other: HeadSums) -> HeadSums:
        """A new HeadSums holding both parts' sums (vocabularies joined by name)."""
        out = HeadSums(self.num_layers, self.num_heads, self.causal, self.min_attention, self.device)
        out.add(self)
        out.add(other)
        return out

    def add(self, part: HeadSums) -> None:
        """Add ``part``'s sums into these, in place (a long run adding many parts copies
        nothing it already holds)."""
        if (self.num_layers, self.num_heads, self.causal) != (part.num_layers, part.num_heads, part.causal):
            raise ValueError("cannot merge statistics of models with different layers, heads or causality")
        if self.min_attention != part.min_attention:
            raise ValueError(
                f"cannot merge statistics with different thresholds ({self.min_attention} and {part.min_attention})"
            )
        part._grow()
        pos_ids = torch.tensor([self.pos_vocab.id(k) for k in part.pos_vocab.keys], dtype=torch.long)
        rel_ids = torch.tensor([self.deprel_vocab.id(k) for k in part.deprel_vocab.keys], dtype=torch.long)
        self._grow()
        for name, axis in {**_HEAD_SUMS, **_CORPUS_SUMS}.items():
            value = part.sums[name].to(self.sum_device)
            if axis == "pos":
                self.sums[name].index_add_(value.dim() - 1, pos_ids.to(self.sum_device), value)
            elif axis == "deprel":
                self.sums[name].index_add_(value.dim() - 1, rel_ids.to(self.sum_device), value)
            else:
                self.sums[name] += value
        self.cells.extend(part.cells)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, json-able metadata) for saving."""
        self._grow()
        arrays = {f"sum.{k}": v.cpu().numpy() for k, v in self.sums.items()}
        L, H = self.num_layers, self.num_heads
        # Chunk boundaries too: variability sums chunk by chunk, so the same chunks give
        # bit-identical values after load.
        arrays["cell_values"], arrays["cell_ids"], arrays["cell_chunks"] = self.cells.arrays()
        meta = {
            "num_layers": L,
            "num_heads": H,
            "causal": self.causal,
            "min_attention": self.min_attention,
            "pos_keys": self.pos_vocab.keys,
            "deprel_keys": self.deprel_vocab.keys,
        }
        return arrays, meta

    @classmethod
    def from_state(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], device: torch.device | str = "cpu"
    ) -> HeadSums:
        out = cls(meta["num_layers"], meta["num_heads"], meta["causal"], meta["min_attention"], device)
        out.pos_vocab = Vocabulary(meta["pos_keys"])
        out.deprel_vocab = Vocabulary(meta["deprel_keys"])
        out.sums = {k: torch.from_numpy(np.array(arrays[f"sum.{k}"])).to(out.sum_device) for k in out.sums}
        out.cells = CellStore.from_arrays(arrays["cell_values"], arrays["cell_ids"], arrays.get("cell_chunks"))
        return out


# ------------------------------------------------------------------------- exemplars


def exemplar_candidates(offdiag_attention: torch.Tensor, has_pair: torch.Tensor) -> torch.Tensor:
    """Each sentence's largest weight per head, ``[B, L, H]``.

    ``offdiag_attention`` ``[B, L, H, T, T]`` holds α on counted pairs and 0 elsewhere,
    diagonal included; ``has_pair`` ``[B]`` says whether a sentence has any such pair
    (those without get -inf). Only the value: where it lies matters only for the few
    sentences that enter a head's list (:func:`locate_maxima`), and a maximum with its
    index costs about ten times the maximum alone on the CPU."""
    B, L, H, T, _ = offdiag_attention.shape
    best = offdiag_attention.reshape(B, L, H, T * T).amax(-1)
    return best.masked_fill(~has_pair[:, None, None], float("-inf"))


def locate_maxima(
    offdiag_attention: torch.Tensor, rows: torch.Tensor, layers: torch.Tensor, heads: torch.Tensor, pairs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j) of the largest weight of sentence ``rows[n]``, layer ``layers[n]``, head
    ``heads[n]`` of ``offdiag_attention``, among the counted off-diagonal ``pairs``
    ``[B, T, T]``. Ties go to the first in row-major order: the first row holding the
    maximum, then the first column in it (``argmax`` returns the first). Pairs outside
    ``pairs`` rank below every counted one, so a head whose counted weights are all 0
    still points at a counted pair, as the compiled pass does."""
    T = offdiag_attention.shape[-1]
    values = offdiag_attention[rows, layers, heads].masked_fill(~pairs[rows], -1.0)
    k = values.reshape(len(rows), T * T).argmax(-1)
    return k // T, k % T


class ExemplarTracker:
    """Top-k sentences per head by their largest counted off-diagonal α (SPEC §4).

    Candidates are ordered by weight, then by sentence index (so merging parts in any
    order gives the same list). ``records`` keeps (text, tokens) only for sentences that
    are still in some head's list, so memory stays bounded by L·H·k sentences.
    """

    def __init__(self, num_layers: int, num_heads: int, k: int = 3, device="cpu"):
        self.k = k
        shape = (num_layers, num_heads, 0)
        self.weight = torch.zeros(shape, dtype=torch.float32, device=device)
        self.sentence = torch.zeros(shape, dtype=torch.long, device=device)
        self.i = torch.zeros(shape, dtype=torch.long, device=device)
        self.j = torch.zeros(shape, dtype=torch.long, device=device)
        self.records: dict[int, tuple[str, list[str]]] = {}
        self._pending: dict[int, tuple[str, list[str]]] = {}

    def offer(self, sentence_id: int, text: str, tokens: list[str]) -> None:
        """Make a sentence's text available to the next ``update`` that may rank it."""
        self._pending[sentence_id] = (text, list(tokens))

    def add(self, best: torch.Tensor, sentence_ids, locate) -> None:
        """Offer each sentence's largest weight per head: ``best`` is ``[B, L, H]`` (from
        :func:`exemplar_candidates`), ``sentence_ids`` the sentences' corpus indices, and
        ``locate(rows, layers, heads)`` gives the (i, j) of the weights that enter a list
        (as :func:`locate_maxima` does)."""
        if self.k <= 0:
            return
        B, L, H = best.shape
        device = self.weight.device
        offered = best.float().permute(1, 2, 0).to(device)  # [L, H, B]
        rows = torch.arange(B, device=device)
        ids = torch.as_tensor(list(sentence_ids), dtype=torch.long, device=device)
        if self.weight.shape[-1] == self.k:
            # Every list is full: only sentences that reach some list's last entry can enter
            # (an equal weight might, with a smaller sentence index). Once the lists have
            # filled, that is a few sentences of a batch, or none.
            rows = (offered >= self.weight[..., -1:]).any(1).any(0).nonzero().squeeze(1)
            if not len(rows):
                self._pending = {}
                return
            offered, ids = offered[..., rows], ids[rows]
        B = len(rows)
        # Until located, a new entry's i holds -1 - its row in the batch.
        unplaced = (-1 - rows).expand(L, H, B)
        self._keep(offered, ids.expand(L, H, B), unplaced, torch.zeros_like(unplaced))
        new = self.i < 0
        if bool(new.any()):
            layers, heads, _ = new.nonzero(as_tuple=True)
            to = best.device
            i, j = locate((-1 - self.i[new]).to(to), layers.to(to), heads.to(to))
            self.i[new], self.j[new] = i.to(device), j.to(device)
        self._prune()

    def _keep(self, weight, sentence, i, j) -> None:
        weight = torch.cat([self.weight, weight], -1)
        sentence = torch.cat([self.sentence, sentence], -1)
        i, j = torch.cat([self.i, i], -1), torch.cat([self.j, j], -1)
        by_id = sentence.argsort(dim=-1, stable=True)
        weight, sentence, i, j = (t.gather(-1, by_id) for t in (weight, sentence, i, j))
        by_weight = weight.argsort(dim=-1, descending=True, stable=True)[..., : self.k]
        self.weight, self.sentence, self.i, self.j = (t.gather(-1, by_weight) for t in (weight, sentence, i, j))

    def _prune(self) -> None:
        alive = torch.isfinite(self.weight)
        wanted = set(self.sentence[alive].unique().tolist())
        self.records = {s: r for s, r in {**self.records, **self._pending}.items() if s in wanted}
        self._pending = {}

    def merge(self, other: ExemplarTracker, offset: int = 0) -> ExemplarTracker:
        """Both parts' lists; ``offset`` is added to ``other``'s sentence indices."""
        out = ExemplarTracker(self.weight.shape[0], self.weight.shape[1], max(self.k, other.k), self.weight.device)
        out._keep(self.weight, self.sentence, self.i, self.j)
        move = lambda t: t.to(self.weight.device)  # noqa: E731
        out._keep(move(other.weight), move(other.sentence) + offset, move(other.i), move(other.j))
        out._pending = {**self.records, **{s + offset: r for s, r in other.records.items()}}
        out._prune()
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per (layer, head, rank) with the SPEC §4 fields."""
        weight, sentence = self.weight.cpu(), self.sentence.cpu()
        i, j = self.i.cpu(), self.j.cpu()
        out = []
        L, H, K = weight.shape
        for layer in range(L):
            for head in range(H):
                for rank in range(K):
                    w = float(weight[layer, head, rank])
                    if not np.isfinite(w):
                        continue
                    s = int(sentence[layer, head, rank])
                    text, tokens = self.records[s]
                    out.append(
                        {
                            "layer": layer,
                            "head": head,
                            "rank": rank,
                            "sentence": s,
                            "text": text,
                            "tokens": tokens,
                            "i": int(i[layer, head, rank]),
                            "j": int(j[layer, head, rank]),
                            "weight": w,
                        }
                    )
        return out

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "ex.weight": self.weight.cpu().numpy(),
            "ex.sentence": self.sentence.cpu().numpy(),
            "ex.i": self.i.cpu().numpy(),
            "ex.j": self.j.cpu().numpy(),
        }
        meta = {"k": self.k, "records": {str(s): [t, toks] for s, (t, toks) in self.records.items()}}
        return arrays, meta

    @classmethod
    def from_state(cls, arrays, meta, device="cpu") -> ExemplarTracker:
        weight = torch.from_numpy(np.array(arrays["ex.weight"]))
        out = cls(weight.shape[0], weight.shape[1], meta["k"], device)
        out.weight = weight.to(device)
        out.sentence, out.i, out.j = (
            torch.from_numpy(np.array(arrays[f"ex.{n}"])).to(device) for n in ("sentence", "i", "j")
        )
        out.records = {int(s): (t, list(toks)) for s, (t, toks) in meta["records"].items()}
        return out


# --------------------------------------------------------------------------- results

#: Relations left out of Clark et al.'s task (SPEC §5).
EXCLUDED_RELATIONS = frozenset({"punct", "root"})
#: The pooled relation of SPEC §5.
ALL_RELATIONS = "ALL"


@dataclass
class MetricValues:
    """One metric's values: ``values`` is ``[L, H, K]`` for a per-head metric, ``[K]`` for
    a corpus-level one; ``keys`` names the K entries ("" for a metric with no key)."""

    name: str
    keys: list[str]
    values: np.ndarray
    per_head: bool


def _ratio(numerator, denominator) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(numerator, dtype=np.float64) / np.asarray(denominator, dtype=np.float64)


def clark_relations(sums: HeadSums) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Scored relations (sorted, then ALL) with their word counts ``[R]``, per-head
    correct counts ``[L, H, 2, R]`` and baseline correct counts ``[offsets, R]``."""
    sums._grow()
    keys = sums.deprel_vocab.keys
    words = sums.sums["head_words"].cpu().numpy()
    chosen = sorted(k for k, n in zip(keys, words) if n > 0 and k not in EXCLUDED_RELATIONS)
    index = [keys.index(k) for k in chosen]
    correct = sums.sums["head_correct"].cpu().numpy()[..., index]
    baseline = sums.sums["baseline_correct"].cpu().numpy()[:, index]
    words = words[index]
    return (
        chosen + [ALL_RELATIONS],
        np.append(words, words.sum()),
        np.concatenate([correct, correct.sum(-1, keepdims=True)], -1),
        np.concatenate([baseline, baseline.sum(-1, keepdims=True)], -1),
    )


def baseline_offsets(sums: HeadSums) -> dict[str, tuple[float, int]]:
    """Per relation (and ALL): the best fixed offset's accuracy and the offset."""
    relations, words, _, baseline = clark_relations(sums)
    accuracy = _ratio(baseline, words[None, :])  # [offsets, R]
    best = accuracy.argmax(0)
    return {r: (float(accuracy[best[k], k]), BASELINE_OFFSETS[best[k]]) for k, r in enumerate(relations)}


def metric_values(sums: HeadSums) -> dict[str, MetricValues]:
    """Every SPEC §3–§5 number computed from the sums, by metric name."""
    sums._grow()
    s = {k: v.cpu().numpy() for k, v in sums.sums.items()}
    mass = s["mass"][..., None]
    pos_keys, rel_keys = list(sums.pos_vocab.keys), list(sums.deprel_vocab.keys)
    head = lambda name, keys, values: MetricValues(name, keys, values, True)  # noqa: E731
    corpus = lambda name, keys, values: MetricValues(name, keys, values, False)  # noqa: E731
    relations, words, correct, baseline = clark_relations(sums)
    L, H = sums.num_layers, sums.num_heads
    out = [
        head("first_token", [""], _ratio(s["first_token"], s["first_token_rows"])[..., None]),
        head("pos_to", pos_keys, _ratio(s["pos_to"], mass)),
        head("pos_from", pos_keys, _ratio(s["pos_from"], mass)),
        head("dep_align", list(DEP_DIRECTIONS), _ratio(s["dep_align"], mass)),
        head("dep_to", rel_keys, _ratio(s["dep_to"], mass)),
        head("distance", [""], _ratio(s["distance"][..., None], mass)),
        head("entropy", [""], _ratio(s["entropy"], s["entropy_rows"])[..., None]),
        head("variability", [""], sums.variability().numpy()[..., None]),
        head(
            "head_accuracy",
            [f"{r}:{d}" for d in HEAD_DIRECTIONS for r in relations],
            _ratio(correct, words).reshape(L, H, len(HEAD_DIRECTIONS) * len(relations)),
        ),
        corpus("dep_align_baseline", list(DEP_DIRECTIONS), _ratio(s["dep_pairs"], s["pairs"])),
        corpus("pos_frequency", pos_keys, _ratio(s["pos_pairs"], s["pairs"])),
        corpus("head_accuracy_baseline", relations, _ratio(baseline, words[None, :]).max(0)),
    ]
    return {m.name: m for m in out}
