"""HeadExplorer: every head's corpus statistics as a layer × head grid, with exemplars.

The browser gets, once, every per-head metric of an :class:`AttentionStats` as float32
grids (``_stats``) and the exemplar sentences as text (``_exemplars``). Clicking an
exemplar opens the sentence in the AttentionWidget's own views (``js/src/views/attention_app.ts``): with a
model at hand the kernel computes that sentence's attention on request; an exported file
carries, for each exemplar sentence, the quantised attention of the layers its exemplars
come from. Without a model the explorer shows grids and exemplar text only and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from attnwidget.choices import Choice, GridMode, Theme
from attnwidget.corpus.definitions import DEFINITIONS
from attnwidget.corpus.plots import TITLES, frequent_keys
from attnwidget.corpus.registry import REGISTRY, names
from attnwidget.corpus.stats import AttentionStats
from attnwidget.errors import AttnWidgetError, SpacyPipelineError
from attnwidget.explorer.page import explorer_page
from attnwidget.keywords import checked_keywords, trait_names
from attnwidget.pictures.methods import GridPictures
from attnwidget.progress import bar
from attnwidget.text.sentence import annotate
from attnwidget.text.syntax import iter_conllu, parse_spacy
from attnwidget.transformer.loading import load_model
from attnwidget.widget.js_bundles import esm
from attnwidget.widget.lifetime import ClosingWidget
from attnwidget.widget.model_input import self_attention_inputs
from attnwidget.widget.payload import (
    AttentionData,
    decode_array,
    encode_array,
    layer_payload,
    meta_payload,
    neuron_payload,
    payload_size,
    thumbnails_payload,
    with_base64,
)
from attnwidget.widget.protocol import index, lifted, reply_to, split_buffers

#: The per-head metrics a grid can show, in the order of the selector.
GRID_METRICS = tuple(m.name for m in sorted((m for m in REGISTRY if m.grid is not None), key=lambda m: m.grid))
#: Metrics whose values are not shares of attention in [0, 1] (their colour scale is the data's range).
UNBOUNDED = names(bounded=False)
#: Exemplar sentences whose neuron-view vectors (every layer of each) stay in memory.
KEEP_NEURON_SENTENCES = 4
#: Bytes of exemplar attention kept for browsing (the sentences opened last); at least one
#: sentence is kept. A 32 x 32-head model's 100-token sentence is 41 MB.
KEEP_ATTENTION_BYTES = 256 << 20


# ---------------------------------------------------------------------- statistics


def default_key(stats: AttentionStats, metric: str) -> str:
    """The key a metric opens on: the paper's headline one, else the most attended."""
    keys = stats.keys(metric)
    preferred = {"dep_align": "either", "head_accuracy": "ALL:dependent_to_head"}.get(metric)
    if preferred in keys:
        return preferred
    if keys == [""] or not keys:
        return ""
    return frequent_keys(stats, metric)[0]


def baseline(stats: AttentionStats, metric: str, key: str) -> float | None:
    """The corpus baseline a per-layer line is read against, where docs/metrics.md defines one:
    the share of counted pairs that are dependencies (``dep_align``), the share of pairs
    whose target has the tag (``pos_to``), the best fixed offset (``head_accuracy``)."""
    table, k = {
        "dep_align": ("dep_align_baseline", key),
        "pos_to": ("pos_frequency", key),
        "head_accuracy": ("head_accuracy_baseline", key.rsplit(":", 1)[0]),
    }.get(metric, (None, None))
    if table is None:
        return None
    series = stats.baseline(table)
    value = float(series[k]) if k in series.index else float("nan")
    return value if np.isfinite(value) else None


def grids_payload(stats: AttentionStats, like: AttentionStats | None = None) -> dict:
    """Every per-head metric and key as float32 grids ``[G, L, H]`` plus per-layer lines
    ``[G, L]``; ``like`` takes the metric/key list from another stats (NaN where absent)."""
    reference = like or stats
    metrics, grids, lines = [], [], []
    L, H = stats.num_layers, stats.num_heads
    for name in GRID_METRICS:
        keys = reference.keys(name)
        own = set(stats.keys(name))
        metrics.append(
            {
                "name": name,
                "title": TITLES[name],
                "definition": DEFINITIONS[name],
                "keys": keys,
                "default": default_key(reference, name),
                "bounded": name not in UNBOUNDED,
                "baseline": [baseline(stats, name, k) if k in own else None for k in keys],
            }
        )
        for key in keys:
            if key in own:
                grids.append(stats.values(name, key or None))
                lines.append(stats.by_layer(name, key or None))
            else:
                grids.append(np.full((L, H), np.nan))
                lines.append(np.full(L, np.nan))
    return {
        "layers": L,
        "heads": H,
        "metrics": metrics,
        "grids": encode_array(np.asarray(grids, dtype=np.float32).reshape(-1, L, H)),
        "lines": encode_array(np.asarray(lines, dtype=np.float32).reshape(-1, L)),
    }


def describe_source(stats: AttentionStats) -> str:
    s = stats.summary
    return f"{s.model or 'model'} ({s.annotations or 'annotations'})"


def exemplars_payload(stats: AttentionStats) -> dict:
    """Exemplar rows ``[layer, head, rank, sentence, i, j, weight]`` and each sentence's
    ``[text, tokens]`` once (a sentence is often the exemplar of many heads)."""
    rows, texts = [], {}
    for r in stats.exemplar_rows():
        rows.append([r["layer"], r["head"], r["rank"], r["sentence"], r["i"], r["j"], round(r["weight"], 6)])
        texts.setdefault(str(r["sentence"]), [r["text"], list(r["tokens"])])
    return {"rows": rows, "texts": texts}


# -------------------------------------------------------------- exemplar attention


class ExemplarAttention:
    """One source's exemplar sentences run through its model, cached per sentence.

    Gold syntax is re-read from the CoNLL-U corpus the statistics were computed on when
    that file is still there (``summary.corpus``); otherwise the sentence is parsed with
    spaCy, and without spaCy it is shown with tokens only.
    """

    def __init__(self, stats: AttentionStats, model: Any, device: str = "auto", progress: bool = True):
        self.stats = stats
        self.model = load_model(model, device=device, progress=progress)
        if (self.model.num_layers, self.model.num_heads) != (stats.num_layers, stats.num_heads):
            raise AttnWidgetError(
                f"the model has {self.model.num_layers} layers × {self.model.num_heads} heads but the "
                f"statistics have {stats.num_layers} × {stats.num_heads}: pass the model they were computed with "
                f"({stats.summary.model!r})"
            )
        self._texts = {int(s): (text, tokens) for s, (text, tokens) in exemplars_payload(stats)["texts"].items()}
        self._cache: dict[int, AttentionData] = {}
        self._inputs: dict[int, Any] = {}  # sentence -> model_input.ModelInput, for the neuron view
        self._neuron_recent: list[int] = []  # the sentences whose vectors are kept, oldest first
        self._gold: dict[int, Any] | None = None

    def sentences(self) -> list[int]:
        return sorted(self._texts)

    def data(self, sentence: int) -> AttentionData:
        if sentence in self._cache:
            self._cache[sentence] = self._cache.pop(sentence)  # now the most recent
        else:
            self._cache.update(self.compute([sentence], keep_inputs=True))
            while len(self._cache) > 1 and sum(d.attention.nbytes for d in self._cache.values()) > KEEP_ATTENTION_BYTES:
                dropped = next(iter(self._cache))  # the least recently opened
                self._cache.pop(dropped)
                self._inputs.pop(dropped, None)
        return self._cache[sentence]

    def free(self) -> None:
        """Drop the kept attention, the captured vectors and the model."""
        self._cache.clear()
        self._inputs.clear()
        self._neuron_recent.clear()
        self._gold = None
        self.model = self.stats = None

    def model_input(self, sentence: int):
        """The model and the annotated sentence, whose query/key vectors the neuron view reads.

        The vectors (every layer, caught on the first neuron request) are kept for the
        :data:`KEEP_NEURON_SENTENCES` sentences asked for last only.
        """
        self.data(sentence)
        self._neuron_recent = [s for s in self._neuron_recent if s != sentence and s in self._inputs] + [sentence]
        for older in self._neuron_recent[:-KEEP_NEURON_SENTENCES]:
            self._inputs[older].forget()
        self._neuron_recent = self._neuron_recent[-KEEP_NEURON_SENTENCES:]
        return self._inputs[sentence]

    def compute(
        self, sentences: list[int], batch_size: int = 16, keep_inputs: bool = False
    ) -> dict[int, AttentionData]:
        """Attention of several exemplar sentences, run in batches (not cached)."""

        annotated = []
        for sentence in sentences:
            if sentence not in self._texts:
                raise AttnWidgetError(f"sentence {sentence} is not an exemplar of these statistics")
            text, tokens = self._texts[sentence]
            a = annotate(text, self.model, annotations=self._syntax(sentence, text), truncate=True)
            if a.tokens != tokens:
                raise AttnWidgetError(
                    f"sentence {sentence} tokenizes differently now than when the statistics were computed "
                    f"({len(a.tokens)} tokens, not {len(tokens)}): is this the same model and tokenizer?"
                )
            annotated.append(a)
        inputs = self_attention_inputs(annotated, self.model, batch_size=batch_size)  # as the widget's own
        if keep_inputs:
            self._inputs.update({s: model_input for s, (_, model_input) in zip(sentences, inputs)})
        return {s: data for s, (data, _) in zip(sentences, inputs)}

    def _syntax(self, sentence: int, text: str):
        gold = self._gold_syntax().get(sentence)
        if gold is not None and gold.text == text:
            return gold
        try:
            return parse_spacy(text)
        except (SpacyPipelineError, ImportError, OSError):
            return None

    def _gold_syntax(self) -> dict[int, Any]:
        if self._gold is None:
            self._gold = {}
            summary = self.stats.summary
            path = Path(summary.corpus) if summary.corpus else None
            if summary.annotations == "gold" and path is not None and path.is_file():
                wanted = set(self._texts)
                # Lenient reading keeps an invalid sentence's place (as a ConlluError), so
                # indices match those of an analysis run with lenient=True too.
                for index, syntax in enumerate(iter_conllu(path, lenient=True)):
                    if index in wanted and not isinstance(syntax, Exception):
                        self._gold[index] = syntax
                    if index >= max(wanted, default=-1):
                        break
        return self._gold


def sentence_bundle(data: AttentionData, layers: list[int], base64: bool) -> dict:
    """What the explorer's embedded AttentionWidget needs for one sentence: its ``_meta``
    and the quantised attention of ``layers`` (gzip, base64 text in files)."""
    encoded = {}
    for layer in layers:
        payload = layer_payload(data, layer)
        packed = payload["data"]
        if base64:
            if packed["compression"] is None:  # files are read from disk: always compress
                packed = encode_array(decode_array(packed), compress=True)
            packed = with_base64(packed)
        encoded[str(layer)] = {**payload, "data": packed}
    return {"meta": meta_payload(data), "layers": encoded}


# ----------------------------------------------------------------------- the widget


class HeadExplorer(ClosingWidget, GridPictures, anywidget.AnyWidget):
    """A layer × head grid of any per-head metric of an :class:`AttentionStats`, with the
    exemplar sentences of the head clicked.

    >>> stats = attnwidget.analyze("en_ewt-ud-dev.conllu", model=attnwidget.OFFLINE_MODEL)  # doctest: +SKIP
    >>> ex = HeadExplorer(stats, model=attnwidget.OFFLINE_MODEL)                           # doctest: +SKIP
    >>> ex.metric, ex.key = "pos_to", "DET"        # the grid follows
    >>> ex.layer, ex.head                           # the head clicked in the grid

    ``ex.close()`` removes the views and frees the exemplars' attention and the model at
    once; in a notebook, running a cell again closes the explorers its last run made.

    The traits below (each documented where it is defined) are synced both ways and
    observable with ``ex.observe``.

    Parameters
    ----------
    stats:
        The statistics to show (from :func:`attnwidget.analyze` or ``AttentionStats.load``).
    model:
        Optional: anything :func:`attnwidget.load_model` takes, or the ``LoadedModel``
        the statistics were computed with. With it, clicking an exemplar opens that
        sentence in an embedded AttentionWidget on the head's layer, the pair's attending
        token locked. Without it the exemplars are text only.
    compare:
        Optional second :class:`AttentionStats` with the same layer × head shape (another
        model, or the same corpus with spaCy instead of gold annotations): ``mode =
        "difference"`` shows ``stats − compare``.
    compare_model:
        The model of ``compare``'s exemplars; by default ``model`` when both statistics
        name the same model.
    labels:
        Names of ``stats`` and ``compare`` in the view (default: model and annotations).
    progress:
        Show a status line while a model given by name loads.
    """

    _bundle = "explorer.js"
    _esm = esm(_bundle)

    metric = t.Unicode("dep_align").tag(sync=True)
    """The grid's metric (one of :data:`GRID_METRICS`)."""
    key = t.Unicode("either").tag(sync=True)
    """The metric's key: a UPOS tag, a relation, a direction; ``""`` for metrics without one."""
    metric2 = t.Unicode("first_token").tag(sync=True)
    """The second grid's metric, in ``mode="side_by_side"``."""
    key2 = t.Unicode("").tag(sync=True)
    """The second grid's key."""
    mode = Choice(GridMode, GridMode.SINGLE).tag(sync=True)
    """``"single"`` | ``"side_by_side"`` | ``"difference"`` (needs ``compare``)."""
    layer = t.Int(None, allow_none=True).tag(sync=True)
    """The selected head's layer, 0-based, or None."""
    head = t.Int(None, allow_none=True).tag(sync=True)
    """The selected head, 0-based, or None."""
    exemplar = t.Int(None, allow_none=True).tag(sync=True)
    """The opened exemplar's rank (0 = best) in the selected head's list, or None."""
    source = t.Int(0).tag(sync=True)
    """Whose exemplars are listed and opened: 0 = ``stats``, 1 = ``compare``."""
    theme = Choice(Theme, Theme.AUTO).tag(sync=True)
    """``"auto"`` (follow the notebook) | ``"light"`` | ``"dark"``."""

    _stats = t.Dict().tag(sync=True)
    _exemplars = t.List().tag(sync=True)
    _attention = t.Dict().tag(sync=True)  # per source: how exemplars open ("kernel" | "static" | reason)
    _embedded = t.Dict().tag(sync=True)  # static export only: sentence bundles

    @checked_keywords(extra=trait_names)
    def __init__(
        self,
        stats: AttentionStats,
        model: Any = None,
        compare: AttentionStats | None = None,
        *,
        compare_model: Any = None,
        labels: tuple[str, str] | None = None,
        device: str = "auto",
        progress: bool = True,
        **traits: Any,
    ) -> None:
        if not isinstance(stats, AttentionStats):
            raise AttnWidgetError(f"HeadExplorer takes an AttentionStats, not {type(stats).__name__}")
        if compare is not None:
            if not isinstance(compare, AttentionStats):
                raise AttnWidgetError(f"compare must be an AttentionStats, not {type(compare).__name__}")
            if (compare.num_layers, compare.num_heads) != (stats.num_layers, stats.num_heads):
                raise AttnWidgetError(
                    f"compare has {compare.num_layers} layers × {compare.num_heads} heads but stats has "
                    f"{stats.num_layers} × {stats.num_heads}; a difference grid needs the same shape"
                )
            if compare_model is None and compare.summary.model == stats.summary.model:
                compare_model = model
        self._sources = [stats] + ([compare] if compare is not None else [])
        names = list(labels) if labels else [describe_source(s) for s in self.sources]
        self._models: list[ExemplarAttention | None] = []
        for s, m in zip(self.sources, (model, compare_model)):
            if m is not None and m is model and self._models and self._models[0] is not None:
                m = self._models[0].model  # the same model: load it once
            self._models.append(None if m is None else ExemplarAttention(s, m, device=device, progress=progress))
        traits.setdefault("key", default_key(stats, traits.get("metric", "dep_align")))
        traits.setdefault("key2", default_key(stats, traits.get("metric2", "first_token")))
        if compare is not None:
            traits.setdefault("mode", "difference")
        payload = {
            "labels": names[: len(self.sources)],
            "summary": [s.summary.describe() for s in self.sources],
            "sources": [grids_payload(stats)] + ([grids_payload(compare, like=stats)] if compare else []),
        }
        exemplar = traits.pop("exemplar", None)  # set last: choosing a head closes the exemplar
        super().__init__(
            _stats=payload,
            _exemplars=[exemplars_payload(s) for s in self.sources],
            _attention={"how": [self._how(k) for k in range(len(self.sources))]},
            **traits,
        )
        self.exemplar = exemplar
        self.on_msg(self._on_request)
        self._opened()

    def _free(self) -> None:
        for loaded in self.__dict__.get("_models") or ():
            if loaded is not None:
                loaded.free()
        self._models, self._sources = [], []
        self._stats, self._exemplars, self._attention, self._embedded = {}, [], {}, {}

    def _how(self, source: int) -> str:
        if self._models[source] is not None:
            return "kernel"
        which = "these statistics" if source == 0 else "the compared statistics"
        return (
            f"No model was given for {which}, so exemplars are text only: "
            f"pass model= (e.g. {self.sources[source].summary.model!r}) to open them in the attention view."
        )

    # ------------------------------------------------------------------ accessors

    @property
    def sources(self) -> list[AttentionStats]:
        """The statistics shown: ``[stats]`` or ``[stats, compare]``."""
        self._check_open()
        return self._sources

    @property
    def stats(self) -> AttentionStats:
        return self.sources[0]

    @property
    def compare(self) -> AttentionStats | None:
        sources = self.sources
        return sources[1] if len(sources) > 1 else None

    @property
    def num_layers(self) -> int:
        return self.stats.num_layers

    @property
    def num_heads(self) -> int:
        return self.stats.num_heads

    def values(self) -> np.ndarray:
        """``[layers, heads]``: what the (first) grid shows (the difference in ``"difference"`` mode)."""
        a = self.stats.values(self.metric, self.key or None)
        if self.mode != "difference":
            return a
        keys = self.compare.keys(self.metric)
        b = self.compare.values(self.metric, self.key or None) if self.key in keys else np.full_like(a, np.nan)
        return a - b

    def selected_exemplars(self) -> list[dict[str, Any]]:
        """The exemplar rows (docs/metrics.md#exemplars) of the selected head from the listed source."""
        self._check_open()
        if self.layer is None or self.head is None:
            return []
        return self.sources[self.source].exemplars(self.layer, self.head)

    def synced_state_size(self) -> int:
        """Bytes of widget state sent when the explorer is displayed (and stored in notebooks)."""
        return sum(payload_size(v) for v in self.get_state().values())

    def __repr__(self) -> str:
        if self.closed:
            return "HeadExplorer(closed)"
        compare = f", compare={describe_source(self.compare)!r}" if self.compare is not None else ""
        return (
            f"HeadExplorer({describe_source(self.stats)!r}{compare}, {self.num_layers} layers × "
            f"{self.num_heads} heads, metric={self.metric!r}, key={self.key!r}, mode={self.mode!r}, "
            f"layer={self.layer}, head={self.head})"
        )

    # ---------------------------------------------------------------------- export

    @checked_keywords
    def to_html(self, title: str | None = None, max_sentence_bytes: int = 8 << 20, progress: bool = True) -> str:
        """One self-contained page with the same explorer (no kernel, no network).

        With a model, each exemplar sentence's attention travels in the page (the layers
        its exemplars come from, quantised); past ``max_sentence_bytes`` of it the page
        keeps exemplar text only and says so. ``progress``: a bar over the sentences run
        through the model.
        """
        return explorer_page(self, title=title, max_sentence_bytes=max_sentence_bytes, progress=progress)

    @checked_keywords
    def save_html(
        self, path: str | Path, title: str | None = None, max_sentence_bytes: int = 8 << 20, progress: bool = True
    ) -> Path:
        """Write :meth:`to_html` to ``path`` and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        page = explorer_page(
            self, title=title, max_sentence_bytes=max_sentence_bytes, progress=progress, out_dir=path.parent
        )  # corpus paths relative to the page
        path.write_text(page, encoding="utf-8")
        return path

    @checked_keywords
    def static_state(self, max_sentence_bytes: int = 8 << 20, progress: bool = True) -> dict:
        """The synced state plus, per source with a model, every exemplar sentence's bundle."""
        self._check_open()
        state = {
            name: getattr(self, name)
            for name in ("metric", "key", "metric2", "key2", "mode", "layer", "head", "exemplar", "source", "theme")
        }
        state["_stats"] = _base64_arrays(self._stats)
        state["_exemplars"] = self._exemplars
        how, embedded, budget = [], {}, max_sentence_bytes
        for k, loaded in enumerate(self._models):
            bundles = None if loaded is None else self._sentence_bundles(k, loaded, budget, progress=progress)
            if loaded is None:
                how.append(self._how(k))
            elif bundles is None:
                how.append(
                    f"The exemplars' attention would take more than {max_sentence_bytes / 1e6:.1f} MB, "
                    "so this file holds exemplar text only; open the explorer in a notebook with the "
                    "model to see it (or export with a larger max_sentence_bytes)."
                )
            else:
                how.append("static")
                embedded[str(k)] = bundles
                budget -= sum(len(p["data"]["buffer"]) for b in bundles.values() for p in b["layers"].values())
        state["_attention"] = {"how": how}
        state["_embedded"] = embedded
        return state

    def _sentence_bundles(
        self, source: int, loaded: ExemplarAttention, budget: int, chunk: int = 64, progress: bool = True
    ) -> dict[str, dict] | None:
        """Each exemplar sentence with the layers its exemplars come from; None past ``budget`` bytes."""
        layers_of: dict[int, set[int]] = {}
        for row in self._exemplars[source]["rows"]:
            layers_of.setdefault(row[3], set()).add(row[0])
        sentences = sorted(layers_of)
        bundles, used = {}, 0
        what = "exemplar attention" + (f" ({self._stats['labels'][source]})" if len(self._models) > 1 else "")
        with bar(total=len(sentences), desc=what, unit="sent", enabled=progress) as done:
            for start in range(0, len(sentences), chunk):  # a chunk at a time: memory stays bounded
                for sentence, data in loaded.compute(sentences[start : start + chunk]).items():
                    bundle = sentence_bundle(data, sorted(layers_of[sentence]), base64=True)
                    used += sum(len(p["data"]["buffer"]) for p in bundle["layers"].values())
                    if used > budget:
                        return None
                    bundles[str(sentence)] = bundle
                    done.update(1)
        return bundles

    # ------------------------------------------------------------------ validation

    @t.validate("metric", "metric2")
    def _check_metric(self, proposal):
        value = proposal["value"]
        if value not in GRID_METRICS:
            raise t.TraitError(f"{proposal['trait'].name} must be one of {', '.join(GRID_METRICS)}; got {value!r}")
        return value

    @t.validate("key")
    def _check_key(self, proposal):
        return self._valid_key(self.metric, proposal["value"], "key")

    @t.validate("key2")
    def _check_key2(self, proposal):
        return self._valid_key(self.metric2, proposal["value"], "key2")

    def _valid_key(self, metric: str, value: str, name: str) -> str:
        keys = self.stats.keys(metric)
        if value not in keys:
            shown = ", ".join(repr(k) for k in keys[:20]) + (" …" if len(keys) > 20 else "")
            raise t.TraitError(f"{name} {value!r} is not a key of {metric!r}; it has {shown}")
        return value

    @t.observe("metric")
    def _reset_key(self, change):
        if self.key not in self.stats.keys(change["new"]):
            self.key = default_key(self.stats, change["new"])

    @t.observe("metric2")
    def _reset_key2(self, change):
        if self.key2 not in self.stats.keys(change["new"]):
            self.key2 = default_key(self.stats, change["new"])

    @t.validate("mode")
    def _check_mode(self, proposal):
        value = proposal["value"]
        if value == "difference" and self.compare is None:
            raise t.TraitError("mode='difference' needs a second AttentionStats: HeadExplorer(stats, compare=other)")
        return value

    @t.validate("layer")
    def _check_layer(self, proposal):
        return _index_or_none("layer", proposal["value"], self.stats.num_layers)

    @t.validate("head")
    def _check_head(self, proposal):
        return _index_or_none("head", proposal["value"], self.stats.num_heads)

    @t.validate("exemplar")
    def _check_exemplar(self, proposal):
        value = proposal["value"]
        if value is not None and value < 0:
            raise t.TraitError(f"exemplar is a rank (0 = best) or None, not {value}")
        return value

    @t.validate("source")
    def _check_source(self, proposal):
        value = proposal["value"]
        if not 0 <= value < len(self.sources):
            raise t.TraitError(f"source must be 0 (stats){' or 1 (compare)' if self.compare else ''}, not {value}")
        return value

    @t.observe("layer", "head", "source")
    def _close_exemplar(self, change):
        # A rank means another sentence in another head's list.
        self.exemplar = None

    # ------------------------------------------------------------ request / reply

    def _on_request(self, _widget, content, _buffers) -> None:
        if self.closed:
            return  # a request that was on its way when the explorer closed has no one to answer
        handlers = {
            what: (lambda content, what=what: self._answer(what, content))
            for what in ("sentence", "layer", "thumbnails", "neuron")
        }
        answer = reply_to(content, handlers, refused=(AttnWidgetError, KeyError, ValueError, TypeError))
        if answer is not None:
            reply, buffers = answer
            self.send(reply, buffers=buffers)

    def _answer(self, what: str, content: dict) -> tuple[dict, list[bytes]]:
        """An exemplar sentence's data, asked for as the AttentionWidget's views ask theirs."""
        source = int(content.get("source", 0))
        loaded = self._models[source] if 0 <= source < len(self._models) else None
        if loaded is None:
            raise AttnWidgetError(self._how(source) if 0 <= source < len(self._models) else "no such source")
        sentence = int(content["sentence"])
        data = loaded.data(sentence)
        if what == "sentence":
            layer = int(content["layer"])
            bundle = sentence_bundle(data, [layer], base64=False)
            meta = {**bundle["meta"], "kinds": ["self"], "neuron": True}  # as AttentionWidget's _meta
            body, buffers = lifted(bundle["layers"][str(layer)])
            return {"meta": meta, "payload": body}, buffers
        if what == "layer":
            body, buffers = lifted(layer_payload(data, index(content, "layer", data.num_layers)))
            return {"payload": body}, buffers
        if what == "thumbnails":
            body, buffers = lifted(thumbnails_payload(data, bool(content.get("hide_first"))))
            return {"thumbnails": body}, buffers
        # "neuron": the widget's neuron view, answered as AttentionWidget does
        layer = index(content, "layer", data.num_layers)
        head = index(content, "head", data.num_heads)
        capture = loaded.model_input(sentence).capture("self", layer)  # NeuronViewError is an AttnWidgetError
        body, buffers = split_buffers(neuron_payload(capture, head))
        return {"neuron": body}, buffers


def _base64_arrays(value):
    """A copy of nested state with every encoded array's bytes as base64 text."""
    if isinstance(value, dict):
        if isinstance(value.get("buffer"), (bytes, bytearray, memoryview)):
            return with_base64(value)
        return {k: _base64_arrays(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_base64_arrays(v) for v in value]
    return value


def _index_or_none(name: str, value, n: int):
    if value is not None and not 0 <= value < n:
        raise t.TraitError(f"{name} must be None or in 0..{n - 1}, not {value}")
    return value
