"""Progress of long work on tqdm.auto: a bar in a notebook, a line on a terminal.

Every step that can take more than a few seconds takes ``progress`` (default True;
False: silent). tqdm's own ``TQDM_DISABLE=1`` silences them all, as it does any tqdm bar.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

#: How often a status line's clock is redrawn while its step runs.
TICK_SECONDS = 0.5


def bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    enabled: bool = True,
    **options: Any,
):
    """A tqdm.auto bar; ``enabled=False`` makes it silent (and ``TQDM_DISABLE`` still applies)."""
    from tqdm.auto import tqdm

    # tqdm.notebook's bar passes disable=False on, over TQDM_DISABLE: it is read here too.
    if not enabled or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes", "on"):
        options["disable"] = True  # given only when off, so that tqdm's environment default holds
    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, **options)


@contextmanager
def status(message: str, enabled: bool = True) -> Iterator[None]:
    """A one-line bar for a wait with no steps to count (loading a model): the message and a
    running clock while it lasts, then the time it took."""
    line = bar(total=1, desc=message, enabled=enabled, bar_format="{desc}: {elapsed}", leave=True)
    if line.disable:
        yield
        return
    done = threading.Event()

    def tick() -> None:  # the clock moves while the caller's step blocks
        while not done.wait(TICK_SECONDS):
            line.refresh()

    # A notebook or a terminal shows the clock move; a log file gets the first and last line only.
    clock = threading.Thread(target=tick, name="attnwidget-status", daemon=True) if _live(line) else None
    if clock is not None:
        clock.start()
    started = time.perf_counter()
    try:
        yield
        line.set_description_str(f"{message}: done in {time.perf_counter() - started:.1f} s", refresh=False)
        line.bar_format = "{desc}"
        line.n = 1  # drawn once, by close()
    finally:
        done.set()
        if clock is not None:
            clock.join()
        line.close()


def _live(line) -> bool:
    """Whether a bar is drawn where it can be redrawn in place: a notebook, or a terminal."""
    if type(line).__module__.startswith("tqdm.notebook"):
        return True
    isatty = getattr(getattr(line, "fp", None), "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


@contextmanager
def importing(module: str, enabled: bool = True) -> Iterator[None]:
    """A status line while the block imports ``module`` for the first time in this process
    (torch takes seconds to import; nothing is shown once it is imported)."""
    import sys

    with status(f"importing {module}", enabled=enabled and module not in sys.modules):
        yield
