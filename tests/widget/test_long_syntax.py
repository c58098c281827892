"""A long input keeps its syntax: spaCy parses the whole text (8,192 tokens: thousands of
words, with a status line while it works) and the widget's ``_meta`` carries it, so the long
views can show tags, dependency lines and outlined cells; word level stays token level."""

from __future__ import annotations

import pytest

from attnwidget import AttentionWidget
from attnwidget.widget.long_payload import LONG_TOKENS
from tests.tiny_models import llama_long

N = 8192


def english(tok, n: int) -> str:
    from attnwidget.data import sample_corpus

    text = " ".join(sample_corpus() * (1 + 2 * n // 100))
    return tok.decode(tok(text)["input_ids"][:n])


@pytest.fixture(scope="module")
def widget():
    model, tok = llama_long(n_layer=1, n_head=2, n_kv_head=1, window=N)
    w = AttentionWidget(english(tok, N), model=(model, tok), annotations="spacy")
    yield w
    w.close()


def test_spacy_parses_an_8192_token_text_and_the_meta_carries_it(widget):
    meta = widget._meta
    assert meta["num_tokens"] == N > LONG_TOKENS and widget._layer_data["packing"] == "summary"
    syntax = meta["syntax"]
    assert syntax["source"] == "spacy" and len(syntax["words"]) > 2000
    assert len(syntax["upos"]) == len(syntax["head"]) == len(syntax["deprel"]) == len(syntax["words"])
    word = meta["levels"]["token"]["word"]
    assert len(word) == N and sum(w >= 0 for w in word) > 0.9 * N
    # tokens at the end of the text still have their words and relations (no cut parse)
    last = max(w for w in word if w >= 0)
    assert last == len(syntax["words"]) - 1
    assert sum(h >= 0 for h in syntax["head"]) > 0.8 * len(syntax["words"])


def test_a_long_parse_shows_a_status_line(capfd):
    from attnwidget.text.syntax import LONG_PARSE_CHARS, parse_spacy

    text = "The cat sat on the mat. " * (LONG_PARSE_CHARS // 24 + 1)
    syntax = parse_spacy(text)
    err = capfd.readouterr().err
    assert f"parsing {len(text):,} characters with spaCy" in err and "done in" in err
    assert len(syntax.words) == 7 * (LONG_PARSE_CHARS // 24 + 1)
    parse_spacy("The cat sat.")  # short: nothing shown
    parse_spacy(text, progress=False)
    assert "parsing" not in capfd.readouterr().err
