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


class NeuronViewError(AttnWidgetError):
    """The neuron view cannot show this model, layer, head or token."""


class SpacyPipelineError(AttnWidgetError):
    """No usable spaCy pipeline is installed, or the named one cannot be loaded."""


class ConlluError(AttnWidgetError):
    """Invalid CoNLL-U: ``reason`` (what is wrong), ``hint`` (what to do), where it is
    (``source`` names the file, ``line`` is 1-based, ``sent_id`` the sentence's
    ``# sent_id`` if it has one, ``sentence`` its 1-based position among the sentences
    of the source) and ``check``, the id of the matching test of UD's validate.py.

    The message reads "FILE, line N, sentence SENT_ID: REASON — HINT".
    """

    def __init__(
        self,
        reason: str,
        line: int | None = None,
        source: str | None = None,
        *,
        sent_id: str | None = None,
        sentence: int | None = None,
        hint: str | None = None,
        check: str | None = None,
    ):
        self.reason = reason
        self.line = line
        self.source = source
        self.sent_id = sent_id
        self.sentence = sentence
        self.hint = hint
        self.check = check
        super().__init__(self._message())

    def name_sentence(self, sent_id: str) -> None:
        """Name the sentence by its sent_id (found after the line in error)."""
        self.sent_id = sent_id
        self.args = (self._message(),)

    def _message(self) -> str:
        if self.sent_id is not None:
            which = f"sentence {self.sent_id}"
        elif self.sentence is not None:
            which = f"sentence no. {self.sentence} (no sent_id)"
        else:
            which = None
        where = ", ".join(
            str(part) for part in (self.source, self.line is not None and f"line {self.line}", which) if part
        )
        message = f"{where}: {self.reason}" if where else self.reason
        return f"{message} — {self.hint}" if self.hint else message

    def __reduce__(self):  # pickles with its attributes (worker processes, caches)
        keywords = {key: getattr(self, key) for key in ("sent_id", "sentence", "hint", "check")}
        return (_rebuild_conllu_error, (type(self), (self.reason, self.line, self.source), keywords))


def _rebuild_conllu_error(cls, args: tuple, keywords: dict) -> ConlluError:
    return cls(*args, **keywords)


class ConlluWarning(UserWarning):
    """Invalid CoNLL-U sentences were skipped (``read_conllu(..., lenient=True)``)."""


class WidgetClosedError(AttnWidgetError):
    """The widget was closed and its data freed; make a new one to see it again."""
