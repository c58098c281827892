"""Where an AttentionWidget's attention comes from when it runs a model itself.

One input gives one or three attentions (:class:`AttentionData`, keyed by kind): a
decoder-only or encoder-only model gives ``"self"``; an encoder-decoder model gives
``"encoder"``, ``"decoder"`` and ``"cross"``. :class:`ModelInput` keeps the model and what
it read, so the neuron view can catch the queries and keys later: every layer of a kind in
one forward pass, the first time the view needs that kind, kept, so changing layer, head or
token reruns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnwidget.errors import AttnWidgetError, TooLongError
from attnwidget.widget.payload import AttentionData


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

    def capture(self, kind: str, layer: int):
        """The :class:`attnwidget.transformer.neurons.QueryKey` of ``layer`` of attention ``kind``.

        The first request of a kind catches all its layers in one forward pass
        (:meth:`captures`); later ones are lookups. A layer out of range is refused before
        anything runs.
        """
        from attnwidget.transformer.neurons import check_layer

        check_layer(self.model, layer, self._part(kind))
        return self.captures(kind)[layer]

    def captures(self, kind: str) -> list:
        """Every layer's :class:`attnwidget.transformer.neurons.QueryKey` of attention ``kind``, caught once and kept.

        A :class:`attnwidget.transformer.neurons.NeuronViewError` (a family whose attention the view
        cannot rebuild) is kept too, and raised again without running the model.
        """
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
    from attnwidget.widget.attention_widget import make_data

    has_syntax = sentence.syntax is not None
    return make_data(
        sentence.tokens,
        attention,
        syntax=sentence.syntax,
        token_word=sentence.token_word if has_syntax else None,
        model_name=loaded.name,
        **extra,
    )


def single_input(text: str, loaded: Any, annotations: Any, target: Any = None, *, pipeline: Any = None,
                 window: Any = None) -> tuple[dict, ModelInput]:
    """One sentence through any model: ``{"self": data}``, or the three encoder-decoder kinds."""
    from attnwidget.transformer.forward import attention
    from attnwidget.text.sentence import annotate

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
    weights = attention(loaded, [sentence])[0]
    groups = kv_heads(loaded, weights.shape[1])
    data = _data(sentence, weights, loaded, is_causal=loaded.is_causal)
    data.kv_heads = groups
    return {"self": data}, ModelInput(loaded, sentence)


def too_long(err: TooLongError, loaded: Any, annotations: Any) -> TooLongError:
    """The widget's own advice for a text past the model's window: the options it takes."""
    from attnwidget.text.sentence import longest_window
    from attnwidget.text.syntax import Syntax

    n, longest = err.n_tokens, longest_window(loaded)
    head = (f"the text has {n} tokens but {loaded.name!r} reads at most {loaded.max_length} at once "
            f"({longest} of the text's tokens and {loaded.max_length - longest} special tokens)")
    if isinstance(annotations, Syntax):
        advice = ("an annotated sentence is shown whole: split it, or pass its text with "
                  "annotations='spacy' and window=")
    else:
        advice = (f"show part of it with window={longest} (its first {longest} tokens) or "
                  f"window=(start, stop) (tokens start..stop-1), or split it into sentences")
    return TooLongError(f"{head}; {advice}.", n, loaded.max_length)


def encoder_decoder_input(source: Any, loaded: Any, annotations: Any, target: Any,
                          pipeline: Any = None) -> tuple[dict, ModelInput]:
    """Encoder self-attention, decoder self-attention and cross-attention, each with its tokens."""
    from attnwidget.transformer.architectures import encoder_decoder_attention
    from attnwidget.text.sentence import annotate

    if isinstance(target, str):
        try:
            target = annotate(target, loaded, annotations=annotations, pipeline=pipeline)
        except TooLongError as err:
            raise TooLongError(f"the target has {err.n_tokens} tokens but {loaded.name!r} reads at most "
                               f"{err.max_length}; shorten it.", err.n_tokens, err.max_length) from None
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
    from attnwidget.transformer.architectures import pair, pair_attention, pair_sides

    if loaded.is_encoder_decoder or loaded.is_causal:
        kind = "an encoder-decoder" if loaded.is_encoder_decoder else "a causal"
        raise AttnWidgetError(
            f"sentence pairs are read by encoder models (BERT, RoBERTa, DistilBERT...); {loaded.name!r} is {kind} model"
        )
    try:
        sentence = pair(text_a, text_b, loaded)
    except TooLongError as err:
        raise TooLongError(f"the pair has {err.n_tokens} tokens but {loaded.name!r} reads at most "
                           f"{err.max_length}; shorten the sentences.", err.n_tokens, err.max_length) from None
    weights = pair_attention(loaded, sentence)
    data = _data(sentence, weights, loaded, is_causal=False)
    at = int(np.argmax(pair_sides(sentence.segments))) if (sentence.segments == 1).any() else len(sentence.tokens)
    data.split = {"at": at, "names": ["A", "B"]}
    data.kv_heads = kv_heads(loaded, weights.shape[1])
    return {"self": data}, ModelInput(loaded, sentence)


def generation_input(prompt: str, loaded: Any, max_new_tokens: int, annotations: Any, **kwargs) -> tuple[dict, ModelInput, Any]:
    """A causal model continues ``prompt``; the attention over prompt and continuation."""
    from attnwidget.transformer.generation import generate_attention

    gen = generate_attention(loaded, prompt, max_new_tokens=max_new_tokens, annotations=annotations, **kwargs)
    sentence = gen.sentence
    data = _data(sentence, gen.attention, loaded, is_causal=True)
    data.split = {"at": int(gen.boundary), "names": ["prompt", "generated"]}
    data.kv_heads = kv_heads(loaded, gen.attention.shape[1])
    return {"self": data}, ModelInput(loaded, sentence), gen
