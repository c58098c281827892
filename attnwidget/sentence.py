"""AnnotatedSentence: model tokens aligned to annotated words (SPEC §1).

This is the one data type that everything downstream of "run model" sees: the widget,
the corpus metrics and the explorer. A token belongs to the word whose character span
holds the token's first non-whitespace character; special tokens and whitespace-only
tokens belong to no word (``token_word == -1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .syntax import Syntax, parse_spacy, read_conllu
from .errors import AttnWidgetError, EmptyTextError, TooLongError


#: Display text of the second and later byte pieces of one character.
CONTINUATION = "…"


@dataclass
class AnnotatedSentence:
    """A sentence as the model sees it, with its syntax.

    ``tokens[k]`` is token k's text (its slice of ``text``, or the special token's name),
    ``offsets[k]`` its ``(start, end)`` characters (``(0, 0)`` for special tokens),
    ``token_word[k]`` the index of its word in ``syntax`` or -1. ``syntax`` is None when the
    sentence carries no annotation.
    """

    text: str
    tokens: list[str]
    input_ids: list[int]
    offsets: list[tuple[int, int]]
    token_word: np.ndarray
    syntax: Syntax | None = None
    truncated: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def words(self) -> list[str]:
        return list(self.syntax.words) if self.syntax else []

    @property
    def annotated(self) -> np.ndarray:
        """Boolean mask of tokens that belong to a word."""
        return self.token_word >= 0

    def _per_token(self, values: list) -> list:
        return [values[w] if w >= 0 else None for w in self.token_word.tolist()]

    @property
    def token_pos(self) -> list[str | None]:
        """UPOS of each token's word (None for unannotated tokens)."""
        return self._per_token(self.syntax.upos) if self.syntax else [None] * len(self)

    @property
    def token_deprel(self) -> list[str | None]:
        """Dependency relation of each token's word to its head."""
        return self._per_token(self.syntax.deprels) if self.syntax else [None] * len(self)

    @property
    def token_head(self) -> np.ndarray:
        """Word index of the head of each token's word; -1 for roots and unannotated tokens."""
        if self.syntax is None:
            return np.full(len(self), -1, dtype=np.int64)
        heads = np.asarray(self.syntax.heads + [-1], dtype=np.int64)  # index -1 -> -1
        return heads[self.token_word]

    def word_tokens(self) -> list[list[int]]:
        """For each word, the indices of its tokens (empty when no token starts in it)."""
        out: list[list[int]] = [[] for _ in self.words]
        for k, w in enumerate(self.token_word.tolist()):
            if w >= 0:
                out[w].append(k)
        return out


def align(
    source: Syntax | str,
    model: Any,
    truncate: bool = False,
) -> AnnotatedSentence:
    """Tokenize a sentence with the model's tokenizer and align tokens to words.

    ``source`` is a :class:`Syntax` (annotated words) or a plain string (no annotation).
    ``model`` is a :class:`~attnwidget.models.LoadedModel` or a fast tokenizer. Text longer
    than the model's window raises :class:`TooLongError` unless ``truncate=True``.
    """
    syntax = source if isinstance(source, Syntax) else None
    text = source.text if syntax is not None else source
    if not isinstance(text, str):
        raise TypeError(f"expected text or Syntax, not {type(source).__name__}")
    if not text.strip():
        raise EmptyTextError("the text is empty or only whitespace; give at least one word.")
    tokenizer = getattr(model, "tokenizer", model)
    max_length = getattr(model, "max_length", None) or _tokenizer_window(tokenizer)
    if not getattr(tokenizer, "is_fast", False):
        raise AttnWidgetError("alignment needs a fast tokenizer (one that returns character offsets).")
    enc = tokenizer(
        text,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        add_special_tokens=True,
    )
    n_tokens = len(enc["input_ids"])
    truncated = False
    if n_tokens > max_length:
        if not truncate:
            raise TooLongError(
                f"the text has {n_tokens} tokens but the model's window is {max_length}; "
                "shorten it, split it into sentences, or pass truncate=True to keep the first "
                f"{max_length} tokens.",
                n_tokens,
                max_length,
            )
        enc = tokenizer(
            text,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            add_special_tokens=True,
            truncation=True,
            max_length=max_length,
        )
        truncated = True
    ids = list(enc["input_ids"])
    offsets = [tuple(map(int, o)) for o in enc["offset_mapping"]]
    special = list(enc["special_tokens_mask"])
    char_word = _char_to_word(text, syntax)
    token_word = np.full(len(ids), -1, dtype=np.int64)
    raw_tokens = tokenizer.convert_ids_to_tokens(ids)
    tokens = []
    for k, ((start, end), is_special) in enumerate(zip(offsets, special)):
        if is_special or end <= start:
            tokens.append(raw_tokens[k])
            continue
        # Byte-level BPE splits one character into several tokens with the same span:
        # show the character once and mark the following pieces as its continuation.
        same_span = k > 0 and offsets[k - 1] == (start, end) and not special[k - 1]
        tokens.append(CONTINUATION if same_span else text[start:end])
        first = _first_non_space(text, start, end)
        if first is not None:
            token_word[k] = char_word[first]
    return AnnotatedSentence(
        text=text,
        tokens=tokens,
        input_ids=ids,
        offsets=offsets,
        token_word=token_word,
        syntax=syntax,
        truncated=truncated,
    )


def annotate(
    source: str | Syntax,
    model: Any,
    annotations: str | Syntax | None = "spacy",
    pipeline: Any = None,
    truncate: bool = False,
) -> AnnotatedSentence:
    """Annotate one input and align it to ``model``'s tokens.

    ``annotations``: ``"spacy"`` parses ``source`` with spaCy; ``"gold"`` reads ``source`` as
    one CoNLL-U sentence (a string or a :class:`Syntax`); a :class:`Syntax` is used as is;
    ``None`` gives tokens with no syntax.
    """
    if isinstance(source, Syntax):
        return align(source, model, truncate=truncate)
    if isinstance(annotations, Syntax):
        if annotations.text != source:
            raise AttnWidgetError("the Syntax given as annotations is for another text")
        return align(annotations, model, truncate=truncate)
    if annotations is None:
        return align(source, model, truncate=truncate)
    if annotations == "spacy":
        return align(parse_spacy(source, pipeline), model, truncate=truncate)
    if annotations == "gold":
        sentences = read_conllu(source)
        if len(sentences) != 1:
            raise AttnWidgetError(
                f"annotations='gold' takes one CoNLL-U sentence; this source holds {len(sentences)}."
            )
        return align(sentences[0], model, truncate=truncate)
    raise AttnWidgetError(
        f"annotations must be 'spacy', 'gold', a Syntax or None, not {annotations!r}"
    )


def _char_to_word(text: str, syntax: Syntax | None) -> np.ndarray:
    char_word = np.full(len(text), -1, dtype=np.int64)
    if syntax is not None:
        for w, (start, end) in enumerate(syntax.spans):
            char_word[start:end] = w
    return char_word


def _first_non_space(text: str, start: int, end: int) -> int | None:
    for c in range(start, min(end, len(text))):
        if not text[c].isspace():
            return c
    return None


def _tokenizer_window(tokenizer) -> int:
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 1_000_000 else 512
