"""Inputs and page scripts for bench_widget.py's long-input figures (``--inputs``).

The 12 x 12 GPT-2-small-shaped attention of the 64-512 token figures (made a layer at a
time past 1,024 tokens), the Llama-shaped model (rotary, grouped-query attention, built
from a config: ``tests/tiny_models.llama_long``) and a text of exactly T of its tokens,
the kernel's resident and peak sizes, and the scripts that drive a long input's views.
Run the bench, not this: ``python bench/bench_widget.py --inputs dense12 llama32``.
"""

from __future__ import annotations

import json
import math
import resource
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def long_model(layers: int = 32, heads: int = 32, window: int = 8192, device: str = "cpu"):
    """The Llama-shaped model (rotary, 8 key heads (fewer where ``heads`` is not a multiple of 8), 16 dims)
    as a LoadedModel, its window at least ``window`` tokens."""
    from attnwidget import load_model
    from tests.tiny_models import llama_long

    model, tok = llama_long(n_layer=layers, n_head=heads, n_kv_head=math.gcd(heads, 8), window=max(window, 8192))
    return load_model((model, tok), device=device)


def long_text(loaded, n_tokens: int) -> str:
    """The sample corpus repeated until the model reads ``n_tokens`` tokens of it (no more)."""
    from attnwidget.data import sample_corpus

    base = " ".join(sample_corpus())
    per = len(loaded.tokenizer(base)["input_ids"])
    text = " ".join([base] * (n_tokens // per + 2))
    ids = loaded.tokenizer(text)["input_ids"][:n_tokens]
    return loaded.tokenizer.decode(ids)


def gpt2_like_attention(n: int, layers: int = 12, heads: int = 12, seed: int = 0) -> np.ndarray:
    """Causal softmax attention with peaked random logits and a first-token sink, like trained
    GPT-2 heads (the 64-512 token figures' input)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(layers, heads, n, n)).astype(np.float32) * 3.0
    logits[..., 0] += 4.0  # attention sink on the first token
    logits[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    logits -= logits.max(-1, keepdims=True)
    a = np.exp(logits)
    a /= a.sum(-1, keepdims=True)
    return a


def dense_attention(n: int, layers: int = 12, heads: int = 12, seed: int = 0) -> np.ndarray:
    """:func:`gpt2_like_attention`, made a layer at a time past 1,024 tokens (2.4 GB at 2,048)."""
    if n <= 1024:
        return gpt2_like_attention(n, layers, heads, seed)
    from tests.tiny_models import causal_softmax_attention

    return causal_softmax_attention(layers, heads, n, seed)


def dense_bytes(n: int, layers: int = 12, heads: int = 12) -> int:
    """Bytes of :func:`dense_attention`'s array (float32)."""
    return layers * heads * n * n * 4


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable"):
                return int(line.split()[1]) * 1024
    return 0


#: JS: ms from t0 to the view's last draw (``dataset.drawnAt``, stamped as a draw ends; its
#: frame is painted right after that animation frame's callbacks), not to the later frame
#: whose poll first saw it (up to a frame more). Pasted into the steps' functions below.
DRAWN_SINCE = """
  const drawnSince = (root, t0) => {
    const at = Number(root.dataset.drawnAt);
    return at >= t0 ? at - t0 : performance.now() - t0;
  };"""


#: Choose a layer; ms until it is drawn with nothing still asked of the kernel.
SWITCH_UNTIL_SHOWN_JS = (
    """async (layer) => {"""
    + DRAWN_SINCE
    + """
  const root = document.querySelector('.aw-root');
  const select = root.querySelector('.aw-layer');
  const t0 = performance.now();
  select.value = String(layer);
  select.dispatchEvent(new Event('change'));
  await new Promise((resolve, reject) => {
    const check = () => {
      if (performance.now() - t0 > 60000) return reject(new Error('layer switch: nothing drawn in 60 s'));
      const r = root.dataset.rows && JSON.parse(root.dataset.rows);
      const done = root.dataset.layer === String(layer) && (!r || r.waiting === 0);
      done ? resolve() : requestAnimationFrame(check);
    };
    check();
  });
  return drawnSince(root, t0);
}"""
)

#: One wheel step into the long matrix view at (x, y); [ms until every tile in view is drawn,
#: zoom state, ms until a poll saw it, whether it was drawn waiting for tiles first].
ZOOM_JS = (
    """async ([x, y]) => {"""
    + DRAWN_SINCE
    + """
  const root = document.querySelector('.aw-root');
  const c = root.querySelector('.aw-long-matrix');
  const r = c.getBoundingClientRect();
  const before = JSON.parse(root.dataset.zoom || '{}').tokensPerPx;
  const t0 = performance.now();
  c.dispatchEvent(new WheelEvent('wheel', {
    clientX: r.left + x, clientY: r.top + y, deltaY: -120, bubbles: true, cancelable: true}));
  let waited = false; // drawn at the new scale with tiles missing: the step waited for the kernel
  await new Promise((resolve, reject) => {
    const check = () => {
      if (performance.now() - t0 > 60000) return reject(new Error('zoom: tiles not drawn in 60 s'));
      const z = JSON.parse(root.dataset.zoom || '{}');
      waited ||= z.tokensPerPx !== before && z.missing > 0;
      // Drawn at the new scale, with every tile in view (or a notice saying why not).
      z.tokensPerPx !== before && (z.missing === 0 || z.notice) ? resolve() : requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
  return [drawnSince(root, t0), root.dataset.zoom, performance.now() - t0, waited];
}"""
)

#: Choose other heads while the long matrix view is zoomed in (as the head chips do); [ms
#: until every tile of the new heads in view is drawn, the zoom state then]. Nothing of
#: the new heads is at hand: every tile in view is fetched.
HEADS_JS = (
    """async (heads) => {"""
    + DRAWN_SINCE
    + """
  const root = document.querySelector('.aw-root');
  const t0 = performance.now();
  window.awModel.set('heads', heads);
  window.awModel.save_changes();
  let waited = false;
  await new Promise((resolve, reject) => {
    const check = () => {
      if (performance.now() - t0 > 60000) return reject(new Error('heads: tiles not drawn in 60 s'));
      const z = JSON.parse(root.dataset.zoom || '{}');
      waited ||= z.missing > 0;
      waited && (z.missing === 0 || z.notice) ? resolve() : requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
  return [drawnSince(root, t0), root.dataset.zoom];
}"""
)

#: Hover a cell of the long matrix view; [ms until its tooltip shows, the tooltip's text].
CELL_HOVER_JS = """async ([x, y]) => {
  const root = document.querySelector('.aw-root');
  const c = root.querySelector('.aw-long-matrix');
  const tip = root.querySelector('.aw-tooltip');
  const r = c.getBoundingClientRect();
  tip.hidden = true;
  tip.textContent = '';
  const t0 = performance.now();
  c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + x, clientY: r.top + y, bubbles: true}));
  await new Promise((resolve) => {
    const check = () => (!tip.hidden || performance.now() - t0 > 5000 ? resolve() : setTimeout(check, 1));
    check();
  });
  // No tooltip: the file lacks single cells here and says so in the status line.
  return [performance.now() - t0, tip.hidden ? root.querySelector('.aw-status').textContent : tip.textContent];
}"""

#: Scroll the head view so that token ``row`` is in view.
SCROLL_JS = """async (row) => {
  const stage = document.querySelector('.aw-stage');
  stage.scrollTop = Math.max(0, 8 + 18 * row - 200);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""

#: Hover a query token of the (short input's) head view and leave it: [ms to redraw on entering, on leaving].
HOVER_JS = """(row) => {
  // Hover a query token (no syntax here: the query column starts 8 px in) and leave it.
  const root = document.querySelector('.aw-root');
  const stage = root.querySelector('.aw-stage');
  const canvas = root.querySelector('.aw-view:not([hidden]) canvas');
  const r = canvas.getBoundingClientRect();
  const x = r.left + 12, y = r.top + 8 + 18 * (row + 0.5) - stage.scrollTop;
  const draws = Number(root.dataset.draws);
  const t0 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
  const t1 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mouseleave', {bubbles: true}));
  const t2 = performance.now();
  if (Number(root.dataset.draws) < draws + 2) throw new Error('hover did not redraw');
  return [t1 - t0, t2 - t1];
}"""


#: Where the zoom walks wheel: a point of the lower triangle (the plot's corner is at (120,
#: 120)), then, from the whole matrix again, another (what the first prefetched is off to the side).
ZOOM_POINTS = ((120 + 400, 120 + 500), (120 + 150, 120 + 540))


def zoom_walk(page):
    """Wheel steps into a long input's matrix view down to single cells (40 px a token), at
    each of :data:`ZOOM_POINTS` from the whole matrix; yields each step as it is taken:
    ``{"ms", "polled_ms", "waited", "zoom", "at"}`` (:data:`ZOOM_JS`)."""
    page.click(".aw-tab[data-view='matrix']")
    page.wait_for_function("() => document.querySelector('.aw-root').dataset.zoom")
    points = iter(ZOOM_POINTS)
    at = next(points)
    last = None
    for _ in range(80):
        if last and last["zoom"].get("r") == 1 and 1 / last["zoom"]["tokensPerPx"] >= 39:
            at = next(points, None)
            if at is None:
                return
            page.focus(".aw-long-matrix")
            page.keyboard.press("0")  # the whole matrix
        ms, zoom, polled, waited = page.evaluate(ZOOM_JS, list(at))
        last = {"ms": ms, "polled_ms": polled, "waited": waited, "zoom": json.loads(zoom), "at": at}
        yield last
