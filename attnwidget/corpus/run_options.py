"""The options of a corpus run, checked before anything loads.

Importing this needs neither torch nor the corpus: ``attnwidget analyze`` checks its
options here before it imports the analysis, so a typo fails at once, not after the
model has loaded.
"""

from __future__ import annotations

from attnwidget.errors import AttnWidgetError


def check_arguments(batch_size, max_sentences, exemplars, min_attention, checkpoint_every, out, resume, restart):
    """The options of :func:`attnwidget.analyze` that can be wrong whatever the corpus and model."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise AttnWidgetError("batch_size must be at least 1")
    if max_sentences is not None and max_sentences < 1:
        raise AttnWidgetError("max_sentences must be at least 1")
    if not isinstance(exemplars, int) or exemplars < 0:
        raise AttnWidgetError(f"exemplars must be a whole number ≥ 0, not {exemplars!r}")
    if min_attention is not None and not 0 <= min_attention < 1:
        raise AttnWidgetError(f"min_attention must be in [0, 1), not {min_attention!r}")
    if checkpoint_every is not None and checkpoint_every < 0:
        raise AttnWidgetError("checkpoint_every must be a number of seconds ≥ 0, or None")
    if (resume or restart) and out is None:
        raise AttnWidgetError("resume and restart need out= (the output folder of the run)")
    if resume and restart:
        raise AttnWidgetError("resume=True continues the run in out=, restart=True discards it: choose one")


def parse_shard(shard) -> tuple[int, int | None]:
    """``"I/N"`` or ``(I, N)`` → (I, N), 0 ≤ I < N; None → (0, None)."""
    if shard is None:
        return 0, None
    try:
        index, count = shard.split("/") if isinstance(shard, str) else shard
        index, count = int(index), int(count)
    except (TypeError, ValueError):
        raise AttnWidgetError(f"shard must look like I/N (for example 0/4), not {shard!r}") from None
    if count < 1 or not 0 <= index < count:
        raise AttnWidgetError(f"shard {index}/{count}: I must be 0 … N−1 (shards are numbered from 0)")
    return index, count
