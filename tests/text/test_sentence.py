"""Token-to-word alignment (SPEC §1) for WordPiece, byte-level BPE and SentencePiece-style tokenizers."""

from __future__ import annotations

import pytest

from attnwidget.errors import EmptyTextError, TooLongError
from attnwidget.text.sentence import CONTINUATION, align, align_many, annotate
from attnwidget.text.syntax import read_conllu
from testdata import HARD_CASES

MODELS = ["minilm", "gpt2_small", "bert_small", "t5_small"]


def _expected_word(sentence, k):
    """SPEC §1 restated independently: the word holding the token's first non-space char."""
    start, end = sentence.offsets[k]
    chars = [c for c in range(start, end) if not sentence.text[c].isspace()]
    if not chars or start == end:
        return -1
    for w, (a, b) in enumerate(sentence.syntax.spans):
        if a <= chars[0] < b:
            return w
    return -1


@pytest.mark.parametrize("fixture", MODELS)
def test_hard_cases_align_per_spec(fixture, request):
    model = request.getfixturevalue(fixture)
    for syntax in read_conllu(HARD_CASES):
        s = align(syntax, model)
        assert len(s.tokens) == len(s.input_ids) == len(s.offsets) == len(s.token_word)
        for k in range(len(s)):
            tok = model.tokenizer
            if s.input_ids[k] in tok.all_special_ids and s.input_ids[k] != tok.unk_token_id:
                assert s.token_word[k] == -1  # [CLS], [SEP], </s>; [UNK] stands for real text
            else:
                assert s.token_word[k] == _expected_word(s, k), (fixture, s.tokens[k])
        # every word with surface characters and a token starting inside gets it
        assert s.token_word.max() < len(syntax.words)


def test_wordpiece_contraction_and_special_tokens(minilm):
    s = align(read_conllu(HARD_CASES)[0], minilm)
    assert s.tokens[0] == "[CLS]" and s.tokens[-1] == "[SEP]"
    assert s.token_word[0] == -1 and s.token_word[-1] == -1
    k = s.tokens.index("don")
    assert s.words[s.token_word[k]] == "do"  # "don" starts inside "do"
    assert s.words[s.token_word[k + 1]] == "n't"  # the apostrophe starts "n't"
    # pieces of one word carry its features (paper footnote 6)
    assert s.token_pos[k + 1] == s.token_pos[k + 2] == "PART"


def test_byte_level_bpe_leading_space_belongs_to_the_next_word(gpt2_small):
    syntax = read_conllu(HARD_CASES)[2]  # "Zoë visited 東京 😀  twice ..."
    s = align(syntax, gpt2_small)
    assert s.token_word[0] == 0  # no special tokens for GPT-2
    for k, (start, end) in enumerate(s.offsets):
        piece = s.text[start:end]
        if piece.startswith(" ") and piece.strip():
            assert s.words[s.token_word[k]].startswith(piece.strip()[0])
    # whitespace-only tokens (the doubled space) belong to no word
    blank = [k for k, (a, b) in enumerate(s.offsets) if not s.text[a:b].strip()]
    assert blank and all(s.token_word[k] == -1 for k in blank)
    # the emoji is several byte tokens of one word, shown once then as continuations
    emoji = [k for k, w in enumerate(s.token_word) if w == 3]
    assert len(emoji) > 1 and s.tokens[emoji[0]] == "😀"
    assert all(s.tokens[k] == CONTINUATION for k in emoji[1:])


def test_token_heads_and_relations(minilm):
    s = align(read_conllu(HARD_CASES)[3], minilm)  # Sue likes coffee, Bill tea.
    k = s.tokens.index("coffee")
    assert s.token_deprel[k] == "obj" and s.words[s.token_head[k]] == "likes"
    assert s.token_head[s.tokens.index("likes")] == -1
    assert s.token_head[0] == -1


def test_unannotated_text_has_tokens_but_no_words(minilm):
    s = annotate("Plain text here.", minilm, annotations=None)
    assert s.syntax is None and (s.token_word == -1).all()
    assert s.tokens[1:-1] == ["Plain", "text", "here", "."]


def test_spacy_annotation_aligns(minilm, nlp):
    s = annotate("Zoë's café doesn't open until 9:30.", minilm, annotations="spacy")
    assert s.syntax.source == "spacy"
    annotated = [k for k in range(len(s)) if s.token_word[k] >= 0]
    assert len(annotated) == len(s) - 2


def test_gold_annotation_from_one_conllu_sentence(minilm):
    block = HARD_CASES.read_text(encoding="utf-8").split("\n\n")[3]
    s = annotate(block, minilm, annotations="gold")
    assert s.words == ["Sue", "likes", "coffee", ",", "Bill", "tea", "."]


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_text_is_a_clear_error(minilm, text):
    with pytest.raises(EmptyTextError, match="empty or only whitespace"):
        align(text, minilm)


def test_text_longer_than_window_errors_or_truncates_when_asked(gpt2_small):
    long = "word " * 400
    with pytest.raises(TooLongError, match=r"window is 128.*truncate=True") as info:
        align(long, gpt2_small)
    assert info.value.n_tokens > 128
    s = align(long, gpt2_small, truncate=True)
    assert len(s) == 128 and s.truncated


def test_a_text_too_long_for_the_model_is_our_error_before_spacy_parses_it(gpt2_small):
    """Past spaCy's max_length (1,000,000 characters) spaCy would raise its own error first;
    any text too long for the model gets the model's window error, without a parse."""
    with pytest.raises(TooLongError, match=r"window is 128"):
        annotate("word " * 200_001, gpt2_small, annotations="spacy")


def test_truncation_keeps_special_tokens(minilm):
    s = align("word " * 600, minilm, truncate=True)
    assert len(s) == 512 and s.tokens[-1] == "[SEP]" and s.truncated


@pytest.mark.parametrize("fixture", MODELS)
def test_aligning_many_at_once_matches_one_by_one(fixture, request):
    """The corpus pass tokenizes a group of sentences in one call; each result, errors
    included, is what aligning that sentence alone gives."""
    model = request.getfixturevalue(fixture)
    too_long = "word " * (model.max_length + 10)
    sources = [*read_conllu(HARD_CASES), "", too_long, "plain text, no syntax", "  "]
    results = align_many(sources, model)
    assert len(results) == len(sources)
    for source, result in zip(sources, results):
        try:
            alone = align(source, model)
        except (EmptyTextError, TooLongError) as error:
            assert type(result) is type(error) and str(result) == str(error)
            continue
        assert (result.tokens, result.input_ids, result.offsets) == (alone.tokens, alone.input_ids, alone.offsets)
        assert result.token_word.tolist() == alone.token_word.tolist() and result.syntax is alone.syntax
    assert isinstance(results[-3], TooLongError)
    truncated = align_many([too_long, "short"], model, truncate=True)
    assert truncated[0].truncated and len(truncated[0]) == model.max_length and not truncated[1].truncated
