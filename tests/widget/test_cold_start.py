"""The first widget of a process: less work, and a status line for every wait.

How long it takes is measured by bench/bench_cold_start.py; here, that the work left out
changes nothing (same syntax, same checks) and that each wait says what it is waiting for.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

import tiny_models
from attnwidget.text import syntax
from attnwidget.text.syntax import (
    UNUSED_COMPONENTS,
    iter_conllu,
    spacy_pipeline,
    syntax_from_doc,
)
from attnwidget.transformer.loading import OFFLINE_MODEL, load_model
from testdata import REPO


def test_the_spacy_pipeline_leaves_out_what_the_syntax_never_reads_and_parses_the_same(nlp, ewt_path):
    import spacy

    assert {"tagger", "parser", "attribute_ruler"} <= set(nlp.pipe_names)
    assert not set(nlp.pipe_names) & set(UNUSED_COMPONENTS)
    whole = spacy.load(syntax.find_english_pipeline())
    assert {"ner", "lemmatizer"} <= set(whole.pipe_names)  # there was something to leave out
    texts = [s.text for s in itertools.islice(iter_conllu(ewt_path), 80)]
    lean = [syntax_from_doc(doc) for doc in nlp.pipe(texts)]
    full = [syntax_from_doc(doc) for doc in whole.pipe(texts)]
    assert lean == full  # words, spans, UPOS, heads, relations, sentence counts


def test_the_pipeline_found_installed_is_found_and_loaded_once(nlp):
    found = syntax.find_english_pipeline()
    assert spacy_pipeline() is spacy_pipeline(None) is spacy_pipeline(found) is nlp


def test_loading_spacy_shows_a_status_line_when_asked(monkeypatch, capfd):
    monkeypatch.setattr(syntax, "_PIPELINES", {})
    spacy_pipeline(progress=True)
    err = capfd.readouterr().err
    assert "loading spaCy pipeline" in err and "done in" in err
    monkeypatch.setattr(syntax, "_PIPELINES", {})
    spacy_pipeline()
    assert capfd.readouterr().err == ""


def test_loading_a_model_checks_its_attention_with_one_pass():
    model, tokenizer = tiny_models.tiny_bert()
    passes = []
    model.register_forward_hook(lambda module, args, output: passes.append(1))
    loaded = load_model((model, tokenizer), device="cpu")
    assert len(passes) == 1
    assert loaded.stops_after_attention  # BERT's attention calls are its layers: found by that one pass


def _fresh(code: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_an_empty_text_fails_before_torch_is_imported():
    proc = _fresh(
        "import sys\nfrom attnwidget import AttentionWidget, EmptyTextError, OFFLINE_MODEL\n"
        "try:\n    AttentionWidget('  ', model=OFFLINE_MODEL)\n"
        "except EmptyTextError as exc:\n    print('error:', exc)\n"
        "print('torch imported:', 'torch' in sys.modules)\n"
    )
    assert "error: the text is empty" in proc.stdout, proc.stderr
    assert "torch imported: False" in proc.stdout


@pytest.mark.slow
def test_the_first_widget_of_a_process_says_what_it_waits_for():
    proc = _fresh(
        "from attnwidget import AttentionWidget, OFFLINE_MODEL\n"
        f"w = AttentionWidget('The cat sat on the mat.', model={OFFLINE_MODEL!r})\n"
        "print(len(w._data.tokens))\n"
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    for wait in ("importing torch", f"loading model {OFFLINE_MODEL}", "importing spacy", "loading spaCy pipeline"):
        assert wait in err, err
    assert err.count("done in") == 4, err
