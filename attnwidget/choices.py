"""The fixed string choices of the widgets' traits, as Enums, and the trait that holds one.

Each Enum lists what a trait accepts, with a comment on what each value does; the views'
copy is ``js/src/data/traits.json`` (``tests/test_trait_names.py`` keeps the two equal).
A :class:`Choice` trait holds, syncs and reports the plain string, so ``w.view = "matrix"``
and ``w.view == "matrix"`` work as before; an Enum member is accepted too
(``w.view = View.MATRIX``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import traitlets


class View(str, Enum):
    """The AttentionWidget's views."""

    HEAD = "head"  # lines from each token to the tokens it attends to, one colour per head
    MODEL = "model"  # a thumbnail of every head of every layer
    MATRIX = "matrix"  # one heat map, the mean of the selected heads
    NEURON = "neuron"  # the query and key vectors behind one head's weights for one token


class Level(str, Enum):
    """What one unit of the views is."""

    TOKEN = "token"  # the model's tokens
    WORD = "word"  # words: attention to a word sums its tokens, from a word averages them


class TokenRole(str, Enum):
    """Which attention of the locked token is drawn."""

    QUERY = "query"  # what the token attends to (its row)
    KEY = "key"  # what attends to the token (its column)


class Theme(str, Enum):
    """Colours of the views."""

    AUTO = "auto"  # follow the notebook's light or dark theme
    LIGHT = "light"
    DARK = "dark"


class PairFilter(str, Enum):
    """The block of a sentence pair's attention drawn, queries -> keys."""

    ALL = "all"
    A_TO_A = "A->A"
    B_TO_B = "B->B"
    A_TO_B = "A->B"
    B_TO_A = "B->A"


class AttentionKind(str, Enum):
    """Which attention of an input is shown."""

    SELF = "self"  # a decoder-only or encoder-only model's attention
    ENCODER = "encoder"  # an encoder-decoder model's encoder self-attention
    DECODER = "decoder"  # its decoder's (causal) self-attention
    CROSS = "cross"  # its decoder tokens attending to the source tokens


class GridMode(str, Enum):
    """What the HeadExplorer's grid shows."""

    SINGLE = "single"  # one metric
    SIDE_BY_SIDE = "side_by_side"  # two metrics (metric2, key2 beside metric, key)
    DIFFERENCE = "difference"  # stats − compare, for one metric (needs compare=)


def values(choices: type[Enum]) -> tuple[str, ...]:
    """The plain strings of an Enum's members, in order."""
    return tuple(member.value for member in choices)


class Choice(traitlets.Enum):
    """A string trait whose values are an Enum's: it holds and syncs the plain string, and
    refuses anything else saying what it takes (``view must be one of 'head', ...; got 'x'``)."""

    def __init__(self, choices: type[Enum], default: Enum, **kwargs: Any) -> None:
        self.choices = choices
        super().__init__(list(values(choices)), default_value=choices(default).value, **kwargs)

    def validate(self, obj: Any, value: Any) -> str:
        if isinstance(value, self.choices):
            value = value.value
        if isinstance(value, str) and value in self.values:
            return str(value)
        raise traitlets.TraitError(f"{self.name} must be one of {', '.join(map(repr, self.values))}; got {value!r}")
