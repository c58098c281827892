"""Errors that tell the user what went wrong and what to do about it."""

from __future__ import annotations


class AttnWidgetError(ValueError):
    """Base class of every error attnwidget raises on bad input."""


class ModelLoadError(AttnWidgetError):
    """The model or tokenizer could not be loaded (unknown id, no network, bad object)."""


class NoAttentionError(AttnWidgetError):
    """The model returned no attention weights (fused kernels only, no eager path)."""


class EmptyTextError(AttnWidgetError):
    """The text is empty or only whitespace."""


class TooLongError(AttnWidgetError):
    """The text has more tokens than the model's window."""

    def __init__(self, message: str, n_tokens: int, max_length: int):
        super().__init__(message)
        self.n_tokens = n_tokens
        self.max_length = max_length


class SpacyPipelineError(AttnWidgetError):
    """No usable spaCy pipeline is installed, or the named one cannot be loaded."""


class ConlluError(AttnWidgetError):
    """A malformed CoNLL-U line; ``line`` is 1-based, ``source`` names the file if known."""

    def __init__(self, message: str, line: int | None = None, source: str | None = None):
        where = ", ".join(
            part for part in (source and f"{source}", line is not None and f"line {line}") if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.source = source
        self.reason = message


class WidgetClosedError(AttnWidgetError):
    """The widget was closed and its data freed; make a new one to see it again."""
