"""Batched tile requests (``tiles``): one reply per zoom step, tiles computed in parallel off
the message thread, equal to single ``tile`` requests and to a dense softmax of the same
queries and keys; a newer batch from the same view drops an older batch's tiles that have
not started. A real model pass over 1,200 tokens of a Llama-shaped model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from attnwidget import AttentionWidget
from attnwidget.pictures.long_cells import matrix_cells
from attnwidget.widget.long_payload import TileAsk, tile_of
from attnwidget.widget.protocol import REPLY, REQUEST
from attnwidget.widget.quantise import quantise_sqrt
from attnwidget.widget.tile_batch import TileBatches, tile_pool
from tests.tiny_models import llama_long
from tests.widget import test_long_widget
from tests.widget.test_long_widget import arrays, ask, long_text

widget = test_long_widget.widget  # the same 1,200-token widget (a fixture of this module too)


def ask_tiles(widget, timeout=60, **content):
    """Send a ``tiles`` request; the reply comes later, from a worker thread."""
    got, came = [], threading.Event()
    original = widget.send

    def send(msg, buffers=None):
        got.append((msg, buffers))
        came.set()

    widget.send = send
    try:
        widget._on_request(widget, {"kind": REQUEST, "id": 7, "what": "tiles", **content}, [])
        assert came.wait(timeout), "no reply to the tiles request"
    finally:
        widget.send = original
    ((reply, buffers),) = got
    assert reply["kind"] == REPLY and reply["id"] == 7
    return reply, buffers


def dense(store, layer: int, head: int) -> np.ndarray:
    """The head's whole causal softmax, in float64, from the store's queries and keys."""
    qk = store.qk
    q = qk.query[layer, head].astype(np.float64)
    k = qk.key[layer, qk.kv_head(head)].astype(np.float64)
    s = q @ k.T * qk.scale
    s[np.triu_indices(len(s), 1)] = -np.inf
    w = np.exp(s - s.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def hidden(a: np.ndarray) -> np.ndarray:
    """hide_first with renormalise, as the 512-token views apply it: key 0 out, rows rescaled."""
    out = a.copy()
    out[:, 0] = 0
    rest = 1 - a[:, :1]
    return out / np.where(rest > 1e-9, rest, 1.0)  # a row with all its mass on key 0 reads 0


def pooled(a: np.ndarray, r: int) -> np.ndarray:
    n = len(a) // r
    return a[: n * r, : n * r].reshape(n, r, n, r).max(axis=(1, 3))


@pytest.mark.parametrize("hide", [False, True])
def test_a_batch_equals_single_tiles_and_a_dense_softmax(widget, hide):
    store, heads = widget._data.store, [1, 3]
    corners = [[0, 0], [256, 0], [256, 256], [512, 256], [1024, 768]]
    options = {"hide_first": hide, "renormalise": hide}
    reply, buffers = ask_tiles(widget, layer=1, heads=heads, cells=256, r=1, tiles=corners, view="a", **options)
    assert "error" not in reply and reply["dropped"] == [] and sorted(reply["tiles"]) == sorted(corners)
    assert reply["combine"] == "mean" and len(buffers) == len(corners) and len(reply["tile_ms"]) == len(corners)
    got = arrays(reply, buffers)
    want = [dense(store, 1, h) for h in heads]
    if hide:
        want = [hidden(a) for a in want]
    for k, (r0, c0) in enumerate(reply["tiles"]):
        tile = got[f"t{k}"]
        single, sb = ask(widget, what="tile", layer=1, heads=heads, r0=r0, c0=c0, cells=256, r=1, **options)
        np.testing.assert_array_equal(tile, arrays(single, sb)["tile"])
        region = np.zeros((256, 256))
        part = np.mean([a[r0 : r0 + 256, c0 : c0 + 256] for a in want], axis=0)
        region[: part.shape[0], : part.shape[1]] = part
        np.testing.assert_allclose(tile, region, atol=2e-5, rtol=1e-3)
    if hide:
        assert got["t0"][:, 0].max() == 0  # key 0 left out


@pytest.mark.parametrize("hide", [False, True])
def test_pooled_tiles_keep_each_blocks_largest_and_agree_with_the_picture(widget, hide):
    store = widget._data.store
    reply, buffers = ask_tiles(
        widget, layer=0, heads=[2], cells=128, r=4, tiles=[[0, 0]], view="b", hide_first=hide, renormalise=hide
    )
    tile = arrays(reply, buffers)["t0"]
    a = dense(store, 0, 2)
    if hide:
        a = hidden(a)
    want = pooled(a[:512, :512], 4)
    np.testing.assert_allclose(tile, want, atol=2e-5, rtol=1e-3)
    # the pictures' exact region (rows=/cols=), pooled the same way, shows the same cells
    cells = matrix_cells(store, 0, [2], (0, 512), (0, 512), hide, hide)
    assert (cells.ry, cells.cx) == (1, 1)
    np.testing.assert_allclose(pooled(cells.values, 4), tile, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("r", [1, 2])
def test_tiles_can_come_as_the_shades_the_view_draws(widget, r):
    reply, buffers = ask_tiles(widget, layer=1, heads=[0, 2], cells=256, r=r, tiles=[[512, 0], [0, 0]], shade=True)
    got = arrays(reply, buffers)
    for k, (r0, c0) in enumerate(reply["tiles"]):
        single, sb = ask(widget, what="tile", layer=1, heads=[0, 2], r0=r0, c0=c0, cells=256, r=r)
        assert got[f"t{k}"].dtype == np.uint8
        np.testing.assert_array_equal(got[f"t{k}"], quantise_sqrt(arrays(single, sb)["tile"]))


def test_a_bad_batch_is_refused_at_once(widget):
    reply, _ = ask_tiles(widget, layer=0, heads=[0], cells=256, r=1, tiles=[[0, 99999]])
    assert "c0 must be an int" in reply["error"]
    reply, _ = ask_tiles(widget, layer=0, heads=[0], cells=256, r=1, tiles=[])
    assert "tiles must be a list" in reply["error"]


def test_a_newer_batch_drops_what_an_older_one_has_not_started(widget):
    store = widget._data.store
    gate, busy = threading.Event(), threading.Event()
    computed, started = [], []
    workers = tile_pool()._max_workers

    def compute(s, ask):
        started.append(ask)
        if len(started) >= workers:
            busy.set()  # every worker holds a tile of the old batch
        gate.wait(30)
        computed.append((ask.r0, ask.c0))
        return tile_of(s, ask)

    batches = TileBatches(compute)
    replies, came = {}, {"old": threading.Event(), "new": threading.Event()}

    def answer(name):
        def reply(done, dropped, error, ms):
            replies[name] = (done, dropped, error)
            came[name].set()

        return reply

    def asks(corners):
        return [TileAsk(0, (1,), r0, c0, 64, 1) for r0, c0 in corners]

    old = [(64 * i, 0) for i in range(workers + 6)]  # more than the pool runs at once
    new = [(64 * (workers + 7), 64), old[-1]]  # one new tile, one the old batch asked too
    batches.submit("view", store, asks(old), answer("old"))
    assert busy.wait(30)
    batches.submit("view", store, asks(new), answer("new"))
    gate.set()
    assert came["old"].wait(60) and came["new"].wait(60)
    done_old, dropped_old, error = replies["old"]
    assert error is None and len(done_old) + len(dropped_old) == len(old)
    assert {(a.r0, a.c0) for a in dropped_old} == set(old[workers:-1])  # queued, not wanted any more: dropped
    done_new, dropped_new, _ = replies["new"]
    assert dropped_new == [] and [(a.r0, a.c0) for a, _ in done_new] == new
    assert sorted(computed) == sorted(old[:workers] + new)  # the shared tile was computed once
    shared = next(t for a, t in done_new if (a.r0, a.c0) == old[-1])
    np.testing.assert_array_equal(shared.array, tile_of(store, asks([old[-1]])[0]))
    assert batches.in_flight == 0


def test_no_reply_after_the_widget_closes():
    model, tok = llama_long(n_layer=1, n_head=2, n_kv_head=1, window=2048)
    w = AttentionWidget(long_text(tok, 1100), model=(model, tok), annotations=None)
    sent = []
    w.send = lambda msg, buffers=None: sent.append(msg)
    batches = w._tile_batches
    w._on_request(
        w,
        {
            "kind": REQUEST,
            "id": 1,
            "what": "tiles",
            "layer": 0,
            "heads": [0],
            "cells": 256,
            "r": 1,
            "tiles": [[256 * i, 0] for i in range(4)],
        },
        [],
    )
    w.close()
    assert batches.in_flight == 0
    tile_pool().submit(lambda: None).result()  # the pool has run what it had started
    assert all(m.get("error") is None for m in sent)
