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

from attnwidget.errors import AttnWidgetError, EmptyTextError, TooLongError
from attnwidget.keywords import checked_keywords
from attnwidget.text.syntax import Syntax, parse_spacy, read_conllu

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


@checked_keywords
def align(
    source: Syntax | str,
    model: Any,
    truncate: bool = False,
) -> AnnotatedSentence:
    """Tokenize a sentence with the model's tokenizer and align tokens to words.

    ``source`` is a :class:`Syntax` (annotated words) or a plain string (no annotation).
    ``model`` is a :class:`~attnwidget.transformer.loading.LoadedModel` or a fast tokenizer. Text longer
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
    enc = tokenizer([texts[k] for k in wanted], verbose=False, **options)  # too long: our error, not a warning
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


def _aligned(
    text: str, syntax: Syntax | None, tokenizer, ids: list[int], offsets, special: list[int], truncated: bool
) -> AnnotatedSentence:
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
        first = start if start < len(text) and not text[start].isspace() else first_non_space(text, start, end)
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
        token_word[token] = char_to_word(text, syntax)[char]
    return token_word


@checked_keywords
def annotate(
    source: str | Syntax,
    model: Any,
    annotations: str | Syntax | None = "spacy",
    pipeline: Any = None,
    truncate: bool = False,
    window: int | tuple[int, int] | None = None,
) -> AnnotatedSentence:
    """Annotate one input and align it to ``model``'s tokens.

    ``annotations``: ``"spacy"`` parses ``source`` with spaCy (``pipeline``: its name or a
    loaded ``nlp``); ``"gold"`` reads ``source`` as one CoNLL-U sentence (a string or a
    :class:`Syntax`); a :class:`Syntax` is used as is; ``None`` gives tokens with no syntax.
    ``window``: read only part of a long plain text (see :func:`window_range`); ``truncate``:
    keep the first tokens that fit instead of raising :class:`TooLongError`.
    """
    if window is not None:
        return _windowed(source, model, annotations, pipeline, window)
    if isinstance(source, Syntax):
        return align(source, model, truncate=truncate)
    if isinstance(annotations, Syntax):
        if annotations.text != source:
            raise AttnWidgetError("the Syntax given as annotations is for another text")
        return align(annotations, model, truncate=truncate)
    if annotations is None:
        return align(source, model, truncate=truncate)
    if annotations == "spacy":
        if not truncate:  # too long for the model: say so before spaCy parses it (seconds, or its own error)
            align(source, model)
        return align(parse_spacy(source, pipeline), model, truncate=truncate)
    if annotations == "gold":
        sentences = read_conllu(source)
        if len(sentences) != 1:
            raise AttnWidgetError(f"annotations='gold' takes one CoNLL-U sentence; this source holds {len(sentences)}.")
        return align(sentences[0], model, truncate=truncate)
    raise AttnWidgetError(f"annotations must be 'spacy', 'gold', a Syntax or None, not {annotations!r}")


def window_range(window: int | tuple[int, int], total: int, longest: int) -> tuple[int, int]:
    """``(start, stop)``: the tokens ``window`` asks for, of ``total``, at most ``longest`` of them.

    ``window`` is an int ``n`` (the first ``n`` tokens) or ``(start, stop)`` (tokens
    ``start .. stop - 1``; a ``stop`` past the end means the end).
    """
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        start, stop = 0, int(window)
    elif (
        isinstance(window, (tuple, list))
        and len(window) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in window)
    ):
        start, stop = int(window[0]), int(window[1])
    else:
        raise AttnWidgetError(f"window must be a number of tokens or a (start, stop) token range, not {window!r}")
    if start < 0 or stop <= start:
        raise AttnWidgetError(
            f"window {window!r} holds no tokens: give window=n (n >= 1) or (start, stop) with 0 <= start < stop"
        )
    if start >= total:
        raise AttnWidgetError(f"window {window!r} starts past the end: the text has {total} tokens (0..{total - 1})")
    if stop - start > longest:
        raise TooLongError(
            f"window {window!r} holds {stop - start} tokens but the model reads at most {longest} of the "
            f"text's tokens at once (its window less its special tokens); pass window={longest} or "
            f"window=(start, start + {longest}).",
            stop - start,
            longest,
        )
    return start, min(stop, total)


def longest_window(model: Any) -> int:
    """How many of a text's tokens the model reads at once: its window less its special tokens."""
    tokenizer = getattr(model, "tokenizer", model)
    size = getattr(model, "max_length", None) or _tokenizer_window(tokenizer)
    return size - tokenizer.num_special_tokens_to_add(pair=False)


def _windowed(source: Any, model: Any, annotations: Any, pipeline: Any, window: Any) -> AnnotatedSentence:
    """The tokens ``window`` picks from a long text, as the model reads them: those tokens as
    the whole text tokenizes, between the model's special tokens. Token indices count the
    text's own tokens (no special tokens); the characters the part covers are the
    sentence's text, and what spaCy parses."""
    if not isinstance(source, str) or isinstance(annotations, Syntax) or annotations == "gold":
        raise AttnWidgetError(
            "window= reads part of a plain text (annotations='spacy' or None); an annotated "
            "sentence is read whole: split it, or pass its text with annotations='spacy'"
        )
    if annotations not in ("spacy", None):
        raise AttnWidgetError(f"annotations must be 'spacy', 'gold', a Syntax or None, not {annotations!r}")
    tokenizer = getattr(model, "tokenizer", model)
    if not getattr(tokenizer, "is_fast", False):
        raise AttnWidgetError("alignment needs a fast tokenizer (one that returns character offsets).")
    enc = tokenizer(
        source, return_offsets_mapping=True, return_special_tokens_mask=True, add_special_tokens=True, verbose=False
    )  # verbose: no "longer than the model" warning
    special = list(enc["special_tokens_mask"])
    content = [k for k, is_special in enumerate(special) if not is_special]
    if not source.strip() or not content:
        raise EmptyTextError("the text is empty or only whitespace; give at least one word.")
    start, stop = window_range(window, len(content), longest_window(model))
    picked = content[start:stop]
    keep = (
        [k for k in range(content[0]) if special[k]]
        + picked
        + [k for k in range(content[-1] + 1, len(special)) if special[k]]
    )
    begin = int(enc["offset_mapping"][picked[0]][0])
    end = max(int(enc["offset_mapping"][k][1]) for k in picked)
    text = source[begin:end]
    syntax = parse_spacy(text, pipeline) if annotations == "spacy" and text.strip() else None
    offsets = [(0, 0) if special[k] else tuple(int(c) - begin for c in enc["offset_mapping"][k]) for k in keep]
    sentence = _aligned(
        text,
        syntax,
        tokenizer,
        [enc["input_ids"][k] for k in keep],
        offsets,
        [special[k] for k in keep],
        truncated=(start, stop) != (0, len(content)),
    )
    sentence.meta["window"] = {"start": start, "stop": stop, "of": len(content), "chars": [begin, end]}
    return sentence


def char_to_word(text: str, syntax: Syntax | None) -> np.ndarray:
    """The word of each character of ``text`` (-1: none, e.g. spaces)."""
    char_word = np.full(len(text), -1, dtype=np.int64)
    if syntax is not None:
        for w, (start, end) in enumerate(syntax.spans):
            char_word[start:end] = w
    return char_word


def first_non_space(text: str, start: int, end: int) -> int | None:
    """The first character in ``start .. end - 1`` that is not a space, or None."""
    for c in range(start, min(end, len(text))):
        if not text[c].isspace():
            return c
    return None


def _tokenizer_window(tokenizer) -> int:
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 1_000_000 else 512
