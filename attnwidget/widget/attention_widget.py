"""AttentionWidget: a transformer's attention and the sentence's syntax, in one view.

The heavy data stays in the kernel. The browser gets the sentence (``_meta``), the
current layer as sqrt-quantised bytes (``_layer_data``, replaced when ``layer`` changes)
and, on request, downsampled thumbnails of every head for the model view and one head's
query and key vectors for the neuron view. See ``payload.py`` for the encoding,
``model_input.py`` for running models, and ``js/src`` for the views.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets as t

from attnwidget.choices import AttentionKind, Choice, Level, PairFilter, Theme, TokenRole, View, values
from attnwidget.defaults import DEFAULT_MODEL
from attnwidget.errors import AttnWidgetError
from attnwidget.keywords import checked_keywords, trait_names
from attnwidget.pictures.methods import AttentionPictures
from attnwidget.preloading import preload_in_notebook, stop_preloading
from attnwidget.progress import importing
from attnwidget.text.syntax import Syntax, check_text, read_conllu, spacy_pipeline
from attnwidget.transformer.activation_cache import cache_model_info, cache_patterns, cache_tokens
from attnwidget.widget.default_heads import default_heads, default_heads_note, layer_sharpness
from attnwidget.widget.export import EXPORTED_TRAITS, WidgetSnapshot, save_html, to_html
from attnwidget.widget.js_bundles import esm
from attnwidget.widget.lifetime import ClosingWidget
from attnwidget.widget.long_export import MAX_BYTES
from attnwidget.widget.long_payload import BadRequest, answer, store_thumbnails, summarised, synced_layer, tile_asks
from attnwidget.widget.model_input import NEEDS_MODEL, generation_input, make_data, pair_input, single_input
from attnwidget.widget.payload import (
    AttentionData,
    encode_ahead,
    meta_payload,
    neuron_payload,
    payload_size,
    thumbnails_payload,
)
from attnwidget.widget.protocol import REPLY, index, lifted, reply_to, split_buffers
from attnwidget.widget.tile_batch import TileBatches, tiles_reply

#: The blocks of a sentence pair, queries->keys.
PAIR_FILTERS = values(PairFilter)


class AttentionWidget(ClosingWidget, AttentionPictures, anywidget.AnyWidget):
    """Interactive attention of one input, with its syntax (head, model, matrix and neuron views).

    >>> w = AttentionWidget("The cat sat on the mat.", model=OFFLINE_MODEL)  # doctest: +SKIP
    >>> w.layer, w.heads = 3, [0, 5]          # the view follows
    >>> w.token                                # the token clicked in the view, or None

    ``w.close()`` removes the views and frees the attention at once, even while ``w`` is
    still referenced; in a notebook, running a cell again closes the widgets its last run
    made.

    The traits below (each documented where it is defined) are synced both ways and
    observable with ``w.observe``.

    Parameters
    ----------
    text:
        The input sentence. May be omitted when ``annotations`` is a CoNLL-U sentence.
    model:
        Anything :func:`attnwidget.load_model` accepts: a Hub id or folder, a
        ``(model, tokenizer)`` pair or a ``LoadedModel``. Default ``"gpt2"`` (needs the
        network once); offline use ``attnwidget.OFFLINE_MODEL``.
    annotations:
        ``"spacy"`` (parse the text with spaCy), a CoNLL-U sentence (gold syntax; its
        ``# text`` must match ``text``), a :class:`attnwidget.Syntax`, or ``None`` (tokens
        only, no word level). A loaded spaCy pipeline here means ``"spacy"`` with it.
    pipeline:
        The spaCy pipeline that parses the text: a name (``"en_core_web_sm"``) or a loaded
        ``nlp``. Default: an installed English pipeline.
    window:
        Which of the text's tokens the model reads, for text longer than its window (or to
        look at one part): an int ``n``, the first ``n`` tokens; or ``(start, stop)``,
        tokens ``start .. stop - 1``. Tokens are counted in the whole text without the
        model's special tokens, which are added around the part read (so at most the
        model's window less those). The part is parsed on its own. Default: the whole
        text, which must fit.
    text_pair:
        Sentence B of a sentence pair for an encoder model (BERT, RoBERTa, DistilBERT):
        the model reads ``[CLS] text [SEP] text_pair [SEP]`` with its segment ids, and
        ``pair_filter`` picks the block shown. Pairs carry no syntax.
    target:
        For an encoder-decoder model (T5, BART, Marian): the text the decoder writes, read
        teacher-forced. ``None``: the decoder reads the source (BART's pretraining task).
    device:
        Where the model runs (``"auto"``, ``"cpu"``, ``"cuda"``...).
    **traits:
        Initial values of the traits below.
    """

    _bundle = "widget.js"
    _esm = esm(_bundle)

    view = Choice(View, View.HEAD).tag(sync=True)
    """``"head"`` | ``"model"`` | ``"matrix"`` | ``"neuron"`` (:class:`~attnwidget.choices.View`); the
    neuron view shows the query and key vectors of the first of ``heads`` for query ``token``,
    fetched from the model."""
    layer = t.Int(0).tag(sync=True)
    """The layer shown, 0-based."""
    heads = t.List(t.Int()).tag(sync=True)
    """The heads drawn (several in the head view; the matrix view shows their mean). Under
    grouped-query attention these are query heads. Default: a few readable heads of the layer
    shown, picked by :mod:`attnwidget.widget.default_heads` (the view states the rule)."""
    token = t.Int(None, allow_none=True).tag(sync=True)
    """The locked token (a word index at word level), or None; the query token of the neuron view."""
    token_role = Choice(TokenRole, TokenRole.QUERY).tag(sync=True)
    """``"query"`` (the token's outgoing attention) or ``"key"`` (its incoming attention)."""
    threshold = t.Float(0.0).tag(sync=True)
    """A weight in [0, 1]: weights below it are not drawn."""
    prune = t.Float(1.0).tag(sync=True)
    """In (0, 1]: each row keeps its strongest lines until this share of its attention mass is
    covered (1 = all)."""
    hide_first = t.Bool(False).tag(sync=True)
    """Leave out attention to the first token."""
    renormalise = t.Bool(True).tag(sync=True)
    """With ``hide_first``, rescale each row to sum to 1 again."""
    level = Choice(Level, Level.TOKEN).tag(sync=True)
    """``"token"`` | ``"word"``; word level merges a word's pieces: attention *to* a word is the
    sum over its tokens, attention *from* it the mean (needs word annotations)."""
    theme = Choice(Theme, Theme.AUTO).tag(sync=True)
    """``"auto"`` (follow the notebook) | ``"light"`` | ``"dark"``."""
    pair_filter = Choice(PairFilter, PairFilter.ALL).tag(sync=True)
    """``"all"`` | ``"A->A"`` | ``"B->B"`` | ``"A->B"`` | ``"B->A"``: the block of a sentence pair
    drawn (queries -> keys)."""
    attention_kind = Choice(AttentionKind, AttentionKind.SELF).tag(sync=True)
    """``"self"``, or for an encoder-decoder model ``"encoder"`` | ``"decoder"`` | ``"cross"``
    (decoder tokens attending to source tokens)."""
    step = t.Int(None, allow_none=True).tag(sync=True)
    """For generated text (:meth:`from_generation`): show only what the model attended to when it
    wrote generated token ``step`` (0-based); None: all."""

    _meta = t.Dict().tag(sync=True)
    _layer_data = t.Dict(allow_none=True, default_value=None).tag(sync=True)

    @checked_keywords(extra=trait_names)
    def __init__(
        self,
        text: str | None = None,
        model: Any = None,
        annotations: Any = "spacy",
        *,
        pipeline: Any = None,
        window: int | tuple[int, int] | None = None,
        text_pair: str | None = None,
        target: Any = None,
        device: str = "auto",
        _data: AttentionData | None = None,
        _source: tuple | None = None,
        **traits: Any,
    ) -> None:
        stop_preloading()  # what this widget needs it loads now; its requests must not wait behind imports
        if _data is not None:
            kinds, model_input, generation = {_data.kind: _data}, None, None
        elif _source is not None:
            kinds, model_input, generation = _source
        else:
            kinds, model_input = _compute(
                text, model, annotations, device, text_pair, target, pipeline=pipeline, window=window
            )
            generation = None
        self._kinds: dict[str, AttentionData] = kinds
        self._stop_encoding = threading.Event()  # ends encode_ahead's thread (see _free)
        self._input = model_input  # model_input.ModelInput, or None: no model, no neuron view
        self._generation = generation
        first = next(iter(kinds.values()))
        traits.setdefault("attention_kind", first.kind)
        self._default_heads = None
        if "heads" not in traits:  # a few readable heads, and the rule that chose them (default_heads.py)
            shown = kinds.get(traits["attention_kind"], first)
            layer = min(max(int(traits.get("layer", 0)), 0), shown.num_layers - 1)
            traits["heads"] = default_heads(scores=layer_sharpness(shown, layer))
            self._default_heads = default_heads_note(layer, traits["heads"], shown.num_heads)
        # Long inputs start pruned so the first picture is readable; 1.0 shows every line.
        traits.setdefault("prune", 1.0 if first.num_tokens <= 128 else 0.9)
        self._ready = False
        super().__init__(_meta=self._meta_of(first), **traits)
        self._ready = True
        self._meta = self._meta_of(self._data)
        self._layer_data = synced_layer(self._data, self.layer)
        self.on_msg(self._on_request)
        self._opened()
        if summarised(self._data):  # a long input: every layer's summary in the background, this one first
            self._data.store.start_background(first=self.layer)
        elif self._data.num_layers > 1:  # the other layers encoded while the view draws (payload.encode_ahead)
            self._encoding = threading.Thread(
                target=encode_ahead,
                args=(self._data, self.layer, self._stop_encoding.is_set),
                name="attnwidget-encode",
                daemon=True,
            )
            self._encoding.start()

    @property
    def _data(self) -> AttentionData:
        """The attention shown: the one of ``attention_kind``."""
        self._check_open()
        return self._kinds.get(self.attention_kind) or next(iter(self._kinds.values()))

    def _free(self) -> None:
        # Attention (with its thumbnails), the model input and its captured vectors, the
        # generation, and the synced payloads: everything sized by the input.
        if "_stop_encoding" in self.__dict__:
            self._stop_encoding.set()
        encoding = self.__dict__.pop("_encoding", None)
        if encoding is not None:
            encoding.join(10)  # it stops after the layer it is encoding; it holds the attention till then
        batches = self.__dict__.pop("_tile_batches_", None)
        if batches is not None:
            batches.close()  # tiles not started are dropped; no reply after the close
        for data in getattr(self, "_kinds", {}).values():
            if data._store is not None:
                data._store.close()  # stops background summaries
        if getattr(self, "_input", None) is not None:
            self._input.forget()
        self._kinds, self._input, self._generation = {}, None, None
        self._layer_data, self._meta = None, {}

    def _meta_of(self, data: AttentionData) -> dict:
        """The ``_meta`` the views read for one of this input's attentions."""
        return {
            **meta_payload(data),
            "kinds": list(self._kinds),
            "neuron": self._input is not None,
            "window": self._window,
            "default_heads": self._default_heads,
        }

    @property
    def _window(self) -> dict | None:
        """``{"start", "stop", "of"}`` when the model read part of a longer text (``window=``)."""
        meta = getattr(getattr(self._input, "sentence", None), "meta", None) or {}
        window = meta.get("window")
        return None if window is None else {k: window[k] for k in ("start", "stop", "of")}

    # ----------------------------------------------------------------- constructors

    @classmethod
    @checked_keywords(extra=trait_names)
    def from_attention(
        cls,
        tokens: Sequence[str] | Any,
        attention: Any,
        *,
        syntax: Any = None,
        token_word: Sequence[int] | np.ndarray | None = None,
        model_name: str = "custom",
        is_causal: bool | None = None,
        **traits: Any,
    ) -> AttentionWidget:
        """A widget for attention computed elsewhere.

        ``tokens``: the T display strings, or an :class:`attnwidget.AnnotatedSentence`
        (which also gives ``syntax`` and ``token_word``).
        ``attention``: ``[layers, heads, T, T]`` or ``[heads, T, T]`` (one layer), as a
        numpy array, a torch tensor, or the per-layer tuple a Hugging Face model returns
        with ``output_attentions=True`` (each ``[1, heads, T, T]``). Row ``i`` holds what
        token ``i`` attends to; weights must lie in [0, 1].
        ``syntax`` / ``token_word``: an :class:`attnwidget.Syntax` and the word of each
        token (-1 for none), to show syntax and allow the word level.
        ``is_causal``: default: detected (nothing above the diagonal).
        """
        if hasattr(tokens, "token_word") and hasattr(tokens, "tokens"):  # AnnotatedSentence
            sentence = tokens
            tokens = sentence.tokens
            syntax = sentence.syntax if syntax is None else syntax
            token_word = sentence.token_word if token_word is None else token_word
        data = make_data(
            tokens, attention, syntax=syntax, token_word=token_word, model_name=model_name, is_causal=is_causal
        )
        return cls(_data=data, **traits)

    @classmethod
    @checked_keywords(extra=trait_names)
    def from_cache(
        cls,
        cache: Any,
        tokens: Any,
        *,
        batch: int = 0,
        syntax: Any = None,
        token_word: Sequence[int] | np.ndarray | None = None,
        model_name: str | None = None,
        is_causal: bool | None = None,
        **traits: Any,
    ) -> AttentionWidget:
        """A widget for the patterns in a TransformerLens ``ActivationCache``.

        ``cache``: what ``model.run_with_cache(...)`` returns (TransformerLens 3 or 4), or its
        dict form; every layer's ``blocks.{l}.attn.hook_pattern`` is shown. ``tokens``: the
        T display strings (``model.to_str_tokens(...)``), an AnnotatedSentence, or the token
        ids or prompt text the cache was made from (turned into strings by the cache's model).
        ``batch``: which prompt of a batched cache. ``model_name`` and ``is_causal`` default
        to what the cache's model says. The neuron view needs the model: use
        ``AttentionWidget(text, model=model)``.
        """
        name, causal = cache_model_info(cache)
        return cls.from_attention(
            cache_tokens(cache, tokens, batch),
            cache_patterns(cache, batch),
            syntax=syntax,
            token_word=token_word,
            model_name=model_name or name,
            is_causal=causal if is_causal is None else is_causal,
            **traits,
        )

    @classmethod
    @checked_keywords(extra=trait_names)
    def from_pair(
        cls, text_a: str, text_b: str, model: Any = None, *, device: str = "auto", **traits: Any
    ) -> AttentionWidget:
        """A sentence pair read by an encoder model, as BERT reads it for next-sentence prediction.

        Same as ``AttentionWidget(text_a, model=model, text_pair=text_b)``; set
        ``pair_filter`` (``"A->B"``...) to draw one block of the attention.
        """
        return cls(text_a, model, annotations=None, text_pair=text_b, device=device, **traits)

    @classmethod
    @checked_keywords(extra=trait_names)
    def from_generation(
        cls,
        prompt: str,
        model: Any = None,
        max_new_tokens: int = 20,
        *,
        do_sample: bool = False,
        annotations: str | None = None,
        pipeline: Any = None,
        device: str = "auto",
        generate_kwargs: dict | None = None,
        progress: bool = True,
        **traits: Any,
    ) -> AttentionWidget:
        """Let a causal model continue ``prompt``, then show its attention over prompt and continuation.

        Every view marks where the prompt ends; ``step = k`` shows only the attention with
        which the model wrote generated token k (the row of the newest token at that
        step). ``model``: an id, folder or ``(AutoModelForCausalLM, tokenizer)`` pair, loaded
        with its language-model head. ``generate_kwargs`` go to ``model.generate``
        (``temperature``, ``top_p``...). ``annotations="spacy"`` parses the whole text
        (``pipeline``: the spaCy pipeline's name or a loaded ``nlp``). ``progress``: a bar
        over the new tokens (and a status line while a model given by name loads).
        """
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.loading import DEFAULT_MODEL, load_model

        loaded = load_model(DEFAULT_MODEL if model is None else model, device=device, lm_head=True, progress=progress)
        kinds, model_input, generation = generation_input(
            prompt,
            loaded,
            max_new_tokens,
            annotations,
            do_sample=do_sample,
            pipeline=pipeline,
            progress=progress,
            **(generate_kwargs or {}),
        )
        return cls(_source=(kinds, model_input, generation), **traits)

    # ------------------------------------------------------------------- accessors

    @property
    def attention(self) -> np.ndarray:
        """float32 ``[layers, heads, T, T]``: the full-precision attention shown.

        A long input read by a decoder-only model keeps no such array (it would not fit):
        use :attr:`store` for its summaries, rows, tiles and exact values."""
        data = self._data
        if data.attention is None:
            raise AttnWidgetError(
                f"this input's {data.num_tokens} tokens are kept as queries and keys, not as a "
                f"[layers, heads, T, T] array ({data.num_layers * data.num_heads * data.num_tokens**2 * 4 / 1e9:.0f} GB); "
                "use w.store.window(layer, head, r0, c0, cells, 1) for exact weights, or w.store.rows(...)"
            )
        return data.attention

    @property
    def store(self):
        """The :class:`attnwidget.attention_store.AttentionStore` of the attention shown: overviews,
        each row's strongest keys, exact tiles and values (what the views ask for)."""
        return self._data.store

    @property
    def tokens(self) -> list[str]:
        """The T token strings, as displayed."""
        return list(self._data.tokens)

    @property
    def syntax(self):
        """The sentence's :class:`attnwidget.Syntax`, or None."""
        return self._data.syntax

    @property
    def num_layers(self) -> int:
        return self._data.num_layers

    @property
    def num_heads(self) -> int:
        return self._data.num_heads

    @property
    def generated_text(self) -> str | None:
        """The model's continuation (:meth:`from_generation`), else None."""
        self._check_open()
        return None if self._generation is None else self._generation.generated_text

    @property
    def boundary(self) -> int | None:
        """The number of prompt tokens (:meth:`from_generation`): generated token k is token boundary + k."""
        self._check_open()
        return None if self._generation is None else int(self._generation.boundary)

    @checked_keywords
    def neuron(self, layer: int | None = None, head: int | None = None, token: int | None = None) -> dict:
        """What the neuron view shows, as numpy arrays (see :func:`attnwidget.transformer.neurons.neuron_view`).

        Defaults: the current layer, the first selected head and the selected token (or
        the last). The first call catches every layer's vectors in one forward pass and
        keeps them, so other layers, heads and tokens are free.
        """
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.neurons import neuron_view

        self._check_open()
        if self._input is None:
            raise AttnWidgetError(NEEDS_MODEL)
        layer = self.layer if layer is None else layer
        head = (self.heads[0] if self.heads else 0) if head is None else head
        capture = self._input.capture(self.attention_kind, layer)
        if token is None:
            token = self.token if self.token is not None and self.level == "token" else capture.query.shape[1] - 1
        return neuron_view(self._input.model, self._input.sentence, layer, head, token, capture=capture)

    def synced_state_size(self) -> int:
        """Bytes of widget state sent when the widget is displayed (and stored in notebooks)."""
        return sum(payload_size(v) for v in self.get_state().values())

    def __repr__(self) -> str:
        if self.closed:
            return "AttentionWidget(closed)"
        d = self._data
        kind = "" if self.attention_kind == "self" else f"attention_kind={self.attention_kind!r}, "
        part = self._window
        window = "" if part is None else f"window=({part['start']}, {part['stop']}) of {part['of']}, "
        return (
            f"AttentionWidget(model={d.model_name!r}, {kind}{window}tokens={d.num_tokens}, "
            f"layers={d.num_layers}, heads={d.num_heads}, view={self.view!r}, "
            f"layer={self.layer}, heads_shown={list(self.heads)}, level={self.level!r}, "
            f"syntax={'none' if d.syntax is None else d.syntax.source!r})"
        )

    # ---------------------------------------------------------------------- export

    @checked_keywords
    def to_html(self, title: str | None = None, max_bytes: int = MAX_BYTES) -> str:
        """One self-contained HTML page with the same interactive views (no kernel, no network).

        ``max_bytes``: the page's size limit. An input whose layers do not all fit carries
        every layer's overview and the shown layer's strongest lines (and its full detail
        when it fits); the page says plainly where it holds less than the notebook."""
        return to_html(self, title=title, max_bytes=max_bytes)

    @checked_keywords
    def save_html(self, path: str | Path, title: str | None = None, max_bytes: int = MAX_BYTES) -> Path:
        """Write :meth:`to_html` to ``path`` and return the path."""
        return save_html(self, path, title=title, max_bytes=max_bytes)

    def export_snapshot(self) -> WidgetSnapshot:
        """What an exported page shows of this widget: its view settings and ``_meta``, the
        attention shown, an encoder-decoder's other two attentions, and the model input
        whose vectors the neuron view reads (see :mod:`attnwidget.widget.export`)."""
        shown = self._data
        state = {name: getattr(self, name) for name in EXPORTED_TRAITS}
        state["_meta"] = self._meta
        others = {
            kind: (self._meta_of(data), data) for kind, data in self._kinds.items() if kind != self.attention_kind
        }
        return WidgetSnapshot(state=state, shown=shown, others=others, model_input=self._input)

    # ------------------------------------------------------------------ validation

    @t.validate("level")
    def _check_level(self, proposal):
        value = proposal["value"]
        if value == "word" and not self._data.has_words:
            raise t.TraitError(
                "level='word' needs word annotations; create the widget with "
                "annotations='spacy' or a CoNLL-U sentence (or syntax= and token_word=)."
            )
        return value

    @t.validate("layer")
    def _check_layer(self, proposal):
        value = proposal["value"]
        n = self._data.num_layers
        if not 0 <= value < n:
            raise t.TraitError(f"layer must be in 0..{n - 1} (the model has {n} layers), not {value}")
        return value

    @t.validate("heads")
    def _check_heads(self, proposal):
        value = list(proposal["value"])
        n = self._data.num_heads
        bad = [h for h in value if not 0 <= h < n]
        if bad:
            raise t.TraitError(f"heads must be in 0..{n - 1} (the model has {n} heads per layer); got {bad}")
        return sorted(set(value))

    @t.validate("token")
    def _check_token(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        n = self._data.num_units(self.level)
        if not 0 <= value < n:
            unit = "word" if self.level == "word" else "token"
            raise t.TraitError(f"token must be None or a {unit} index in 0..{n - 1}, not {value}")
        return value

    @t.validate("threshold")
    def _check_threshold(self, proposal):
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise t.TraitError(f"threshold is an attention weight in [0, 1], not {value}")
        return value

    @t.validate("prune")
    def _check_prune(self, proposal):
        value = proposal["value"]
        if not 0.0 < value <= 1.0:
            raise t.TraitError(f"prune is the share of each row's mass kept, in (0, 1], not {value}")
        return value

    @t.validate("pair_filter")
    def _check_pair_filter(self, proposal):
        value = proposal["value"]
        split = self._data.split
        if value != "all" and not (split and split["names"] == ["A", "B"]):
            raise t.TraitError(
                f"pair_filter={value!r} needs a sentence pair; create the widget with "
                "text_pair= (or AttentionWidget.from_pair) and an encoder model"
            )
        return value

    @t.validate("attention_kind")
    def _check_kind(self, proposal):
        value = proposal["value"]
        if value not in self._kinds:
            raise t.TraitError(
                f"attention_kind={value!r} is not available for this input; it has "
                f"{', '.join(map(repr, self._kinds))} (encoder/decoder/cross need an encoder-decoder model)"
            )
        return value

    @t.validate("step")
    def _check_step(self, proposal):
        value = proposal["value"]
        if value is None:
            return None
        if self._generation is None:
            raise t.TraitError("step is for generated text; create the widget with AttentionWidget.from_generation")
        n = self._generation.num_generated
        if not 0 <= value < n:
            raise t.TraitError(f"step must be None or a generated token in 0..{n - 1}, not {value}")
        return value

    @t.observe("layer")
    def _send_layer(self, change):
        self._layer_data = synced_layer(self._data, change["new"])

    @t.observe("attention_kind")
    def _send_kind(self, change):
        if not self._ready:  # traitlets reports the traits given at construction as changes
            return
        data = self._data
        with self.hold_sync():  # tokens, layer data and the settings they invalidate in one message
            if self.level == "word" and not data.has_words:
                self.level = "token"
            self.token = None
            if self.layer >= data.num_layers:
                self.layer = data.num_layers - 1
            self._meta = self._meta_of(data)
            self._layer_data = synced_layer(data, self.layer)

    @t.observe("view")
    def _neuron_reads_tokens(self, change):
        # The neuron view shows one token's query vector; words have none.
        if change["new"] == "neuron" and self.level == "word":
            self.level = "token"

    @t.observe("level")
    def _drop_token(self, change):
        # A token index means something else at the other level.
        if self._ready:  # not for the traits given at construction
            self.token = None

    # ------------------------------------------------------------ request / reply

    def _on_request(self, _widget, content, _buffers) -> None:
        if self.closed:
            return  # a request that was on its way when the widget closed has no one to answer
        if isinstance(content, dict) and content.get("what") == "tiles":
            return self._tiles_request(content)
        handlers = {"thumbnails": self._thumbnails_reply, "layer": self._layer_reply, "neuron": self._neuron_reply}
        for what in ("overview", "rows", "tile", "value"):  # a long input's summaries and exact tiles
            handlers[what] = self._store_reply
        answer_ = reply_to(content, handlers, refused=(AttnWidgetError, BadRequest))
        if answer_ is not None:
            reply, buffers = answer_
            self.send(reply, buffers=buffers)

    def _tiles_request(self, content: dict) -> None:
        """A zoom step's tiles, computed in parallel; the reply is sent when they are done
        (from a worker thread: this one is free for the next request, which may drop them)."""
        try:
            data = self._data
            asks = tile_asks(data, content)
        except (AttnWidgetError, BadRequest) as exc:
            self.send({"kind": REPLY, "id": content.get("id"), "error": str(exc)})
            return

        def send(done, dropped, error, ms) -> None:
            if not self.closed:
                reply, buffers = tiles_reply(content, done, dropped, error, ms)
                self.send(reply, buffers=buffers)

        self._tile_batches.submit(str(content.get("view", "")), data.store, asks, send)

    @property
    def _tile_batches(self) -> TileBatches:
        batches = self.__dict__.get("_tile_batches_")
        if batches is None:
            batches = self.__dict__["_tile_batches_"] = TileBatches()
        return batches

    def _store_reply(self, content: dict) -> tuple[dict, list[bytes]]:
        """A long input's overview, strongest keys of some rows, an exact tile or one value."""
        return answer(self._data, content["what"], content)

    def _thumbnails_reply(self, content: dict) -> tuple[dict, list[bytes]]:
        """Every head of the current layer, downsampled (the model view)."""
        hide = bool(content.get("hide_first"))
        thumbs = store_thumbnails(self._data, hide) if summarised(self._data) else thumbnails_payload(self._data, hide)
        body, buffers = lifted(thumbs)
        return {"thumbnails": body}, buffers

    def _layer_reply(self, content: dict) -> tuple[dict, list[bytes]]:
        """A layer other than the synced one (the view prefetches the neighbours)."""
        payload = synced_layer(self._data, index(content, "layer", self._data.num_layers))
        if "data" not in payload:  # a long input's layer is a description; its parts come on request
            return {"payload": payload}, []
        body, buffers = lifted(payload)
        return {"payload": body}, buffers

    def _neuron_reply(self, content: dict) -> tuple[dict, list[bytes]]:
        """One head's vectors for every query token; buffers in the order of ``arrays``."""
        kind, layer, head = content.get("attention"), content.get("layer"), content.get("head")
        if self._input is None:
            raise AttnWidgetError(NEEDS_MODEL)
        data = self._kinds.get(kind)
        if (
            data is None
            or not isinstance(layer, int)
            or not isinstance(head, int)
            or not 0 <= layer < data.num_layers
            or not 0 <= head < data.num_heads
        ):
            raise AttnWidgetError(f"no layer {layer!r} / head {head!r} of attention {kind!r}")
        body, buffers = split_buffers(neuron_payload(self._input.capture(kind, layer), head))
        return {"neuron": body}, buffers


# ---------------------------------------------------------------------- data in


def _load_model():
    """:func:`attnwidget.load_model`, imported with a status line: the first widget of a
    process waits seconds for torch."""
    with importing("torch"):
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.loading import load_model
    return load_model


def _compute(
    text: str | None,
    model: Any,
    annotations: Any,
    device: str,
    text_pair: str | None = None,
    target: Any = None,
    *,
    pipeline: Any = None,
    window: Any = None,
) -> tuple[dict, Any]:
    """Run the model on one input (or pair) and align it with its syntax: ``(kinds, ModelInput)``."""

    if text_pair is not None:
        if window is not None:
            raise AttnWidgetError(
                "window= reads part of one long text; a sentence pair is read whole (shorten the sentences instead)"
            )
        loaded = _load_model()(DEFAULT_MODEL if model is None else model, device=device)
        return pair_input(text, text_pair, loaded)
    if hasattr(annotations, "pipe_names"):  # a loaded spaCy pipeline given as the annotations
        annotations, pipeline = "spacy", annotations
    if isinstance(annotations, str) and annotations not in ("spacy", "gold"):
        if "\t" not in annotations:
            raise AttnWidgetError(
                f"annotations must be 'spacy', a CoNLL-U sentence, a Syntax or None, not {annotations!r}; "
                "to choose the spaCy pipeline, pass pipeline= (a name such as 'en_core_web_sm', or a loaded nlp)"
            )
        sentences = read_conllu(annotations)  # a CoNLL-U sentence given inline
        if len(sentences) != 1:
            raise AttnWidgetError(f"annotations takes one CoNLL-U sentence; this one holds {len(sentences)}")
        annotations = sentences[0]
    if isinstance(annotations, Syntax) and text is None:
        text = annotations.text
    if text is None:
        raise AttnWidgetError("give the text to show (or a CoNLL-U sentence as annotations)")
    check_text(text)  # before torch is imported and the model loads
    loaded = _load_model()(DEFAULT_MODEL if model is None else model, device=device)
    if annotations == "spacy" and (pipeline is None or isinstance(pipeline, str)):
        spacy_pipeline(pipeline, progress=True)  # loaded here, with a status line: seconds, once
    return single_input(text, loaded, annotations, target, pipeline=pipeline, window=window)


# In a Jupyter kernel, torch, transformers and spaCy load while the kernel is idle from here on,
# as the user writes the cell that makes the first widget (preloading.py; ATTNWIDGET_PRELOAD=0: off).
preload_in_notebook()
