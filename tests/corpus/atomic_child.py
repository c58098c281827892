"""A process that replaces a folder again and again, for tests/corpus/test_atomic.py to kill.

    python atomic_child.py FOLDER FIRST_GENERATION COUNT [--steps] [--kill-at POINT]

Generation g is a folder of parts that all say g, plus ``odd.txt`` when g is odd (so a
folder holding files of two generations, or one's leftovers, shows), ``generation.txt``
last. ``--kill-at`` SIGKILLs the process at a point of the swap of its first write:
``rename-N`` (before the N-th rename, 1-based), ``after-rename-N``, ``exchange``,
``after-exchange``, ``remove`` (before the old folder is deleted).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from attnwidget.corpus import atomic

PART_BYTES = 300_000


def write_generation(staged: Path, generation: int) -> None:
    tag = f"generation {generation}\n".encode()
    for k in range(4):
        (staged / f"part{k}.bin").write_bytes(tag + bytes([generation % 251]) * PART_BYTES)
    if generation % 2:
        (staged / "odd.txt").write_text("odd\n")
    (staged / "generation.txt").write_text(f"{generation}\n")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    renames = {"n": 0}
    real_rename, real_exchange, real_remove = os.rename, atomic._exchange, atomic._remove

    def rename(a, b):
        renames["n"] += 1
        if point == f"rename-{renames['n']}":
            die()
        real_rename(a, b)
        if point == f"after-rename-{renames['n']}":
            die()

    def exchange(a, b):
        if point == "exchange":
            die()
        done = real_exchange(a, b)
        if point == "after-exchange":
            die()
        return done

    def remove(path):
        if (point == "remove" and ".old-" in str(path)) or (point == "remove" and ".tmp-" in str(path)):
            die()
        real_remove(path)

    os.rename, atomic._exchange, atomic._remove = rename, exchange, remove


def main() -> None:
    folder, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    atomic.USE_RENAME_EXCHANGE = "--steps" not in sys.argv
    if "--kill-at" in sys.argv:
        arm(sys.argv[sys.argv.index("--kill-at") + 1])
    target = atomic.AtomicFolder(folder)
    for generation in range(first, first + count):
        with target.locked(), target.staging() as staged:
            write_generation(staged, generation)
            target.publish(staged)
        print(generation, flush=True)


if __name__ == "__main__":
    main()
