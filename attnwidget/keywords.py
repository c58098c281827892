"""Refuse a keyword argument nothing takes, naming the nearest one that exists.

Python refuses an unknown keyword of a plain signature, but says nothing of what was
meant; where ``**kwargs`` pass names on, a misspelt one is simply lost (a widget's
``**traits`` go to traitlets, which ignores names it does not know, so ``heds=[0]``
would show every head). :func:`checked_keywords` on every public entry point turns both
into ``TypeError: AttentionWidget() got an unexpected keyword argument 'heds'; did you
mean 'heads'?``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def checked_keywords(func: Callable | None = None, *, extra: Callable[[Any], Iterable[str]] | None = None):
    """Decorate ``func`` so that an unknown keyword raises a TypeError with a suggestion.

    ``extra(first_argument)`` gives the further names ``func``'s ``**kwargs`` accept (for
    a widget: its trait names, from the class or instance the call is bound to). Without
    ``extra``, a ``**kwargs`` that passes names on to another library is left to it.
    """
    if func is None:
        return functools.partial(checked_keywords, extra=extra)
    parameters = inspect.signature(func).parameters.values()
    named = frozenset(p.name for p in parameters if p.kind in _NAMED)
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    if open_ended and extra is None:
        return func
    title = callable_name(func)

    @functools.wraps(func)
    def checked(*args, **kwargs):
        unknown = [name for name in kwargs if name not in named]
        if unknown:
            allowed = named | frozenset(extra(args[0]) if extra is not None and args else ())
            unknown = [name for name in unknown if name not in allowed]
            if unknown:
                raise unknown_keyword(title, unknown[0], allowed)
        return func(*args, **kwargs)

    return checked


def check_names(title: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Raise :func:`unknown_keyword` for the first of ``given`` not in ``allowed``."""
    allowed = frozenset(allowed)
    for name in given:
        if name not in allowed:
            raise unknown_keyword(title, name, allowed)


def unknown_keyword(title: str, name: str, allowed: Iterable[str]) -> TypeError:
    """``TypeError: title got an unexpected keyword argument 'name'; did you mean ...?``"""
    public = sorted(n for n in allowed if not n.startswith("_"))
    close = difflib.get_close_matches(name, public, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}?"
    else:
        hint = f"it takes {', '.join(public)}" if public else "it takes no keyword arguments"
    return TypeError(f"{title} got an unexpected keyword argument {name!r}; {hint}")


def callable_name(func: Callable) -> str:
    """``analyze()``, ``AttentionWidget()`` for ``__init__``, ``AttentionWidget.from_pair()``."""
    qualname = func.__qualname__.replace(".<locals>", "")
    if qualname.endswith(".__init__"):
        qualname = qualname[: -len(".__init__")]
    return f"{qualname}()"


def trait_names(owner: Any) -> list[str]:
    """The traits of a widget class or instance (what its ``**traits`` take)."""
    return list(owner.class_trait_names())
