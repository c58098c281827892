"""The kernel's part of a zoom step: its tiles one request at a time (in series and gzipped,
as the message thread answered single ``tile`` requests) against one ``tiles`` batch (in
parallel on the tile pool, sent as gzipped uint8 shades: ``widget/tile_batch.py``).
Prints best-of and median ms, with the load average. Queries and keys are random, Llama-3.2-shaped (32 heads of 64 dims, 8 key
heads); the layer is summarised first, as in a notebook once the background work is done.

    python bench/bench_tiles.py [--tokens 2048 8192] [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from dataclasses import replace

import numpy as np

from attnwidget.transformer.qk_capture import CapturedQK
from attnwidget.widget.long_payload import TileAsk, tile_of
from attnwidget.widget.payload import encode_array
from attnwidget.widget.qk_store import QKStore, warm_up
from attnwidget.widget.tile_batch import TileBatches


def store_of(n: int, heads: int = 32, kv: int = 8, d: int = 64) -> QKStore:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, heads, n, d)).astype(np.float32)
    k = rng.normal(size=(1, kv, n, d)).astype(np.float32)
    store = QKStore(CapturedQK(q, k, 1 / np.sqrt(d) * 3, True, "llama"))
    warm_up()
    store.summary(0)
    return store


def step_asks(n: int, r: int, heads: tuple[int, ...]) -> list[TileAsk]:
    """A view's 8 tiles (3 x 3 less the one above the diagonal) around the matrix's middle."""
    side = 256 * r
    mid = (n // 2) // side
    return [
        TileAsk(0, heads, ty * side, tx * side, 256, r)
        for ty in range(mid - 1, mid + 2)
        for tx in range(mid - 2, mid + 1)
        if tx <= ty and ty * side < n
    ][:8]


def serial(store, asks) -> None:
    """As single ``tile`` requests were answered: computed and gzipped one after another."""
    for ask in asks:
        encode_array(tile_of(store, ask))


def batched(store, asks) -> None:
    came = threading.Event()
    TileBatches().submit("bench", store, asks, lambda *_: came.set())
    came.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for n in args.tokens:
        store = store_of(n)
        for heads in [(1,), (1, 5, 9)]:
            for r in (1, 2):
                asks = [replace(a, shade=True) for a in step_asks(n, r, heads)]  # as the view asks
                for name, run in (("one at a time", serial), ("one batch", batched)):
                    wall, cpu = [], []
                    for _ in range(args.repeat):
                        t0, c0 = time.perf_counter(), time.process_time()
                        run(store, asks)
                        wall.append((time.perf_counter() - t0) * 1e3)
                        cpu.append((time.process_time() - c0) * 1e3)
                    print(
                        f"T={n} heads={len(heads)} r={r} {len(asks)} tiles, {name:13}: best {min(wall):6.1f} ms, "
                        f"median {statistics.median(wall):6.1f} ms, CPU {statistics.median(cpu):6.1f} ms"
                    )
        store.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
