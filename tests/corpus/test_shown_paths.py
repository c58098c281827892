"""Corpus paths as summaries print them: no machine's layout in a notebook, a page or a file."""

from __future__ import annotations

import os
from pathlib import Path

from attnwidget.corpus.shown_paths import JOIN, relative_to
from attnwidget.data import sample_corpus_path, sample_gold_path


def test_the_sample_corpus_is_named_inside_the_package_wherever_it_is_installed():
    shown = relative_to(str(sample_corpus_path()), None)
    assert shown.startswith("attnwidget/") and shown.endswith(Path(sample_corpus_path()).name)
    assert not os.path.isabs(shown)


def test_a_corpus_under_the_working_folder_is_shown_from_it(tmp_path, monkeypatch):
    corpus = tmp_path / "data" / "mine.conllu"
    monkeypatch.chdir(tmp_path)
    assert relative_to(str(corpus), None) == os.path.join("data", "mine.conllu")


def test_a_corpus_elsewhere_is_shown_as_given_and_a_folder_wins(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    corpus = str(tmp_path / "elsewhere" / "c.conllu")
    assert relative_to(corpus, None) == corpus
    assert relative_to(corpus, tmp_path / "out") == os.path.join("..", "elsewhere", "c.conllu")


def test_each_part_of_a_merged_corpus_is_shown_alike(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    merged = JOIN.join([str(tmp_path / "a.conllu"), str(sample_corpus_path())])
    first, second = relative_to(merged, None).split(JOIN)
    assert first == "a.conllu" and second.startswith("attnwidget/")


def test_a_summary_printed_in_a_notebook_names_the_sample_corpus_without_this_machine(minilm):
    import attnwidget as aw

    stats = aw.analyze(sample_gold_path(), model=minilm, annotations="gold", max_sentences=3, progress=False)
    text = stats.summary.describe()
    assert str(Path(sample_gold_path()).parent) not in text and "attnwidget/data/sample_gold.conllu" in text
