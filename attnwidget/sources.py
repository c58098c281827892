"""Where an AttentionWidget's attention comes from when it runs a model itself.

One input gives one or three attentions (:class:`AttentionData`, keyed by kind): a
decoder-only or encoder-only model gives ``"self"``; an encoder-decoder model gives
``"encoder"``, ``"decoder"`` and ``"cross"``. :class:`ModelInput` keeps the model and what
it read, so the neuron view can catch one layer's queries and keys later (one forward
pass per layer, kept, so changing head or token reruns nothing).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import AttnWidgetError
from .payload import AttentionData

#: Captures kept per widget: the layer shown and the one before (switching back is free).
KEEP_CAPTURES = 2


@dataclass
class ModelInput:
    """The model and the input it read, for the neuron view.

    ``sentence`` is what the model (or its encoder) read; ``target`` the decoder's
    teacher-forced target for an encoder-decoder model (None: it reads the source).
    """

    model: Any
    sentence: Any
    target: Any = None
    _captures: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def capture(self, kind: str, layer: int):
        """The :class:`attnwidget.neurons.QueryKey` of ``layer`` of attention ``kind``, cached."""
        from .neurons import capture_qk

        key = (kind, layer)
        if key in self._captures:
            self._captures.move_to_end(key)
            return self._captures[key]
        part = None if kind == "self" else kind
        qk = capture_qk(self.model, self.sentence, layer, part=part, target=self.target)
        self._captures[key] = qk
        while len(self._captures) > KEEP_CAPTURES:
            self._captures.popitem(last=False)
        return qk


def kv_heads(model: Any, num_heads: int) -> list[int] | None:
    """The key/value head of each query head under grouped-query attention, else None."""
    config = getattr(model.model, "config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    groups = getattr(text, "num_key_value_heads", None)
    if not isinstance(groups, int) or groups <= 0 or groups >= num_heads or num_heads % groups:
        return None
    per = num_heads // groups
    return [h // per for h in range(num_heads)]


def _data(sentence, attention, loaded, **extra) -> AttentionData:
    from .widget import make_data

    has_syntax = sentence.syntax is not None
    return make_data(
        sentence.tokens,
        attention,
        syntax=sentence.syntax,
        token_word=sentence.token_word if has_syntax else None,
        model_name=loaded.name,
        **extra,
    )


def single_input(text: str, loaded: Any, annotations: Any, target: Any = None) -> tuple[dict, ModelInput]:
    """One sentence through any model: ``{"self": data}``, or the three encoder-decoder kinds."""
    from .forward import attention
    from .sentence import annotate

    sentence = annotate(text, loaded, annotations=annotations)
    if loaded.is_encoder_decoder:
        return encoder_decoder_input(sentence, loaded, annotations, target)
    if target is not None:
        raise AttnWidgetError(
            f"target= is the decoder's text for an encoder-decoder model; {loaded.name!r} has no decoder"
        )
    weights = attention(loaded, [sentence])[0]
    groups = kv_heads(loaded, weights.shape[1])
    data = _data(sentence, weights, loaded, is_causal=loaded.is_causal)
    data.kv_heads = groups
    return {"self": data}, ModelInput(loaded, sentence)


def encoder_decoder_input(source: Any, loaded: Any, annotations: Any, target: Any) -> tuple[dict, ModelInput]:
    """Encoder self-attention, decoder self-attention and cross-attention, each with its tokens."""
    from .families import encoder_decoder_attention
    from .sentence import annotate

    if isinstance(target, str):
        target = annotate(target, loaded, annotations=annotations)
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
    from .families import pair, pair_attention, pair_sides

    if loaded.is_encoder_decoder or loaded.is_causal:
        kind = "an encoder-decoder" if loaded.is_encoder_decoder else "a causal"
        raise AttnWidgetError(
            f"sentence pairs are read by encoder models (BERT, RoBERTa, DistilBERT...); {loaded.name!r} is {kind} model"
        )
    sentence = pair(text_a, text_b, loaded)
    weights = pair_attention(loaded, sentence)
    data = _data(sentence, weights, loaded, is_causal=False)
    at = int(np.argmax(pair_sides(sentence.segments))) if (sentence.segments == 1).any() else len(sentence.tokens)
    data.split = {"at": at, "names": ["A", "B"]}
    data.kv_heads = kv_heads(loaded, weights.shape[1])
    return {"self": data}, ModelInput(loaded, sentence)


def generation_input(prompt: str, loaded: Any, max_new_tokens: int, annotations: Any, **kwargs) -> tuple[dict, ModelInput, Any]:
    """A causal model continues ``prompt``; the attention over prompt and continuation."""
    from .generation import generate_attention

    gen = generate_attention(loaded, prompt, max_new_tokens=max_new_tokens, annotations=annotations, **kwargs)
    sentence = gen.sentence
    data = _data(sentence, gen.attention, loaded, is_causal=True)
    data.split = {"at": int(gen.boundary), "names": ["prompt", "generated"]}
    data.kv_heads = kv_heads(loaded, gen.attention.shape[1])
    return {"self": data}, ModelInput(loaded, sentence), gen
