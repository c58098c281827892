"""Where an AttentionWidget's attention comes from: arrays computed elsewhere, checked
(:func:`make_data`), or a model it runs itself.

One input gives one or three attentions (:class:`AttentionData`, keyed by kind): a
decoder-only or encoder-only model gives ``"self"``; an encoder-decoder model gives
``"encoder"``, ``"decoder"`` and ``"cross"``. :class:`ModelInput` keeps the model and what
it read, so the neuron view can catch the queries and keys later: every layer of a kind in
one forward pass, the first time the view needs that kind, kept, so changing layer, head or
token reruns nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnwidget.errors import AttnWidgetError, TooLongError
from attnwidget.text.sentence import annotate, longest_window
from attnwidget.text.syntax import Syntax
from attnwidget.widget.payload import AttentionData

#: Why a widget without a model has no neuron view (its error, and an exported page's note).
NEEDS_MODEL = (
    "the neuron view needs the model: create the widget with AttentionWidget(text, model=...), "
    "from_pair or from_generation (from_attention has attention weights only, no vectors)"
)


@dataclass
class ModelInput:
    """The model and the input it read, for the neuron view.

    ``sentence`` is what the model (or its encoder) read; ``target`` the decoder's
    teacher-forced target for an encoder-decoder model (None: it reads the source).
    """

    model: Any
    sentence: Any
    target: Any = None
    _captures: dict = field(default_factory=dict, repr=False)  # kind -> [QueryKey per layer]
    _refusals: dict = field(default_factory=dict, repr=False)  # kind -> why the view cannot show it
    _long: Any = field(default=None, repr=False)  # a QKStore: a long input's vectors are already caught

    def capture(self, kind: str, layer: int):
        """The :class:`attnwidget.transformer.neurons.QueryKey` of ``layer`` of attention ``kind``.

        The first request of a kind catches all its layers in one forward pass
        (:meth:`captures`); later ones are lookups. A layer out of range is refused before
        anything runs.
        """
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.neurons import check_layer

        if self._long is not None:
            # lazy: keeps torch out of importing this module
            from attnwidget.widget.long_neurons import long_capture

            return long_capture(self.model, self._long, layer)
        check_layer(self.model, layer, self._part(kind))
        return self.captures(kind)[layer]

    def captures(self, kind: str) -> list:
        """Every layer's :class:`attnwidget.transformer.neurons.QueryKey` of attention ``kind``, caught once and kept.

        A :class:`attnwidget.transformer.neurons.NeuronViewError` (a family whose attention the view
        cannot rebuild) is kept too, and raised again without running the model.
        """
        # lazy: keeps torch out of importing this module
        from attnwidget.transformer.neurons import NeuronViewError, capture_all_qk, check_layer

        part = self._part(kind)
        check_layer(self.model, 0, part)  # the part fits the model, which runs eager attention
        if kind in self._refusals:  # a family the view cannot show: say so again without rerunning it
            raise NeuronViewError(self._refusals[kind])
        if kind not in self._captures:
            try:
                self._captures[kind] = capture_all_qk(self.model, self.sentence, part=part, target=self.target)
            except NeuronViewError as err:
                self._refusals[kind] = str(err)
                raise
        return self._captures[kind]

    def forget(self) -> None:
        """Drop the kept queries and keys, and any refusal (the next request catches them again)."""
        self._captures.clear()
        self._refusals.clear()
        if self._long is not None:
            self._long.close()
            self._long = None

    def captured_bytes(self) -> int:
        """Memory the kept queries and keys take (an array shared between layers counted once)."""
        arrays = {}
        for captures in self._captures.values():
            for qk in captures:
                for a in (qk.query, qk.key, qk.bias, qk.masked, qk.attention):
                    if a is not None:
                        arrays[id(a)] = a.nbytes
        return sum(arrays.values())

    @staticmethod
    def _part(kind: str) -> str | None:
        return None if kind == "self" else kind


def make_data(
    tokens: Sequence[str],
    attention: Any,
    *,
    syntax: Any = None,
    token_word: Sequence[int] | np.ndarray | None = None,
    model_name: str = "custom",
    is_causal: bool | None = None,
    key_tokens: Sequence[str] | None = None,
) -> AttentionData:
    """Check and normalise attention from any source into :class:`AttentionData`.

    ``key_tokens``: the column tokens when they differ from the row tokens
    (cross-attention, ``[layers, heads, T, S]``).
    """
    tokens = [str(tok) for tok in tokens]
    keys = tokens if key_tokens is None else [str(tok) for tok in key_tokens]
    att = _as_array(attention)
    if att.ndim == 3:
        att = att[None]
    if att.ndim == 5 and att.shape[1] == 1:  # stacked HF tuple: [layers, 1, heads, T, T]
        att = att[:, 0]
    if att.ndim != 4:
        raise AttnWidgetError(f"attention must be [layers, heads, T, T] or [heads, T, T]; got shape {tuple(att.shape)}")
    layers, heads, rows, cols = att.shape
    if key_tokens is None and rows != cols:
        raise AttnWidgetError(f"attention must be square in its last two axes; got {rows} x {cols}")
    if rows != len(tokens):
        raise AttnWidgetError(
            f"attention covers {rows} tokens but {len(tokens)} tokens were given; "
            "pass the same tokens the model saw (special tokens included)."
        )
    if key_tokens is not None and cols != len(keys):
        raise AttnWidgetError(f"attention has {cols} columns but {len(keys)} key tokens were given")
    if layers == 0 or heads == 0 or rows == 0:
        raise AttnWidgetError(f"attention is empty (shape {tuple(att.shape)})")
    att = np.ascontiguousarray(att, dtype=np.float32)
    # Whole-array passes without whole-array temporaries: at 512 tokens on a 12 x 12-head
    # model one copy is 151 MB, and a NaN or an infinity shows in the min or the max.
    low, high = float(att.min()), float(att.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise AttnWidgetError("attention contains NaN or infinite values")
    if low < -1e-6 or high > 1 + 1e-3:
        raise AttnWidgetError(
            f"attention weights must lie in [0, 1] (softmax outputs); got range "
            f"[{low:.3g}, {high:.3g}] - pass probabilities, not scores"
        )
    if is_causal is None:  # nothing above the diagonal, checked a layer at a time
        is_causal = rows == cols and rows > 1 and all(float(np.abs(np.triu(layer, k=1)).max()) <= 1e-6 for layer in att)
    if is_causal and rows != cols:
        raise AttnWidgetError("only square (self-)attention can be causal")
    if token_word is not None:
        token_word = np.asarray(token_word, dtype=np.int64)
        if token_word.shape != (rows,):
            raise AttnWidgetError(f"token_word needs one entry per token ({rows}); got shape {token_word.shape}")
        if syntax is not None and token_word.max(initial=-1) >= len(syntax.words):
            raise AttnWidgetError("token_word refers to a word the syntax does not have")
    if syntax is not None and token_word is None:
        raise AttnWidgetError("syntax needs token_word (the word of each token); or pass an AnnotatedSentence")
    return AttentionData(
        tokens=tokens,
        attention=att,
        model_name=model_name,
        is_causal=bool(is_causal),
        token_word=token_word,
        syntax=syntax,
        key_tokens=None if key_tokens is None else keys,
    )


def _as_array(attention: Any) -> np.ndarray:
    if isinstance(attention, (tuple, list)):
        if len(attention) == 0:
            raise AttnWidgetError(
                "attention is an empty tuple: the model returned no attention weights "
                "(load it with attn_implementation='eager', or use attnwidget.load_model)"
            )
        return np.stack([_as_array(a) for a in attention])
    if hasattr(attention, "detach"):  # torch tensor, without importing torch here
        return attention.detach().float().cpu().numpy()
    return np.asarray(attention)


def kv_heads(model: Any, num_heads: int) -> list[int] | None:
    """The key/value head of each query head under grouped-query attention, else None."""
    config = getattr(model, "config", None) or getattr(model.model, "config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    groups = getattr(text, "num_key_value_heads", None)
    if not isinstance(groups, int) or groups <= 0 or groups >= num_heads or num_heads % groups:
        return None
    per = num_heads // groups
    return [h // per for h in range(num_heads)]


def _data(sentence, attention, loaded, **extra) -> AttentionData:
    has_syntax = sentence.syntax is not None
    return make_data(
        sentence.tokens,
        attention,
        syntax=sentence.syntax,
        token_word=sentence.token_word if has_syntax else None,
        model_name=loaded.name,
        **extra,
    )


def single_input(
    text: str, loaded: Any, annotations: Any, target: Any = None, *, pipeline: Any = None, window: Any = None
) -> tuple[dict, ModelInput]:
    """One sentence through any model: ``{"self": data}``, or the three encoder-decoder kinds."""
    # lazy: keeps torch out of importing this module
    from attnwidget.transformer.qk_capture import supports_long
    from attnwidget.widget.long_payload import LONG_TOKENS, long_input  # lazy: as above

    try:
        sentence = annotate(text, loaded, annotations=annotations, pipeline=pipeline, window=window)
    except TooLongError as err:
        if window is not None:
            raise
        raise too_long(err, loaded, annotations) from None
    if loaded.is_encoder_decoder:
        return encoder_decoder_input(sentence, loaded, annotations, target, pipeline=pipeline)
    if target is not None:
        raise AttnWidgetError(
            f"target= is the decoder's text for an encoder-decoder model; {loaded.name!r} has no decoder"
        )
    if len(sentence.tokens) > LONG_TOKENS and supports_long(loaded) is None:
        data = long_input(sentence, loaded)  # queries and keys only: no [L, H, T, T] array
        data.kv_heads = kv_heads(loaded, data.num_heads)
        return {"self": data}, ModelInput(loaded, sentence, _long=data.store)
    [(data, model_input)] = self_attention_inputs([sentence], loaded)
    return {"self": data}, model_input


def self_attention_inputs(sentences: list, loaded: Any, batch_size: int = 16) -> list[tuple[AttentionData, ModelInput]]:
    """Annotated sentences through a decoder-only or encoder-only model, in batches: each one's
    ``"self"`` attention and the :class:`ModelInput` its neuron view reads. The path of one
    sentence typed into the widget and of the HeadExplorer's exemplar sentences."""
    # lazy: keeps torch out of importing this module
    from attnwidget.transformer.forward import attention

    weights = attention(loaded, sentences, batch_size=batch_size)
    inputs = []
    for sentence, w in zip(sentences, weights):
        data = _data(sentence, w, loaded, is_causal=loaded.is_causal)
        data.kv_heads = kv_heads(loaded, w.shape[1])
        inputs.append((data, ModelInput(loaded, sentence)))
    return inputs


def too_long(err: TooLongError, loaded: Any, annotations: Any) -> TooLongError:
    """The widget's own advice for a text past the model's window: the options it takes."""

    n, longest = err.n_tokens, longest_window(loaded)
    head = (
        f"the text has {n} tokens but {loaded.name!r} reads at most {loaded.max_length} at once "
        f"({longest} of the text's tokens and {loaded.max_length - longest} special tokens)"
    )
    if isinstance(annotations, Syntax):
        advice = "an annotated sentence is shown whole: split it, or pass its text with annotations='spacy' and window="
    else:
        advice = (
            f"show part of it with window={longest} (its first {longest} tokens) or "
            f"window=(start, stop) (tokens start..stop-1), or split it into sentences"
        )
    return TooLongError(f"{head}; {advice}.", n, loaded.max_length)


def encoder_decoder_input(
    source: Any, loaded: Any, annotations: Any, target: Any, pipeline: Any = None
) -> tuple[dict, ModelInput]:
    """Encoder self-attention, decoder self-attention and cross-attention, each with its tokens."""
    # lazy: keeps torch out of importing this module
    from attnwidget.transformer.architectures import encoder_decoder_attention

    if isinstance(target, str):
        try:
            target = annotate(target, loaded, annotations=annotations, pipeline=pipeline)
        except TooLongError as err:
            raise TooLongError(
                f"the target has {err.n_tokens} tokens but {loaded.name!r} reads at most {err.max_length}; shorten it.",
                err.n_tokens,
                err.max_length,
            ) from None
    both = encoder_decoder_attention(loaded, source, target)
    encoder = _data(both.source, both.encoder_attention, loaded, is_causal=False)
    decoder = _data(both.decoder, both.decoder_attention, loaded, is_causal=True)
    cross = _data(both.decoder, both.cross_attention, loaded, is_causal=False, key_tokens=both.source.tokens)
    cross.syntax, cross.token_word = None, None  # rows and columns are two different sentences
    for kind, data in (("encoder", encoder), ("decoder", decoder), ("cross", cross)):
        data.kind = kind
    return {"encoder": encoder, "decoder": decoder, "cross": cross}, ModelInput(loaded, both.source, target)


def pair_input(text_a: str, text_b: str, loaded: Any) -> tuple[dict, ModelInput]:
    """A sentence pair through an encoder, segment ids included, with its A / B split."""
    # lazy: keeps torch out of importing this module
    from attnwidget.transformer.architectures import pair, pair_attention, pair_sides

    if loaded.is_encoder_decoder or loaded.is_causal:
        kind = "an encoder-decoder" if loaded.is_encoder_decoder else "a causal"
        raise AttnWidgetError(
            f"sentence pairs are read by encoder models (BERT, RoBERTa, DistilBERT...); {loaded.name!r} is {kind} model"
        )
    try:
        sentence = pair(text_a, text_b, loaded)
    except TooLongError as err:
        raise TooLongError(
            f"the pair has {err.n_tokens} tokens but {loaded.name!r} reads at most "
            f"{err.max_length}; shorten the sentences.",
            err.n_tokens,
            err.max_length,
        ) from None
    weights = pair_attention(loaded, sentence)
    data = _data(sentence, weights, loaded, is_causal=False)
    at = int(np.argmax(pair_sides(sentence.segments))) if (sentence.segments == 1).any() else len(sentence.tokens)
    data.split = {"at": at, "names": ["A", "B"]}
    data.kv_heads = kv_heads(loaded, weights.shape[1])
    return {"self": data}, ModelInput(loaded, sentence)


def generation_input(
    prompt: str, loaded: Any, max_new_tokens: int, annotations: Any, **kwargs
) -> tuple[dict, ModelInput, Any]:
    """A causal model continues ``prompt``; the attention over prompt and continuation."""
    # lazy: keeps torch, transformers out of importing this module
    from attnwidget.transformer.generation import generate_attention

    gen = generate_attention(loaded, prompt, max_new_tokens=max_new_tokens, annotations=annotations, **kwargs)
    sentence = gen.sentence
    data = _data(sentence, gen.attention, loaded, is_causal=True)
    data.split = {"at": int(gen.boundary), "names": ["prompt", "generated"]}
    data.kv_heads = kv_heads(loaded, gen.attention.shape[1])
    return {"self": data}, ModelInput(loaded, sentence), gen
