"""The summaries and tiles of :mod:`attnwidget.widget.summary_kernel`, computed by torch on
the model's accelerator.

When the model runs on a GPU its pass takes seconds, and the compiled CPU loops that
summarise the caught queries and keys would be most of the wait (32 layers x 32 heads at
8,192 tokens score 69 billion cells). Here a layer's queries and the keys each group of
heads shares are copied to the device (16 MB a layer at 8,192 tokens x 32 heads of 16
dims), scored in row chunks by one batched matmul per key head, and reduced there; only
the summary comes back. The definitions are the compiled ones (the tests hold the two
paths equal): each row's score maximum ``m`` and softmax denominator ``Z``, its weight on
key 0, its ``k`` strongest keys (strongest first; -1 and weight 0 past a short row's end)
and the share of its mass they cover, and the block-max overview with and without key 0
(rows renormalised), where a block is ``B x B`` tokens.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from attnwidget.widget.attention_store import NO_KEY

#: Scores held at once per chunk of rows, at most (float32: 512 MB). Each chunk costs a few
#: dozen kernel launches, and at 32,768 tokens 64 MB chunks spent more time launching than
#: computing; fewer are taken where the device has little memory free (:func:`chunk_cells`).
CHUNK_CELLS = 1 << 27
#: ... and at least (64 MB).
MIN_CHUNK_CELLS = 1 << 24
#: A row whose mass off key 0 is below this gets no hide_first weights (as the compiled path).
REST_FLOOR = 1e-9


def chunk_cells(device) -> int:
    """Scores per chunk on ``device``: up to an eighth of its free memory (four bytes a score,
    about two such arrays live), within ``MIN_CHUNK_CELLS..CHUNK_CELLS``."""
    if torch.device(device).type != "cuda":
        return CHUNK_CELLS
    free, _ = torch.cuda.mem_get_info(device)
    return int(min(CHUNK_CELLS, max(MIN_CHUNK_CELLS, free // 32)))


def summarise_layer(query, key, scale, causal, B, P, k, device, check=None) -> dict[str, np.ndarray]:
    """One layer's summary from its queries ``[H, T, d]`` and keys ``[G, T, d]`` (numpy float32),
    in the forms :class:`attnwidget.widget.attention_store.LayerSummary` keeps (made on the
    device, so a third of the bytes come back).

    Returns numpy arrays: ``overview`` / ``overview_hf`` uint8 sqrt-quantised ``[H, P, P]``;
    ``top`` ``[H, T, k]`` uint16 (``NO_KEY`` past a short row's end) where T allows, else int32
    (-1); ``weights`` float16 ``[H, T, k]``; ``covered``, ``first``, ``m``, ``z`` float32 ``[H, T]``.
    ``check`` is called before each key head's group (it raises to stop the work).
    """
    H, T, _ = query.shape
    G = key.shape[0]
    per = H // G
    out = {
        "pooled": torch.zeros((H, P, P), device=device),
        "pooled_hf": torch.zeros((H, P, P), device=device),
        "top": torch.full((H, T, k), -1, dtype=torch.int32, device=device),
        "weights": torch.zeros((H, T, k), device=device),
        "covered": torch.zeros((H, T), device=device),
        "first": torch.zeros((H, T), device=device),
        "m": torch.zeros((H, T), device=device),
        "z": torch.zeros((H, T), device=device),
    }
    rows = max(B, chunk_cells(device) // (per * T) // B * B)  # a multiple of B: no row block spans two chunks
    with torch.inference_mode():
        for g in range(G):
            if check is not None:
                check()
            heads = slice(g * per, (g + 1) * per)
            keys = torch.zeros((-(-T // B) * B, key.shape[-1]), device=device)  # whole column blocks
            keys[:T] = torch.from_numpy(key[g]).to(device)
            queries = torch.from_numpy(query[heads]).to(device) * scale
            for i0 in range(0, T, rows):
                i1 = min(T, i0 + rows)
                n = i1 if causal else T
                _summarise_chunk(queries[:, i0:i1], keys[: -(-n // B) * B], n, i0, causal, B, k, heads, out)
        small = T < NO_KEY  # uint16 indices: -1 wraps to NO_KEY (0xFFFF)
        kept = {
            "overview": _quantise_sqrt(out.pop("pooled")),
            "overview_hf": _quantise_sqrt(out.pop("pooled_hf")),
            "top": out.pop("top").to(torch.int16) if small else out.pop("top"),
            "weights": out.pop("weights").half(),
            **out,
        }
        got = {name: value.cpu().numpy() for name, value in kept.items()}
    if small:
        got["top"] = got["top"].view(np.uint16)
    return got


def _quantise_sqrt(weights: torch.Tensor) -> torch.Tensor:
    """:func:`attnwidget.widget.quantise.quantise_sqrt` on the device."""
    return torch.round(weights.clamp(0.0, 1.0).sqrt() * 255.0).to(torch.uint8)


def _summarise_chunk(queries, keys, n, i0, causal, B, k, heads, out) -> None:
    """Rows ``i0..`` of the heads ``heads`` (scaled queries ``[h, c, d]``) reading keys ``0..n``
    (``keys``: those padded with zeros to whole column blocks)."""
    c = queries.shape[1]
    i1 = i0 + c
    s = torch.matmul(queries, keys.T)  # [h, c, nb * B]
    if causal:  # the padding lies past the last row: the causal mask covers it
        s.masked_fill_(_future(i0, c, s.shape[-1], s.device), float("-inf"))
    elif s.shape[-1] > n:
        s[..., n:] = float("-inf")
    m = s.amax(-1)
    kk = min(k, n)
    top_scores, top = torch.topk(s, kk, dim=-1)
    s.sub_(m[..., None]).exp_()
    z = s.sum(-1)
    w = s.div_(z[..., None])  # the weights, in place of the scores
    first = w[..., 0].clone()
    strong = torch.isfinite(top_scores)  # a row shorter than k: masked keys are no key
    top_w = torch.where(strong, torch.exp(top_scores - m[..., None]) / z[..., None], 0.0)
    out["top"][heads, i0:i1, :kk] = torch.where(strong, top, -1).to(torch.int32)
    out["weights"][heads, i0:i1, :kk] = top_w
    out["covered"][heads, i0:i1] = top_w.sum(-1)
    out["first"][heads, i0:i1], out["m"][heads, i0:i1], out["z"][heads, i0:i1] = first, m, z
    b0 = i0 // B
    _max_into(out["pooled"][heads, b0:], _block_max(w, B))
    rest = 1.0 - first
    factor = torch.where(rest > REST_FLOOR, 1.0 / rest.clamp_min(REST_FLOOR), 0.0)
    w.mul_(factor[..., None])
    w[..., 0] = 0.0  # hide_first: key 0 is no block's largest
    _max_into(out["pooled_hf"][heads, b0:], _block_max(w, B))


def _future(i0: int, rows: int, cols: int, device, c0: int = 0) -> torch.Tensor:
    """``[rows, cols]``: True where key ``c0 + j`` comes after query ``i0 + i`` (causal mask)."""
    queries = torch.arange(i0, i0 + rows, device=device)[:, None]
    return torch.arange(c0, c0 + cols, device=device)[None, :] > queries


def _block_max(w: torch.Tensor, r: int) -> torch.Tensor:
    """``[h, a, b]`` to ``[h, ceil(a / r), ceil(b / r)]``, each the largest of its ``r x r`` block
    (zeros pad a partial block: weights are >= 0). Two reductions over contiguous views: on a
    GPU max_pool2d gave one thread per output cell, too few threads for 64 x 64 blocks."""
    if r == 1:
        return w
    h, a, b = w.shape
    if b % r:
        w = F.pad(w, (0, r - b % r))
    cols = w.view(h, a, -1, r).amax(-1)  # [h, a, ceil(b / r)]
    if a % r:
        cols = F.pad(cols, (0, 0, 0, r - a % r))
    return cols.view(h, -1, r, cols.shape[-1]).amax(2)


def _max_into(target: torch.Tensor, values: torch.Tensor) -> None:
    """``target[..., :a, :b] = max(target, values)`` for values ``[..., a, b]``."""
    a, b = values.shape[-2:]
    region = target[..., :a, :b]
    torch.maximum(region, values, out=region)


def window(query, key, scale, causal, m, z, r0, c0, cells, r, skip_first, device) -> np.ndarray:
    """:func:`attnwidget.widget.summary_kernel.qk_window` on ``device``: float32 ``[cells, cells]``,
    the largest weight of each ``r x r`` block of rows ``r0..`` and columns ``c0..`` (r = 1:
    the exact weights), zero past the matrix's edge. ``query`` ``[T, d]``, ``key`` ``[T_k, d]``;
    ``m``, ``z`` the rows' score maximum and denominator; ``skip_first``: key 0 weighs 0."""
    out = np.zeros((cells, cells), np.float32)
    width = min(cells * r, key.shape[0] - c0)
    last = min(query.shape[0], r0 + cells * r)
    if width <= 0 or last <= r0:
        return out
    with torch.inference_mode():
        s = torch.matmul(
            torch.from_numpy(query[r0:last]).to(device) * scale, torch.from_numpy(key[c0 : c0 + width]).to(device).T
        )
        if causal:
            s.masked_fill_(_future(r0, last - r0, width, s.device, c0), float("-inf"))
        if skip_first and c0 == 0:
            s[:, 0] = float("-inf")
        rows_m = torch.from_numpy(m[r0:last]).to(device)
        rows_z = torch.from_numpy(z[r0:last]).to(device)
        w = _block_max(s.sub_(rows_m[:, None]).exp_().div_(rows_z[:, None])[None], r)[0].cpu().numpy()
    out[: w.shape[0], : w.shape[1]] = w
    return out


def release(device) -> None:
    """Give the device's cached blocks back (what the summaries' chunks left in torch's
    allocator), so a closed widget holds no GPU memory; tensors in use are untouched."""
    if torch.device(device).type == "cuda" and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
