"""AttentionStats: the result of :func:`attnwidget.analyze` — tables, exemplars, plots.

It holds the additive sums of ``metrics.HeadSums`` (so two results merge), the top-k
exemplars per head, and a summary of the corpus. Every number is derived from the sums
on demand, by the definitions of docs/metrics.md (SPEC §3–§6).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from attnwidget.corpus.atomic import replacing_file
from attnwidget.corpus.coverage import Coverage, CoverageOverlapError
from attnwidget.corpus.folder_names import CHECKPOINT_DIR, STATE_FILE, STATE_FORMAT, STATS_FILE
from attnwidget.corpus.metrics import (
    ALL_RELATIONS,
    DEP_DIRECTIONS,
    HEAD_DIRECTIONS,
    ExemplarTracker,
    HeadSums,
    MetricValues,
    baseline_offsets,
    clark_relations,
    metric_values,
)
from attnwidget.corpus.plots import plot_metric
from attnwidget.corpus.registry import names
from attnwidget.corpus.shown_paths import relative_to as shown_path
from attnwidget.errors import AttnWidgetError
from attnwidget.keywords import checked_keywords

#: Order of metrics in the tidy table.
METRICS = names()
_FORMAT = "attnwidget.AttentionStats/1"
SKIP_DUPLICATE = "duplicate of an earlier sentence"
#: How many skipped sentences the summary quotes per reason (the counts are always complete).
MAX_SKIP_EXAMPLES = 10
#: Reasons of skips caused by an unexpected error start so; the summary quotes them.
ERROR_REASON_PREFIX = "error "


@dataclass
class CorpusSummary:
    """What was analysed, and what was left out and why.

    ``entries`` counts corpus entries read (blank and skipped ones included; exemplar
    sentence indices point into them). ``skipped`` maps a reason to a count;
    ``skip_examples`` quotes the first few as ``[index, reason, detail]``. ``multi_sentence``
    counts inputs that spaCy split into several sentences (each kept as one input),
    ``duplicates`` repeats of an earlier sentence (kept unless dropped, then also skipped).
    ``shards``/``shard_count`` say which shards of a split corpus this covers.

    ``coverage`` is the set of entry indices accounted for (analysed or skipped), None
    when unknown (files saved before it was recorded); ``corpus_fingerprint`` and
    ``model_fingerprint`` (:mod:`attnwidget.corpus.fingerprint`) tell one corpus or model from
    another, so :meth:`AttentionStats.merge` knows shards of one corpus from two corpora.
    """

    corpus: str = ""
    model: str = ""
    annotations: str = ""
    min_attention: float | None = None
    entries: int = 0
    sentences: int = 0
    tokens: int = 0
    annotated_tokens: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skip_examples: list[list] = field(default_factory=list)
    duplicates: int = 0
    truncated: int = 0
    multi_sentence: int = 0
    interrupted: bool = False
    shards: list[int] | None = None
    shard_count: int | None = None
    coverage: Coverage | None = None
    corpus_fingerprint: str | None = None
    model_fingerprint: str | None = None

    def __post_init__(self):
        if self.coverage is not None and not isinstance(self.coverage, Coverage):
            self.coverage = Coverage.from_json(self.coverage)

    def skip(self, index: int, reason: str, detail: str = "") -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if self.skipped[reason] <= MAX_SKIP_EXAMPLES:
            self.skip_examples.append([index, reason, detail])

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(dataclasses.replace(self, coverage=None))
        out["coverage"] = None if self.coverage is None else self.coverage.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorpusSummary:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def merged_with(self, other: CorpusSummary, same_corpus: bool) -> CorpusSummary:
        skipped = dict(self.skipped)
        for reason, n in other.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
        offset = 0 if same_corpus else self.entries
        examples, per_reason = [], {}
        for example in sorted(self.skip_examples + [[i + offset, r, d] for i, r, d in other.skip_examples]):
            per_reason[example[1]] = per_reason.get(example[1], 0) + 1
            if per_reason[example[1]] <= MAX_SKIP_EXAMPLES:
                examples.append(example)
        coverage = None
        if self.coverage is not None and other.coverage is not None:
            coverage = self.coverage.join(other.coverage if same_corpus else other.coverage.shifted(offset))
        fingerprint = self.corpus_fingerprint if same_corpus else None
        if not same_corpus and self.corpus_fingerprint and other.corpus_fingerprint:
            fingerprint = "+".join([self.corpus_fingerprint, str(self.entries), other.corpus_fingerprint])
        return CorpusSummary(
            corpus=self.corpus if same_corpus or self.corpus == other.corpus else f"{self.corpus} + {other.corpus}",
            model=self.model,
            annotations=self.annotations,
            min_attention=self.min_attention,
            entries=max(self.entries, other.entries) if same_corpus else self.entries + other.entries,
            sentences=self.sentences + other.sentences,
            tokens=self.tokens + other.tokens,
            annotated_tokens=self.annotated_tokens + other.annotated_tokens,
            skipped=skipped,
            skip_examples=examples,
            duplicates=self.duplicates + other.duplicates,
            truncated=self.truncated + other.truncated,
            multi_sentence=self.multi_sentence + other.multi_sentence,
            interrupted=self.interrupted or other.interrupted,
            shards=(
                sorted(set(self.shards) | set(other.shards))
                if same_corpus and self.shards is not None and other.shards is not None
                else None
            ),
            shard_count=self.shard_count if same_corpus and self.shard_count == other.shard_count else None,
            coverage=coverage,
            corpus_fingerprint=fingerprint,
            model_fingerprint=self.model_fingerprint if self.model_fingerprint == other.model_fingerprint else None,
        )

    def describe(self, relative_to: str | Path | None = None) -> str:
        """The summary in lines; ``relative_to``: a folder to show the corpus path from
        (where the page or file that prints it is written)."""
        corpus = shown_path(self.corpus, relative_to)
        lines = [
            f"{self.sentences} sentences, {self.tokens} tokens ({self.annotated_tokens} annotated)"
            f" from {corpus or 'the corpus'} ({self.entries} entries read)"
        ]
        for reason, n in sorted(self.skipped.items()):
            lines.append(f"skipped {n}: {reason}")
            if reason.startswith(ERROR_REASON_PREFIX) or reason == "invalid CoNLL-U":
                quoted = [e for e in self.skip_examples if e[1] == reason]
                lines += [f"    entry {index}: {detail}" for index, _, detail in quoted]
                if n > len(quoted):
                    lines.append(f"    … and {n - len(quoted)} more")
        if self.duplicates and SKIP_DUPLICATE not in self.skipped:
            lines.append(f"repeats of an earlier sentence (kept): {self.duplicates}")
        if self.truncated:
            lines.append(f"truncated to the model's window: {self.truncated}")
        if self.multi_sentence:
            lines.append(f"split by spaCy into several sentences (each kept as one input): {self.multi_sentence}")
        if self.shard_count:
            lines.append(f"shards {','.join(map(str, self.shards or []))} of {self.shard_count}")
        if self.coverage is not None:
            lines.append(f"covers {self.coverage.describe()}")
        if self.interrupted:
            lines.append("INTERRUPTED: these statistics cover only the sentences analysed before the interrupt")
        return "\n".join(lines)


class AttentionStats:
    """Per-head attention statistics of a corpus (Vig & Belinkov 2019; Clark et al. 2019).

    Build it with :func:`attnwidget.analyze`; combine parts with :meth:`merge`; read it
    with :meth:`to_frame`, :meth:`values`, :meth:`table`, :meth:`baseline`,
    :meth:`exemplars`, :meth:`head_accuracy_table`, :meth:`plot`. Every metric is defined,
    with its formula and a worked example, in docs/metrics.md of the attnwidget
    repository (one section per metric: docs/metrics.md#dep_align, …).
    """

    def __init__(self, sums: HeadSums, exemplar_tracker: ExemplarTracker, summary: CorpusSummary):
        self.sums = sums
        self.exemplar_tracker = exemplar_tracker
        self.summary = summary
        self._values: dict[str, MetricValues] | None = None

    # -- shape -------------------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return self.sums.num_layers

    @property
    def num_heads(self) -> int:
        return self.sums.num_heads

    def __repr__(self) -> str:
        return (
            f"AttentionStats({self.summary.model!r}, {self.num_layers} layers × {self.num_heads} heads, "
            f"{self.summary.sentences} sentences{', INTERRUPTED' if self.summary.interrupted else ''})"
        )

    # -- values ------------------------------------------------------------------------

    def metric_values(self) -> dict[str, MetricValues]:
        if self._values is None:
            self._values = metric_values(self.sums)
        return self._values

    @checked_keywords
    def keys(self, metric: str) -> list[str]:
        """The keys of a metric (tags, relations, directions); ``[""]`` when it has none."""
        return list(self._get(metric).keys)

    @checked_keywords
    def values(self, metric: str, key: str | None = None) -> np.ndarray:
        """Per-head metric as a float64 ``[layers, heads]`` array (``key`` for keyed ones)."""
        values = self._get(metric)
        if not values.per_head:
            raise ValueError(f"{metric!r} is corpus-level; use baseline({metric!r})")
        return values.values[..., self._key_index(values, key)].copy()

    @checked_keywords
    def table(self, metric: str, key: str | None = None) -> pd.DataFrame:
        """Layer × head DataFrame of one metric and key (index ``layer``, columns ``head``)."""
        frame = pd.DataFrame(self.values(metric, key))
        frame.index.name, frame.columns.name = "layer", "head"
        return frame

    @checked_keywords
    def by_layer(self, metric: str, key: str | None = None) -> np.ndarray:
        """``[layers]``: the metric with all heads of a layer pooled (Σ numerators / Σ
        denominators over the layer's heads, as the paper's per-layer figures); metrics that
        are not a share of attention give the mean over heads."""
        pooled = {
            "pos_to": self.sums.pos_vocab.keys,
            "pos_from": self.sums.pos_vocab.keys,
            "dep_to": self.sums.deprel_vocab.keys,
            "dep_align": list(DEP_DIRECTIONS),
            "distance": [""],
        }
        if metric not in pooled:
            return np.nanmean(self.values(metric, key), axis=1)
        keys = pooled[metric]
        index = self._key_index(MetricValues(metric, list(keys), np.empty(0), True), key)
        numerator = self.sums.sums[metric].cpu().numpy()
        numerator = numerator if metric == "distance" else numerator[..., index]
        with np.errstate(divide="ignore", invalid="ignore"):
            return numerator.sum(1) / self.sums.sums["mass"].cpu().numpy().sum(1)

    @checked_keywords
    def baseline(self, metric: str) -> pd.Series:
        """A corpus-level metric (``dep_align_baseline``, ``pos_frequency``,
        ``head_accuracy_baseline``) as a Series indexed by key."""
        values = self._get(metric)
        if values.per_head:
            raise ValueError(f"{metric!r} is per head; use values() or table()")
        return pd.Series(values.values, index=pd.Index(values.keys, name="key"), name=metric)

    def _get(self, metric: str) -> MetricValues:
        values = self.metric_values()
        if metric not in values:
            raise KeyError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
        return values[metric]

    @staticmethod
    def _key_index(values: MetricValues, key: str | None) -> int:
        if key is None:
            if values.keys == [""]:
                return 0
            raise ValueError(f"{values.name!r} needs a key: one of {', '.join(values.keys)}")
        if key not in values.keys:
            raise KeyError(f"{values.name!r} has no key {key!r}; it has {', '.join(values.keys)}")
        return values.keys.index(key)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (docs/metrics.md#tidy-table): ``metric, layer, head, key, value``;
        corpus-level rows have no layer and head."""
        return frame_from(self.metric_values(), self.num_layers, self.num_heads)

    # -- exemplars and Clark's table ----------------------------------------------------

    @checked_keywords
    def exemplars(self, layer: int, head: int) -> list[dict[str, Any]]:
        """The head's top sentences (docs/metrics.md#exemplars), best first."""
        return [r for r in self.exemplar_tracker.rows() if r["layer"] == layer and r["head"] == head]

    def exemplar_rows(self) -> list[dict[str, Any]]:
        """Every head's exemplars, as the rows of ``exemplars.jsonl``."""
        return self.exemplar_tracker.rows()

    @checked_keywords
    def head_accuracy_table(self, direction: str | None = None) -> pd.DataFrame:
        """Clark et al.'s Table 1: per relation the best head, its accuracy, and the best
        fixed-offset baseline with its offset. ``direction`` is one of
        ``dependent_to_head``/``head_to_dependent``; by default the better of the two."""
        directions = HEAD_DIRECTIONS if direction is None else (direction,)
        if any(d not in HEAD_DIRECTIONS for d in directions):
            raise ValueError(f"direction must be one of {HEAD_DIRECTIONS}")
        relations, words, correct, _ = clark_relations(self.sums)
        baselines = baseline_offsets(self.sums)
        rows = []
        for r, relation in enumerate(relations):
            best = None
            for d in directions:
                accuracy = correct[:, :, HEAD_DIRECTIONS.index(d), r] / words[r]
                layer, head = np.unravel_index(int(np.argmax(accuracy)), accuracy.shape)
                if best is None or accuracy[layer, head] > best[0]:
                    best = (float(accuracy[layer, head]), d, int(layer), int(head))
            base, offset = baselines[relation]
            rows.append(
                {
                    "relation": relation,
                    "count": int(words[r]),
                    "direction": best[1],
                    "layer": best[2],
                    "head": best[3],
                    "best_head": f"{best[2]}-{best[3]}",
                    "accuracy": best[0],
                    "baseline": base,
                    "baseline_offset": offset,
                }
            )
        frame = pd.DataFrame(
            rows,
            columns=[
                "relation",
                "count",
                "direction",
                "layer",
                "head",
                "best_head",
                "accuracy",
                "baseline",
                "baseline_offset",
            ],
        )
        order = (frame["relation"] != ALL_RELATIONS).astype(int)
        return (
            frame.assign(_o=order)
            .sort_values(["_o", "count", "relation"], ascending=[True, False, True])
            .drop(columns="_o")
            .reset_index(drop=True)
        )

    # -- combine, save, plot -------------------------------------------------------------

    @checked_keywords
    def merge(
        self, other: AttentionStats, different_corpora: bool = False, unknown_coverage: bool = False
    ) -> AttentionStats:
        """Both parts as if analysed at once.

        Parts of one corpus (the same ``corpus_fingerprint``: shards, blocks, a run and its
        continuation) keep their corpus-wide sentence indices, and may not overlap: each
        entry may be counted once, so merging a result with itself, or a shard with a whole
        run, raises :class:`~attnwidget.corpus.coverage.CoverageOverlapError` naming the entries
        both cover. Parts of different corpora raise too, unless ``different_corpora``:
        then ``other``'s entries follow this one's (its indices shifted past them), and
        nothing is checked for overlap: you said they are different texts.

        Statistics saved before attnwidget recorded coverage cannot be checked; merging
        them needs ``unknown_coverage=True`` (shards of one corpus are then recognised,
        as before, by name, shard count and entry count)."""
        same_corpus = self._joinable(other, different_corpora, unknown_coverage)
        offset = 0 if same_corpus else self.summary.entries
        return AttentionStats(
            self.sums.merge(other.sums),
            self.exemplar_tracker.merge(other.exemplar_tracker, offset),
            self.summary.merged_with(other.summary, same_corpus),
        )

    def absorb(self, other: AttentionStats) -> None:
        """:meth:`merge` a part of the same corpus into this one, in place: a cluster's
        driver adds every block so, without copying what it already holds each time."""
        self._joinable(other, False, False)
        self.sums.add(other.sums)
        self.exemplar_tracker = self.exemplar_tracker.merge(other.exemplar_tracker)
        self.summary = self.summary.merged_with(other.summary, True)
        self._values = None

    def _joinable(self, other: AttentionStats, different_corpora: bool, unknown_coverage: bool) -> bool:
        """Whether both are parts of one corpus; raises where they cannot be merged."""
        a, b = self.summary, other.summary
        if a.model != b.model or a.annotations != b.annotations:
            raise ValueError(f"cannot merge statistics of {a.model!r}/{a.annotations} with {b.model!r}/{b.annotations}")
        if a.model_fingerprint and b.model_fingerprint and a.model_fingerprint != b.model_fingerprint:
            raise ValueError(
                f"cannot merge statistics of two different models both named {a.model!r} "
                f"(fingerprints {a.model_fingerprint} and {b.model_fingerprint}: "
                "different weights, configuration or tokenizer)"
            )
        if different_corpora:
            same_corpus = False
        elif a.coverage is None or b.coverage is None:
            if not unknown_coverage:
                old = " and ".join(repr(s.corpus) for s in (a, b) if s.coverage is None)
                raise ValueError(
                    f"the statistics of {old} do not record which sentences they cover (saved by "
                    "an older attnwidget), so overlaps cannot be checked; merge with "
                    "unknown_coverage=True (CLI: --unknown-coverage) if you know the parts are "
                    "disjoint, or analyse again"
                )
            same_corpus = (
                a.shard_count is not None
                and a.shard_count == b.shard_count
                and a.corpus == b.corpus
                and a.entries == b.entries
            )
            if same_corpus and set(a.shards or []) & set(b.shards or []):
                raise ValueError(
                    f"shards {sorted(set(a.shards) & set(b.shards))} of {a.corpus} "
                    "appear in both parts; each shard may be merged once"
                )
        else:
            if a.corpus_fingerprint != b.corpus_fingerprint:
                raise ValueError(
                    f"these are analyses of different corpora ({a.corpus!r}: {a.corpus_fingerprint}; "
                    f"{b.corpus!r}: {b.corpus_fingerprint}); shards of one corpus must be read from "
                    "identical files. To append one corpus to another, pass different_corpora=True "
                    "(CLI: --different-corpora)"
                )
            overlap = a.coverage & b.coverage
            if overlap:
                raise CoverageOverlapError(
                    f"both parts cover {overlap.describe()} of {a.corpus}; each sentence may be merged once "
                    f"(one part covers {a.coverage.describe()}, the other {b.coverage.describe()})",
                    overlap,
                )
            same_corpus = True
        return same_corpus

    @checked_keywords
    def save(self, path: str | Path) -> Path:
        """Write everything to one ``.npz`` file (atomically: a reader, or a crash, sees the
        old file or the new one); :meth:`load` gives it back exactly."""
        path = Path(path)
        arrays, sums_meta = self.sums.state()
        ex_arrays, ex_meta = self.exemplar_tracker.state()
        meta = {"format": _FORMAT, "sums": sums_meta, "exemplars": ex_meta, "summary": self.summary.to_json()}
        encoded = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing_file(path) as handle:  # a file object: numpy adds no ".npz" suffix
            np.savez_compressed(handle, meta=encoded, **arrays, **ex_arrays)
        return path

    @classmethod
    @checked_keywords
    def load(cls, path: str | Path) -> AttentionStats:
        """A file :meth:`save` wrote, or an output folder of ``analyze(out=...)``, ``attnwidget
        analyze`` or ``merge`` (complete, or the checkpoint of an unfinished run)."""
        if Path(path).is_dir():
            return load_output(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved AttentionStats file")
        return cls(
            HeadSums.from_state(arrays, meta["sums"]),
            ExemplarTracker.from_state(arrays, meta["exemplars"]),
            CorpusSummary.from_json(meta["summary"]),
        )

    @checked_keywords
    def plot(
        self,
        metric: str,
        key: str | None = None,
        ax=None,
        *,
        path: str | Path | None = None,
        width_in: float | None = None,
        height_in: float | None = None,
        dpi: float = 300,
    ):
        """The paper's figure for a metric: a layer × head heat map (Figs 5–7, 10–12) or,
        for ``dep_align`` and ``dep_to``, per-layer lines with the baseline (Figs 8–9).

        ``path``: also write it there (``.png``, ``.svg`` with text as text, or ``.pdf``),
        replacing the file whole, ``width_in`` x ``height_in`` inches at ``dpi``."""
        return plot_metric(self, metric, key, ax=ax, path=path, width_in=width_in, height_in=height_in, dpi=dpi)


def frame_from(values: dict[str, MetricValues], num_layers: int, num_heads: int) -> pd.DataFrame:
    """The tidy table of SPEC §6 from computed metric values."""
    layer_grid, head_grid = np.meshgrid(np.arange(num_layers), np.arange(num_heads), indexing="ij")
    parts = []
    for name in METRICS:
        m = values[name]
        order = sorted(range(len(m.keys)), key=lambda k: m.keys[k])
        for k in order:
            if m.per_head:
                parts.append(
                    pd.DataFrame(
                        {
                            "metric": name,
                            "layer": layer_grid.ravel(),
                            "head": head_grid.ravel(),
                            "key": m.keys[k],
                            "value": m.values[..., k].ravel(),
                        }
                    )
                )
            else:
                parts.append(
                    pd.DataFrame(
                        {
                            "metric": [name],
                            "layer": [pd.NA],
                            "head": [pd.NA],
                            "key": [m.keys[k]],
                            "value": [m.values[k]],
                        }
                    )
                )
    frame = pd.concat(parts, ignore_index=True)
    frame["layer"] = frame["layer"].astype("Int64")
    frame["head"] = frame["head"].astype("Int64")
    frame["value"] = frame["value"].astype(float)
    return frame


# ------------------------------------------------------- reading an output folder back


def load_checkpoint(path: str | Path):
    """(stats, segments) of the checkpoint in an output folder."""
    folder = Path(path) / CHECKPOINT_DIR
    try:
        with np.load(folder / STATE_FILE, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        if meta.get("format") != STATE_FORMAT:
            raise ValueError("not an attnwidget checkpoint")
        L, H = meta["sums"]["num_layers"], meta["sums"]["num_heads"]
        arrays.update(
            cell_values=np.zeros((0, L, H), np.float32),
            cell_ids=np.zeros(0, np.int16),
            cell_chunks=np.zeros(0, np.int64),
        )
        sums = HeadSums.from_state(arrays, meta["sums"])
        for name, _ in meta["segments"]:
            with np.load(folder / name, allow_pickle=False) as segment:
                values, ids, chunks = segment["values"], segment["ids"], segment["chunks"]
            start = 0
            for n in chunks:
                sums.cells.append(values[start : start + n], ids[start : start + n])
                start += n
    except (OSError, ValueError, KeyError) as exc:
        raise AttnWidgetError(f"{folder}: the checkpoint cannot be read ({exc}); start over with --restart") from exc
    stats = AttentionStats(
        sums, ExemplarTracker.from_state(arrays, meta["exemplars"]), CorpusSummary.from_json(meta["summary"])
    )
    return stats, [tuple(s) for s in meta["segments"]]


def load_output(path: str | Path):
    """The statistics of an output folder: complete (``stats.npz``) or a checkpoint."""
    path = Path(path)
    if (path / STATS_FILE).is_file():
        return AttentionStats.load(path / STATS_FILE)
    if (path / CHECKPOINT_DIR / STATE_FILE).is_file():
        return load_checkpoint(path)[0]
    raise AttnWidgetError(f"{path}: no {STATS_FILE} or checkpoint; give a folder written by `attnwidget analyze`")
