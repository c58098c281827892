"""The command line: the README's main job and the token printout."""

from __future__ import annotations

import pytest

from attnwidget.cli.commands import main


@pytest.mark.slow
def test_demo_writes_the_sentence_page_and_a_corpus_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--sentences", "24"]) == 0
    printed = capsys.readouterr().out.split()
    sentence, report = (tmp_path / "demo" / "sentence.html"), (tmp_path / "demo" / "report.html")
    assert printed == [str(sentence.resolve()), str(report.resolve())]
    page = sentence.read_text(encoding="utf-8")
    assert "all-MiniLM-L6-v2" in page and "<script" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    text = report.read_text(encoding="utf-8")
    assert "24 sentences" in text and "Dependency-head accuracy" in text
    assert "data:image/png;base64," in text


def test_tokens_prints_words_tags_and_attention_summary(capsys):
    assert main(["tokens", "The cat sat on the mat.", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "'cat'" in out and "NOUN" in out and "nsubj" in out
    assert "attention: 6 layers x 12 heads x 9x9 tokens" in out


def test_bad_input_exits_non_zero_with_a_message(capsys, tmp_path):
    assert main(["tokens", "   "]) == 2
    assert "empty or only whitespace" in capsys.readouterr().err
