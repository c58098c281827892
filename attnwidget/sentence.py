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
    result = align_many([source], model, truncate)[0]
    if isinstance(result, Exception):
        raise result
    return result


def align_many(
    sources: list[Syntax | str],
    model: Any,
    truncate: bool = False,
) -> list[AnnotatedSentence | AttnWidgetError]:
    """:func:`align` for many sentences, tokenized in one call (a corpus pass spends less
    time in the tokenizer's Python wrapper than one call per sentence does).

    Each item is the aligned sentence, or the error :func:`align` would raise for it
    (:class:`EmptyTextError`, :class:`TooLongError`), so one bad sentence costs only itself.
    """
    tokenizer = getattr(model, "tokenizer", model)
    if not getattr(tokenizer, "is_fast", False):
        raise AttnWidgetError("alignment needs a fast tokenizer (one that returns character offsets).")
    max_length = getattr(model, "max_length", None) or _tokenizer_window(tokenizer)
    texts = []
    for source in sources:
        text = source.text if isinstance(source, Syntax) else source
        if not isinstance(text, str):
            raise TypeError(f"expected text or Syntax, not {type(source).__name__}")
        texts.append(text)
    out: list[AnnotatedSentence | AttnWidgetError] = [
        EmptyTextError("the text is empty or only whitespace; give at least one word.") for _ in texts
    ]
    wanted = [k for k, text in enumerate(texts) if text.strip()]
    if not wanted:
        return out
    options = dict(return_offsets_mapping=True, return_special_tokens_mask=True, add_special_tokens=True)
    enc = tokenizer([texts[k] for k in wanted], **options)
    for row, k in enumerate(wanted):
        ids, offsets, special = enc["input_ids"][row], enc["offset_mapping"][row], enc["special_tokens_mask"][row]
        truncated = False
        if len(ids) > max_length:
            if not truncate:
                out[k] = TooLongError(
                    f"the text has {len(ids)} tokens but the model's window is {max_length}; "
                    "shorten it, split it into sentences, or pass truncate=True to keep the first "
                    f"{max_length} tokens.",
                    len(ids),
                    max_length,
                )
                continue
            cut = tokenizer(texts[k], truncation=True, max_length=max_length, **options)
            ids, offsets, special = cut["input_ids"], cut["offset_mapping"], cut["special_tokens_mask"]
            truncated = True
        syntax = sources[k] if isinstance(sources[k], Syntax) else None
        out[k] = _aligned(texts[k], syntax, tokenizer, list(ids), offsets, list(special), truncated)
    return out


def _aligned(text: str, syntax: Syntax | None, tokenizer, ids: list[int], offsets, special: list[int],
             truncated: bool) -> AnnotatedSentence:
    """The sentence from its tokenizer output: token texts, and each token's word."""
    offsets = [(int(a), int(b)) for a, b in offsets]
    tokens = []
    firsts = []  # (token, its first non-space character)
    for k, ((start, end), is_special) in enumerate(zip(offsets, special)):
        if is_special or end <= start:
            tokens.append(tokenizer.convert_ids_to_tokens(ids[k]))  # its vocabulary name
            continue
        # Byte-level BPE splits one character into several tokens with the same span:
        # show the character once and mark the following pieces as its continuation.
        same_span = k > 0 and offsets[k - 1] == (start, end) and not special[k - 1]
        tokens.append(CONTINUATION if same_span else text[start:end])
        first = start if start < len(text) and not text[start].isspace() else _first_non_space(text, start, end)
        if first is not None:
            firsts.append((k, first))
    return AnnotatedSentence(
        text=text,
        tokens=tokens,
        input_ids=ids,
        offsets=offsets,
        token_word=_token_words(len(ids), firsts, text, syntax),
        syntax=syntax,
        truncated=truncated,
    )


def _token_words(n_tokens: int, firsts: list[tuple[int, int]], text: str, syntax: Syntax | None) -> np.ndarray:
    """Each token's word: the word whose span holds the token's first non-space character."""
    token_word = np.full(n_tokens, -1, dtype=np.int64)
    if syntax is not None and firsts:
        token, char = np.asarray(firsts, dtype=np.int64).T
        token_word[token] = _char_to_word(text, syntax)[char]
    return token_word


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
