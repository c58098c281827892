"""Ctrl-C during a corpus run: act within moments, but only where nothing is torn.

The run marks the steps that hold nothing that must be finished, a forward pass and the
wait for the next sentences, which are nearly all of its time, as interruptible: there
Ctrl-C raises ``KeyboardInterrupt`` at once. Elsewhere (adding a batch to the sums, taking
a snapshot, setting up or closing the reader thread, each a few milliseconds) the
interrupt waits for the next interruptible step. The run then goes back to its last chunk
boundary (:mod:`attnwidget.corpus.snapshot`) and saves it. A second Ctrl-C while the first waits
does not wait; ``forced`` then says the state may be torn.
"""

from __future__ import annotations

import contextlib
import signal
import threading


class Interrupts:
    """Install with ``with Interrupts() as interrupts:``; wrap the steps that may be cut
    short in ``with interrupts.interruptible():``. Outside the main thread (where no
    signal arrives) it does nothing."""

    def __init__(self):
        self._open = False
        self._pending = False
        self.forced = False
        self._previous = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handler(self, signum, frame) -> None:
        if self._open:
            self._open = False
            raise KeyboardInterrupt
        if self._pending:
            self.forced = True
            raise KeyboardInterrupt
        self._pending = True

    @contextlib.contextmanager
    def interruptible(self):
        """A step that may be abandoned: an interrupt (now, or one waiting) raises here."""
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt
        self._open = True
        try:
            yield
        finally:
            self._open = False
