"""Compiled passes that summarise one attention head without holding its T x T weights.

For long inputs the views need, per head: a max-pooled overview ``[P, P]`` (a block's
strongest weight, so one strong cell is never averaged away), also with the first token
left out and each row renormalised (the views' ``hide_first``); each row's ``k`` strongest
keys with their weights and the share of the row's mass they cover; and each row's score
maximum ``m`` and softmax denominator ``Z``, from which any exact cell is
``exp(scale q.k - m) / Z`` later, without another pass over the row.

Two sources give the same summary: queries and keys (:func:`qk_rows`: rows scored in chunks
by torch's matmul) and dense weights (:func:`dense_rows`, for
attention given as an array). Both find a row's top-k only in the column blocks whose
maximum reaches the k-th largest block maximum (the k strongest cells must lie there).

A pooled tile (:func:`qk_window` at r > 1) scores its rows with torch's matmul (BLAS) and
pools them compiled: a zoom step waits for it, and BLAS scores several times faster than
the compiled loop on the big windows pooled tiles cover.

numba has no vectorised ``exp`` on this machine (no SVML; libm's ``expf`` costs ~6 ns):
:func:`fast_exp` is a polynomial that LLVM vectorises (~0.3 ns, relative error < 2e-5).
Every loop releases the GIL, so heads run on threads in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(fastmath=True, inline="always", cache=True)
def fast_exp(x):  # pragma: no cover - compiled
    """exp(x) for x <= 0 in float32 (degree-6 polynomial of 2^f, float floor so it vectorises)."""
    x = max(x, np.float32(-87.0))
    t = x * np.float32(1.4426950408889634)
    nf = np.floor(t)
    f = t - nf
    p = np.float32(1.5403530393381606e-4)
    p = p * f + np.float32(1.3333558146428443e-3)
    p = p * f + np.float32(9.6181291076284772e-3)
    p = p * f + np.float32(5.5504108664821580e-2)
    p = p * f + np.float32(2.4022650695910071e-1)
    p = p * f + np.float32(6.9314718055994531e-1)
    p = p * f + np.float32(1.0)
    e = (np.int32(nf) + np.int32(127)) << np.int32(23)
    return p * np.int32(e).view(np.float32)


@njit(fastmath=True, nogil=True, inline="always", cache=True)
def _kth_largest(x, n, k, buf):  # pragma: no cover - compiled
    """The k-th largest of x[:n], by insertion into a sorted buffer (np.partition allocates)."""
    for t in range(k):
        buf[t] = np.float32(-np.inf)
    for b in range(n):
        v = x[b]
        if v > buf[k - 1]:
            p = k - 1
            while p > 0 and buf[p - 1] < v:
                buf[p] = buf[p - 1]
                p -= 1
            buf[p] = v
    return buf[k - 1]


@njit(fastmath=True, nogil=True, inline="always", cache=True)
def _block_max(v, n, B, cmax):  # pragma: no cover - compiled
    """cmax[b] = max of v over column block b (B columns); returns the row's max."""
    nb = (n + B - 1) // B
    m = np.float32(-np.inf)
    for b in range(nb):
        lo = b * B
        hi = min(n, lo + B)
        mx = np.float32(-np.inf)
        for j in range(lo, hi):
            mx = max(mx, v[j])
        cmax[b] = mx
        m = max(m, mx)
    return m


@njit(fastmath=True, nogil=True, inline="always", cache=True)
def _top_k(v, n, B, cmax, kk, bi, bv):  # pragma: no cover - compiled
    """The kk largest of v[:n] into bi (indices) / bv (values), strongest first, reading only
    the blocks whose max reaches the kk-th largest block max."""
    nb = (n + B - 1) // B
    thr = np.float32(-np.inf) if nb <= kk else _kth_largest(cmax, nb, kk, bv)
    for t in range(kk):
        bi[t] = -1
        bv[t] = np.float32(-np.inf)
    for b in range(nb):
        if cmax[b] < thr:
            continue
        lo = b * B
        hi = min(n, lo + B)
        for j in range(lo, hi):
            x = v[j]
            if bi[kk - 1] < 0 or x > bv[kk - 1]:
                p = kk - 1
                while p > 0 and (bi[p - 1] < 0 or bv[p - 1] < x):
                    bv[p] = bv[p - 1]
                    bi[p] = bi[p - 1]
                    p -= 1
                bv[p] = x
                bi[p] = j


@njit(fastmath=True, nogil=True, inline="always", cache=True)
def _score_four(q, kt, scale, i0, c0, n, s):  # pragma: no cover - compiled
    """s[0..3, :n] = scale * q[i0 + t] . kt[:, c0 + j]: four rows scored together, so each
    key vector read serves four rows (rows past the last query repeat it)."""
    d = kt.shape[0]
    nq = q.shape[0]
    for t in range(4):
        for j in range(n):
            s[t, j] = 0.0
    for c in range(d):
        a0 = q[i0, c] * scale
        a1 = q[min(i0 + 1, nq - 1), c] * scale
        a2 = q[min(i0 + 2, nq - 1), c] * scale
        a3 = q[min(i0 + 3, nq - 1), c] * scale
        for j in range(n):
            kv = kt[c, c0 + j]
            s[0, j] += a0 * kv
            s[1, j] += a1 * kv
            s[2, j] += a2 * kv
            s[3, j] += a3 * kv


@njit(fastmath=True, nogil=True, cache=True)
def _score_row_summary(
    s, n, B, i, k, pooled, pooled_hf, top, wts, covered, w0_out, m_out, z_out, cmax, bi, bv
):  # pragma: no cover - compiled
    """Everything row i needs from its scores s[:n]."""
    nb = (n + B - 1) // B
    m = _block_max(s, n, B, cmax)
    z = np.float32(0.0)
    for j in range(n):
        z += fast_exp(s[j] - m)
    m_out[i] = m
    z_out[i] = z
    inv = np.float32(1.0) / z
    w0 = fast_exp(s[0] - m) * inv
    w0_out[i] = w0
    rest = np.float32(1.0) - w0
    inv_hf = inv / rest if rest > 1e-9 else np.float32(0.0)
    prow = pooled[i // B]
    hrow = pooled_hf[i // B]
    h0 = hrow[0]  # block 0 of hide_first is redone below without column 0
    for b in range(nb):
        e = fast_exp(cmax[b] - m)
        w = e * inv
        prow[b] = max(prow[b], w)
        h = e * inv_hf
        hrow[b] = max(hrow[b], h)
    mx0 = np.float32(-np.inf)
    for j in range(1, min(n, B)):
        mx0 = max(mx0, s[j])
    if mx0 > np.float32(-np.inf):
        h = fast_exp(mx0 - m) * inv_hf
        h0 = max(h0, h)
    hrow[0] = h0
    kk = min(k, n)
    _top_k(s, n, B, cmax, kk, bi, bv)
    cov = np.float32(0.0)
    for t in range(kk):
        w = fast_exp(bv[t] - m) * inv
        top[i, t] = bi[t]
        wts[i, t] = w
        cov += w
    for t in range(kk, top.shape[1]):
        top[i, t] = -1
        wts[i, t] = 0.0
    covered[i] = cov


#: Scores per row chunk of a summary or a window (~1 MB of float32: the chunk stays in cache while pooled).
WINDOW_CHUNK_CELLS = 1 << 18


@njit(fastmath=True, nogil=True, cache=True)
def _summarise_scored(s, i0, causal, B, k, pooled, pooled_hf, top, wts, covered, w0, m, z):  # pragma: no cover
    """Rows ``i0..`` of one head from their scaled scores ``s`` (every key a row reads)."""
    T = s.shape[1]
    cmax = np.empty(pooled.shape[1] + 1, np.float32)
    bi = np.empty(k, np.int64)
    bv = np.empty(max(k, 1), np.float32)
    for r in range(s.shape[0]):
        i = i0 + r
        _score_row_summary(
            s[r], min(i + 1, T) if causal else T, B, i, k, pooled, pooled_hf, top, wts, covered, w0, m, z, cmax, bi, bv
        )


def qk_rows(q, kt, scale, causal, B, k, r0, r1, pooled, pooled_hf, top, wts, covered, w0, m, z) -> None:
    """Rows r0..r1 of one head from its queries q ``[T, d]`` and keys transposed kt ``[d, T_k]``.

    Writes the max-pooled ``pooled`` / ``pooled_hf`` ``[P, P]`` (max-accumulated: start from
    zeros), ``top`` / ``wts`` ``[T, k]``, ``covered``, ``w0`` (the weight on key 0), ``m`` and
    ``z`` ``[T]``. A chunk of rows (~1 MB of scores) is scored by torch's matmul (BLAS, ~4x
    the compiled loop; see :func:`qk_window`), then summarised compiled row by row.
    """
    import torch  # loaded already where queries and keys come from (a model's pass)

    T = kt.shape[1]
    chunk = max(4, min(512, WINDOW_CHUNK_CELLS // max(1, T)))
    for i0 in range(r0, r1, chunk):
        i1 = min(r1, i0 + chunk)
        n = min(T, i1) if causal else T  # keys the chunk's last row reads
        scores = torch.matmul(torch.from_numpy(q[i0:i1] * scale), torch.from_numpy(kt[:, :n])).numpy()
        _summarise_scored(scores, i0, causal, B, k, pooled, pooled_hf, top, wts, covered, w0, m, z)


@njit(fastmath=True, nogil=True, cache=True)
def dense_rows(a, causal, B, k, r0, r1, pooled, pooled_hf, top, wts, covered, w0):  # pragma: no cover
    """Rows r0..r1 of one head given as weights a ``[T, T_k]``: the same outputs as
    :func:`qk_rows` (no m, Z: the weights are there)."""
    cols = a.shape[1]
    cmax = np.empty(pooled.shape[1] + 1, np.float32)
    bi = np.empty(k, np.int64)
    bv = np.empty(max(k, 1), np.float32)
    for i in range(r0, r1):
        v = a[i]
        n = min(i + 1, cols) if causal else cols
        nb = (n + B - 1) // B
        _block_max(v, n, B, cmax)
        first = v[0]
        w0[i] = first
        rest = np.float32(1.0) - first
        inv_hf = np.float32(1.0) / rest if rest > 1e-9 else np.float32(0.0)
        prow = pooled[i // B]
        hrow = pooled_hf[i // B]
        h0 = hrow[0]
        for b in range(nb):
            w = cmax[b]
            prow[b] = max(prow[b], w)
            h = w * inv_hf
            hrow[b] = max(hrow[b], h)
        mx0 = np.float32(0.0)
        for j in range(1, min(n, B)):
            mx0 = max(mx0, v[j])
        h = mx0 * inv_hf
        hrow[0] = max(h0, h)
        kk = min(k, n)
        _top_k(v, n, B, cmax, kk, bi, bv)
        cov = np.float32(0.0)
        for t in range(kk):
            top[i, t] = bi[t]
            wts[i, t] = bv[t]
            cov += bv[t]
        for t in range(kk, top.shape[1]):
            top[i, t] = -1
            wts[i, t] = 0.0
        covered[i] = cov


@njit(fastmath=True, nogil=True, cache=True)
def _exact_scored(s, i0, c0, causal, m, z, r0, skip_first, out):  # pragma: no cover - compiled
    """Scored rows ``i0..`` (``s``: scaled scores of columns ``c0..``) as exact weights into
    ``out`` (r = 1 of :func:`qk_window`)."""
    rows, n = s.shape
    for t in range(rows):
        i = i0 + t
        ni = min(n, i + 1 - c0) if causal else n
        if ni <= 0:
            continue
        inv = np.float32(1.0) / z[i]
        mi = m[i]
        orow = out[i - r0]
        row = s[t]
        for j in range(ni):
            orow[j] = fast_exp(row[j] - mi) * inv
        if skip_first and c0 == 0:
            orow[0] = 0.0


@njit(fastmath=True, nogil=True, cache=True)
def _pool_blocks(s, i0, c0, causal, m, z, r0, r, skip_first, out):  # pragma: no cover - compiled
    """Scored rows ``i0..`` (``s``: scaled scores of columns ``c0..``) max-pooled into ``out``,
    r tokens a cell (r > 1 of :func:`qk_window`). A weight is ``exp(s - m - log Z)``: the rows that share a
    row of ``out`` are first maxed column by column less their ``m + log Z`` (a loop that
    vectorises), then every r columns, so there is one exp per cell of ``out`` (per row and
    block, the loop this replaced spent 3/4 of an r = 4 tile's time on them)."""
    rows, n = s.shape
    acc = np.empty(n, np.float32)
    t = 0
    while t < rows:
        o = (i0 + t - r0) // r
        end = min(rows, r0 + (o + 1) * r - i0)  # rows t..end-1 pool into out[o]
        for j in range(n):
            acc[j] = np.float32(-1e30)  # finite (fastmath); exp gives ~0
        width = 0
        for u in range(t, end):
            i = i0 + u
            ni = min(n, i + 1 - c0) if causal else n
            if ni <= 0:
                continue
            shift = m[i] + np.log(z[i])
            row = s[u]
            for j in range(ni):
                acc[j] = max(acc[j], row[j] - shift)
            width = max(width, ni)
        t = end
        if width == 0:
            continue
        if skip_first and c0 == 0:
            acc[0] = np.float32(-1e30)  # key 0 is no block's max
        orow = out[o]
        for b in range((width + r - 1) // r):
            mx = acc[b * r]
            for j in range(b * r + 1, min(width, b * r + r)):
                mx = max(mx, acc[j])
            orow[b] = max(orow[b], fast_exp(mx))


@njit(fastmath=True, nogil=True, cache=True)
def _window_compiled(q, kt, scale, causal, m, z, r0, c0, width, last, skip_first, out):  # pragma: no cover
    """:func:`qk_window`'s exact rows r0..last (``width`` columns from c0) by the compiled loop: rows
    are scored four at a time (each key read serves four rows)."""
    s = np.empty((4, width), np.float32)
    for i0 in range(r0, last, 4):
        rows = min(4, last - i0)
        n = min(width, i0 + rows - c0) if causal else width  # columns the last of the four reads
        if n <= 0:
            continue
        _score_four(q, kt, scale, i0, c0, n, s)
        _exact_scored(s[:rows, :n], i0, c0, causal, m, z, r0, skip_first, out)


def qk_window(q, kt, scale, causal, m, z, r0, c0, cells, r, skip_first, out) -> None:
    """Max-pooled weights of rows r0.. and columns c0.. (``cells * r`` tokens a side) into
    ``out[cells, cells]``; r = 1 gives the exact weights. Needs the rows' m and Z.
    ``skip_first``: key 0 counts as weight 0 (hide_first; pass Z without key 0's term to
    renormalise the rows).

    A block's weight is ``exp(max score - m) / Z`` (exp is monotonic): one exp per block,
    not per cell, and causal windows score no column past a row. A pooled tile (r > 1) reads
    every score of its r x r blocks, so its cost grows as r squared: its rows are scored in
    chunks by torch's matmul (BLAS; at 8,192 tokens a step of r = 8 tiles takes a third of
    the compiled loop's time), then pooled compiled. Not numpy's: its OpenBLAS starts a
    thread per core for every call, and calls from the tile pool's threads at once were
    slower than the loop; torch's ran as fast from two threads as from one. An exact tile
    (r = 1) is too small for BLAS to pay: the compiled loop scores it.
    """
    out[:, :] = 0.0
    width = min(cells * r, kt.shape[1] - c0)
    if width <= 0:
        return
    last = min(q.shape[0], r0 + cells * r)
    if r == 1:
        _window_compiled(q, kt, scale, causal, m, z, r0, c0, width, last, skip_first, out)
        return
    import torch  # loaded already where queries and keys come from (a model's pass); not for arrays

    chunk = max(16, min(512, WINDOW_CHUNK_CELLS // width))
    for i0 in range(r0, last, chunk):
        i1 = min(last, i0 + chunk)
        n = min(width, i1 - c0) if causal else width  # columns the chunk's last row reads
        if n <= 0:
            continue
        scores = torch.matmul(torch.from_numpy(q[i0:i1] * scale), torch.from_numpy(kt[:, c0 : c0 + n])).numpy()
        _pool_blocks(scores, i0, c0, causal, m, z, r0, r, skip_first, out)


def blocks_for(n: int, cells: int) -> tuple[int, int]:
    """``(B, P)``: tokens per overview cell and cells a side, so that ``P <= cells``."""
    block = max(1, -(-n // cells))
    return block, -(-n // block)
