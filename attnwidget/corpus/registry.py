"""Every corpus metric, once: its SPEC section, paper figure, titles, key, bounds and docs.

The tidy table (:mod:`attnwidget.corpus.stats`), the figures (:mod:`attnwidget.corpus.plots`),
the head explorer's grids and the report page all read this list instead of keeping their
own. Each entry also names the sums its value is a ratio of: the same names key the sums
in both backends, so a metric's arithmetic is found by its name, once per backend —
``add("dep_align", ...)`` in :class:`attnwidget.corpus.metrics.HeadSums` (tensor
code) and ``dep_align[lh, ...]`` in :mod:`attnwidget.corpus.compiled` (the CPU's compiled
pass) — and the final ratio in :func:`attnwidget.corpus.metrics.metric_values`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric of the corpus analysis."""

    name: str
    spec: str  #: its section of SPEC.md
    title: str  #: what one value is, as a figure's title ("{key}" where it has keys)
    key: str | None  #: what its key names (None: it has none)
    definition: str  #: one sentence; docs/metrics.md's section on it opens with the same
    sums: tuple[str, ...]  #: the sums (numerator first) its value is a ratio of, in both backends
    figure: int | None = None  #: Vig & Belinkov's figure it reproduces
    overview: str | None = None  #: title of a figure that shows every key at once
    bounded: bool = True  #: a share in [0, 1] (False: its colour scale is the data's range)
    per_head: bool = True  #: one value per layer × head (False: a corpus-level baseline)
    plot: str | None = None  #: how the paper draws it: "heatmap" (per head) or "lines" (per layer)
    grid: int | None = None  #: its place in the head explorer's metric selector (None: not there)
    report: tuple[tuple[str | None, str], ...] = ()  #: the report page's figures: (key, caption)

    @property
    def anchor(self) -> str:
        """Its section of docs/metrics.md (``docs/metrics.md#<anchor>``)."""
        return self.name


REGISTRY: tuple[Metric, ...] = (  # in the order of the tidy table (SPEC §6)
    Metric(
        "first_token",
        "§3",
        "Attention to the first token",
        None,
        'The mean weight that a token puts on the first position of its input: the "null attention" '
        "that every other metric leaves out.",
        sums=("first_token", "first_token_rows"),
        figure=5,
        plot="heatmap",
        grid=5,
        report=((None, "Fig. 5: attention to the first token, per head"),),
    ),
    Metric(
        "pos_to",
        "§3",
        "Attention to {key}",
        "UPOS tag",
        "Of a head's counted attention, the share that goes to tokens of words with a given part-of-speech tag.",
        sums=("pos_to", "mass"),
        figure=6,
        overview="Attention to each part of speech",
        plot="heatmap",
        grid=1,
        report=((None, "Fig. 6: attention to each part of speech, per head"),),
    ),
    Metric(
        "pos_from",
        "§3",
        "Attention from {key}",
        "UPOS tag",
        "Of a head's counted attention, the share that comes from tokens of words with a given part-of-speech tag.",
        sums=("pos_from", "mass"),
        figure=7,
        overview="Attention from each part of speech",
        plot="heatmap",
        grid=2,
        report=((None, "Fig. 7: attention from each part of speech, per head"),),
    ),
    Metric(
        "dep_align",
        "§3",
        "Attention aligned with dependency relations",
        "direction",
        "Of a head's counted attention, the share that goes between tokens of two words in a "
        "dependency relation, one being the other's syntactic head.",
        sums=("dep_align", "mass"),
        figure=8,
        overview="Attention aligned with dependency relations (dashed: share of pairs that are)",
        plot="lines",
        grid=0,
        report=(
            (None, "Fig. 8: attention aligned with dependency relations, per layer, with the share of pairs that are"),
        ),
    ),
    Metric(
        "dep_to",
        "§3",
        "Attention to words with relation {key}",
        "relation",
        "Of a head's counted attention, the share that goes to tokens of words attached to their head "
        "by a given dependency relation.",
        sums=("dep_to", "mass"),
        figure=9,
        overview="Attention to words of each relation",
        plot="heatmap",
        grid=3,
        report=((None, "Fig. 9: attention to words of each relation, per layer"),),
    ),
    Metric(
        "distance",
        "§3",
        "Mean attention distance (tokens)",
        None,
        "The attention-weighted mean distance, in token positions, between a token and the tokens it attends to.",
        sums=("distance", "mass"),
        figure=11,
        bounded=False,
        plot="heatmap",
        grid=6,
        report=((None, "Fig. 11: mean attention distance, per head"),),
    ),
    Metric(
        "entropy",
        "§3",
        "Mean attention entropy (nats)",
        None,
        "How spread out a token's counted attention is: the mean entropy, in nats, of each token's "
        "counted weights rescaled to sum to 1.",
        sums=("entropy", "entropy_rows"),
        figure=12,
        bounded=False,
        plot="heatmap",
        grid=7,
        report=((None, "Fig. 12: mean attention entropy, per head"),),
    ),
    Metric(
        "variability",
        "§3",
        "Attention variability",
        None,
        "How much a head's attention over the first 10 positions changes from sentence to sentence: "
        "0 when it is the same in every sentence.",
        sums=("var_sum", "var_mass"),
        figure=10,
        plot="heatmap",
        grid=8,
        report=((None, "Fig. 10: attention variability across sentences, per head"),),
    ),
    Metric(
        "head_accuracy",
        "§5",
        "Dependency-head accuracy, {key}",
        "relation:direction",
        "How often a word's syntactic head is the word it attends to most (dependent_to_head) or "
        "the word that attends to it most (head_to_dependent), per relation (Clark et al. 2019).",
        sums=("head_correct", "head_words"),
        overview="Dependency-head accuracy per relation",
        plot="heatmap",
        grid=4,
        report=(
            ("ALL:dependent_to_head", "Clark et al.: dependency-head accuracy, all relations, dependent → head"),
            ("ALL:head_to_dependent", "Clark et al.: dependency-head accuracy, all relations, head → dependent"),
        ),
    ),
    Metric(
        "dep_align_baseline",
        "§3",
        "Share of counted pairs in a dependency relation",
        "direction",
        "The share of counted token pairs that are in a dependency relation, not weighted by "
        "attention: what dep_align would be if a head spread its attention equally over all "
        "counted pairs.",
        sums=("dep_pairs", "pairs"),
        per_head=False,
    ),
    Metric(
        "pos_frequency",
        "§3",
        "Share of counted pairs attending to {key}",
        "UPOS tag",
        "The share of counted token pairs whose attended token has a given part-of-speech tag, not "
        "weighted by attention: the baseline for pos_to.",
        sums=("pos_pairs", "pairs"),
        per_head=False,
    ),
    Metric(
        "head_accuracy_baseline",
        "§5",
        "Best fixed-offset accuracy, {key}",
        "relation",
        "The accuracy of the best fixed-offset guess at each word's head (always the word "
        "k places away, k from −3 to +3), per relation: the baseline for head_accuracy.",
        sums=("baseline_correct", "head_words"),
        per_head=False,
    ),
)

#: The metrics by name.
BY_NAME: dict[str, Metric] = {m.name: m for m in REGISTRY}


def names(**where) -> tuple[str, ...]:
    """The names of the metrics whose fields equal ``where`` (``names(per_head=False)``), in
    the tidy table's order."""
    return tuple(m.name for m in REGISTRY if all(getattr(m, k) == v for k, v in where.items()))
