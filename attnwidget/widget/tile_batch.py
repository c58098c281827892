"""Batched tile requests: one zoom step's tiles computed in parallel and sent in one reply.

The kernel reads a widget's messages one at a time. A zoom step that asked for its ~8
tiles a message each had them computed in series, and a step the user had already zoomed
past still held the line. A ``tiles`` request is answered here instead: each tile is a
job on :func:`tile_pool` (the numba kernels release the GIL, so tiles use every core),
the reply goes out from the worker that finishes last, and the message thread is free at
once for the next request. A newer batch from the same view supersedes the older ones:
their tiles that have not started are dropped (the reply lists them, the view asks again
if it still needs them), and a tile both ask for is computed once.

Tiles have their own pool, not the head pool: a long input's layers are summarised in the
background on the head pool for minutes (8,192 tokens x 32 layers), and a zoom step
queued behind a layer's 32 heads would wait for all of them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attnwidget.errors import WidgetClosedError
from attnwidget.widget.attention_store import core_pool
from attnwidget.widget.long_payload import TileAsk, tile_of
from attnwidget.widget.payload import encode_array
from attnwidget.widget.protocol import REPLY
from attnwidget.widget.quantise import quantise_sqrt


def tile_pool() -> ThreadPoolExecutor:
    """Threads that compute tiles (one per core: the kernels run without the GIL)."""
    return core_pool("tiles")


@dataclass
class TileDone:
    """One computed tile: its array, encoded for the wire, and the ms it took."""

    array: np.ndarray
    encoded: dict
    ms: float


@dataclass
class _Batch:
    view: str
    asks: list[TileAsk]
    reply: Callable[[list[tuple[TileAsk, TileDone]], list[TileAsk], str | None, float], None]
    keys: list[tuple[int, TileAsk]]
    jobs: list[Future] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    left: int = 0
    live: bool = True  # its tiles are wanted (not yet answered, not superseded)


class TileBatches:
    """A widget's batched tile requests: jobs shared by key, older batches of a view superseded."""

    def __init__(self, compute: Callable[[Any, TileAsk], np.ndarray] = tile_of) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, TileAsk], Future] = {}  # wanted by a live batch
        self._wanted: Counter = Counter()
        self._latest: dict[str, _Batch] = {}
        self._closed = False

    def submit(self, view: str, store: Any, asks: list[TileAsk], reply) -> None:
        """Compute ``asks`` of ``store``; ``reply(done, dropped, error, ms)`` is called once, from a
        worker thread (or this one), when each tile is done or dropped. Supersedes ``view``'s
        earlier batch."""
        keys = [(id(store), ask) for ask in asks]
        batch = _Batch(view, asks, reply, keys, left=len(asks))
        with self._lock:
            if self._closed:
                return
            for key in keys:
                job = self._jobs.get(key)
                if job is None:
                    job = self._jobs[key] = tile_pool().submit(self._run, store, key[1])
                self._wanted[key] += 1
                batch.jobs.append(job)
            older = self._latest.get(view)
            self._latest[view] = batch
            dropped = self._release(older) if older is not None else []
        for job in dropped:  # outside the lock: a cancelled job's callbacks run here
            job.cancel()
        for job in batch.jobs:
            job.add_done_callback(lambda _job, b=batch: self._one_done(b))

    def close(self) -> None:
        """Drop every tile not started; no reply is sent after this."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            self._jobs.clear()
            self._wanted.clear()
            self._latest.clear()
        for job in jobs:
            job.cancel()

    @property
    def in_flight(self) -> int:
        """Tiles wanted and not yet answered."""
        return len(self._jobs)

    def _run(self, store: Any, ask: TileAsk) -> TileDone:
        if self._closed:
            raise WidgetClosedError("the widget closed")
        t0 = time.perf_counter()
        array = self._compute(store, ask)
        # The view draws sqrt shades and asks the kernel for a hovered cell's exact weight, so a
        # tile can travel as its shades: gzipped ~21 KB in ~1 ms, where float32 is 256 KB raw,
        # or ~128 KB after ~5 ms of gzip, several times the tile's own computing.
        if ask.shade:
            return TileDone(array, encode_array(quantise_sqrt(array), compress=True), (time.perf_counter() - t0) * 1e3)
        return TileDone(array, encode_array(array), (time.perf_counter() - t0) * 1e3)

    def _release(self, batch: _Batch) -> list[Future]:
        """(Under the lock.) The batch no longer wants its tiles: the jobs nobody wants now, to cancel."""
        if not batch.live:
            return []
        batch.live = False
        unwanted = []
        for key in batch.keys:
            self._wanted[key] -= 1
            if self._wanted[key] <= 0:
                del self._wanted[key]
                job = self._jobs.pop(key, None)
                if job is not None:
                    unwanted.append(job)
        return unwanted

    def _one_done(self, batch: _Batch) -> None:
        with self._lock:
            batch.left -= 1
            if batch.left > 0:
                return
            self._release(batch)  # its jobs are all done or cancelled: nothing to cancel
            if self._latest.get(batch.view) is batch:
                del self._latest[batch.view]
            closed = self._closed
        if closed:
            return
        done, dropped, error = [], [], None
        for ask, job in zip(batch.asks, batch.jobs, strict=True):
            try:
                done.append((ask, job.result()))
            except CancelledError:
                dropped.append(ask)
            except Exception as exc:  # noqa: BLE001 - any failure becomes the reply's error, never a silent hang
                error = f"a tile of layer {ask.layer} failed: {exc}"
        batch.reply(done, dropped, error, (time.perf_counter() - batch.started) * 1e3)


def tiles_reply(
    request: dict, done: list[tuple[TileAsk, TileDone]], dropped: list[TileAsk], error: str | None, ms: float
) -> tuple[dict, list[bytes]]:
    """The reply message to a ``tiles`` request and its binary parts: the tiles computed as
    ``t0``, ``t1``, ... in ``tiles`` order, the corners ``dropped``, and the kernel's ms."""
    reply: dict[str, Any] = {"kind": REPLY, "id": request.get("id")}
    if error is not None:
        reply["error"] = error
        return reply, []
    arrays, buffers = {}, []
    for k, (_ask, tile) in enumerate(done):
        encoded = dict(tile.encoded)
        buffers.append(encoded.pop("buffer"))
        arrays[f"t{k}"] = encoded
    first = done[0][0] if done else (dropped[0] if dropped else None)
    grid = first.body() if first is not None else {}
    for corner in ("r0", "c0"):
        grid.pop(corner, None)
    reply.update(
        grid,
        tiles=[[ask.r0, ask.c0] for ask, _ in done],
        dropped=[[ask.r0, ask.c0] for ask in dropped],
        arrays=arrays,
        order=list(arrays),
        ms=round(ms, 2),
        tile_ms=[round(tile.ms, 2) for _, tile in done],
    )
    return reply, buffers
