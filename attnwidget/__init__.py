"""attnwidget: see and measure what transformer language models attend to, with syntax.

Entry points (imported lazily, so ``import attnwidget`` stays quick):

- :func:`load_model` — a model + tokenizer with attention returned, offline-capable.
- :func:`annotate` / :func:`align` — text or CoNLL-U to an :class:`AnnotatedSentence`.
- :func:`attention` — per-sentence attention ``[layers, heads, T, T]``.
- ``AttentionWidget`` — the interactive view of one input.
- ``analyze`` / ``AttentionStats`` — Vig & Belinkov's corpus analysis.
- :func:`preload` — load torch, transformers and spaCy ahead (a Jupyter kernel does so by
  itself, while idle, once ``AttentionWidget`` is first imported).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "transformer.loading",
    "LoadedModel": "transformer.hf_loading",
    "DEFAULT_MODEL": "defaults",
    "OFFLINE_MODEL": "defaults",
    "Syntax": "text.syntax",
    "parse_spacy": "text.syntax",
    "read_conllu": "text.syntax",
    "iter_conllu": "text.syntax",
    "validate_conllu": "text.syntax",
    "AnnotatedSentence": "text.sentence",
    "align": "text.sentence",
    "annotate": "text.sentence",
    "attention": "transformer.forward",
    "iter_attention_batches": "transformer.forward",
    "AttentionWidget": "widget.attention_widget",
    "pair": "transformer.architectures",
    "filter_pair": "transformer.architectures",
    "encoder_decoder_attention": "transformer.architectures",
    "neuron_view": "transformer.neurons",
    "capture_qk": "transformer.neurons",
    "capture_all_qk": "transformer.neurons",
    "generate_attention": "transformer.generation",
    "analyze": "corpus.analysis",
    "AttentionStats": "corpus.stats",
    "HeadExplorer": "explorer.head_explorer",
    "preload": "preloading",
    "sample_corpus": "data",
    "AttnWidgetError": "errors",
    "ConlluError": "errors",
    "ConlluWarning": "errors",
    "EmptyTextError": "errors",
    "ModelLoadError": "errors",
    "NoAttentionError": "errors",
    "SpacyPipelineError": "errors",
    "TooLongError": "errors",
    "WidgetClosedError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'attnwidget' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
