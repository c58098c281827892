// Which attention lines to draw. Each row keeps its strongest weights until
// `share` of the row's mass is covered; weights below `threshold` and lines too
// faint to see are dropped. A per-row cap keeps long, flat inputs interactive.

import { SQRT_LUT } from "./codec";
import { colsOf, type LayerMatrix, rowOf, weight } from "./transform";

/** Alpha of a line of weight w: sqrt lifts weak-but-real weights into view. */
export function lineAlpha(w: number): number {
  return Math.min(1, Math.sqrt(w));
}

/** Below this weight a line's alpha is under one 8-bit step: invisible anyway. */
export const INVISIBLE = 1 / (255 * 255);

/**
 * Column indices of one row kept by mass pruning, strongest first.
 * share = 1 keeps every visible entry; share = 0.5 keeps the fewest entries whose
 * weights add up to at least half of the row's total.
 *
 * Entries are ordered by a 256-level bucket of sqrt(w) (the resolution the views draw
 * with, and that the data is quantised to) using a counting sort: O(n) per row instead of
 * a comparison sort, which is what keeps 12 heads x 512 rows fast. Ties keep column order.
 */
export function pruneRow(
  row: ArrayLike<number>,
  share: number,
  threshold = 0,
  scratch?: PruneScratch,
  /** The row as sqrt-quantised bytes, when `row` is exactly their weights: the bucket is 255 - q, no sqrt. */
  quantised?: Uint8Array,
): Int32Array {
  const n = row.length;
  const s = scratch && scratch.order.length >= n ? scratch : new PruneScratch(n);
  const { counts, bucket, order } = s;
  counts.fill(0);
  let total = 0;
  let m = 0;
  for (let j = 0; j < n; j++) {
    const w = row[j];
    if (w <= 0) {
      bucket[j] = -1;
      continue;
    }
    total += w;
    if (w < threshold || w <= INVISIBLE) {
      bucket[j] = -1;
      continue;
    }
    const b = quantised ? 255 - quantised[j] : 255 - Math.min(255, Math.round(Math.sqrt(w) * 255)); // 0 = strongest
    bucket[j] = b;
    counts[b]++;
    m++;
  }
  // Counting sort: bucket starts, then place column indices in order.
  let acc = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b];
    counts[b] = acc;
    acc += c;
  }
  for (let j = 0; j < n; j++) if (bucket[j] >= 0) order[counts[bucket[j]]++] = j;
  const target = share * total - 1e-7;
  let covered = 0;
  let k = 0;
  for (; k < m && covered < target; k++) covered += row[order[k]];
  return order.slice(0, k);
}

/** Reusable buffers for pruneRow (one allocation per layer, not per row). */
export class PruneScratch {
  counts = new Int32Array(256);
  bucket: Int16Array;
  order: Int32Array;
  constructor(n: number) {
    this.bucket = new Int16Array(n);
    this.order = new Int32Array(Math.max(n, 256));
  }
}

/** Kept columns for every (selected head, row): rows[headIndex][i]. */
export interface Pruned {
  heads: number[];
  rows: Int32Array[][];
}

export function pruneLayer(m: LayerMatrix, heads: number[], share: number, threshold: number): Pruned {
  const { n } = m;
  const cols = colsOf(m);
  const scratch = new PruneScratch(cols);
  // Unscaled uint8 planes: each weight is SQRT_LUT[q], so rows are pruned from the bytes.
  const q = m.data instanceof Uint8Array && !m.firstHidden?.scale ? m.data : null;
  const row = q ? null : new Float32Array(cols); // one row's weights at a time, never the whole layer
  const rows = heads.map((h) => {
    const out: Int32Array[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const base = (h * n + i) * cols;
      out[i] = q
        ? pruneBytes(q.subarray(base, base + cols), share, threshold, scratch, m.firstHidden ? 1 : 0)
        : pruneRow(rowOf(m, h, i, row!), share, threshold, scratch);
    }
    return out;
  });
  return { heads, rows };
}

/**
 * pruneRow of a row of sqrt-quantised bytes (weight SQRT_LUT[q]), from column `from` on,
 * with the same result: a histogram of the 256 levels finds how far down the levels
 * the share reaches (adding the same weights in the same order), and one pass over the
 * row places just the entries kept. Twice as quick as sorting the whole row, which is
 * what a layer switch at 512 tokens waits on.
 */
export function pruneBytes(q: Uint8Array, share: number, threshold: number, scratch: PruneScratch, from = 0): Int32Array {
  const { counts } = scratch;
  counts.fill(0);
  let lowest = 1; // the weakest level kept at all
  while (lowest < 256 && (SQRT_LUT[lowest] < threshold || SQRT_LUT[lowest] <= INVISIBLE)) lowest++;
  let total = 0;
  for (let j = from; j < q.length; j++) {
    const v = q[j];
    if (v === 0) continue;
    total += SQRT_LUT[v];
    if (v >= lowest) counts[v]++;
  }
  // Strongest level first, entry by entry (as pruneRow adds them), until the share is covered.
  const target = share * total - 1e-7;
  let covered = 0;
  let k = 0;
  let last = 256; // the weakest level reached
  let partial = 0; // entries taken from it
  for (let v = 255; v >= lowest && covered < target; v--) {
    const c = counts[v];
    if (c === 0) continue;
    const w = SQRT_LUT[v];
    let taken = 0;
    while (taken < c && covered < target) {
      covered += w;
      taken++;
    }
    k += taken;
    last = v;
    partial = taken;
  }
  if (k === 0) return new Int32Array(0);
  // Where each kept level starts in the output (strongest first); ties keep column order.
  const start = scratch.order; // reused as level -> next slot
  let at = 0;
  for (let v = 255; v > last; v--) {
    start[v] = at;
    at += counts[v];
  }
  start[last] = at;
  const out = new Int32Array(k);
  let left = partial;
  let placed = 0;
  for (let j = from; j < q.length && placed < k; j++) {
    const v = q[j];
    if (v < last) continue;
    if (v === last) {
      if (left === 0) continue;
      left--;
    }
    out[start[v]++] = j;
    placed++;
  }
  return out;
}

export interface Line {
  head: number;
  from: number; // attending unit (query, left column)
  to: number; // attended unit (key, right column)
  w: number;
}

export interface Focus {
  unit: number;
  role: "query" | "key";
}

/** Rows and columns allowed (1) by a pair filter or generation step; null allows all. */
export interface LineFilter {
  rows: Uint8Array | null;
  cols: Uint8Array | null;
}

/**
 * Lines to draw. Without focus, each row is cut to a share of `budget` so a
 * long flat input cannot stall the page (capped = true tells the status bar).
 * With focus on a query, all of its kept lines; on a key, every row's kept
 * line into it. `filter` leaves out rows and columns outside a pair's block.
 */
export function linesToDraw(
  m: LayerMatrix,
  p: Pruned,
  focus: Focus | null,
  budget = 24_000,
  filter: LineFilter | null = null,
): { lines: Line[]; capped: boolean; total: number } {
  const { n } = m;
  const rowOn = filter?.rows ?? null;
  const colOn = filter?.cols ?? null;
  const lines: Line[] = [];
  let capped = false;
  let total = 0;
  const perRow = Math.max(2, Math.floor(budget / Math.max(1, n * p.heads.length)));
  p.heads.forEach((h, hi) => {
    const rows = p.rows[hi];
    for (let i = 0; i < n; i++) {
      if (rowOn && !rowOn[i]) continue;
      const kept = colOn ? rows[i].filter((j) => colOn[j]) : rows[i];
      total += kept.length;
      if (focus?.role === "query" && i !== focus.unit) continue;
      if (focus?.role === "key") {
        for (const j of kept) if (j === focus.unit) lines.push({ head: h, from: i, to: j, w: weight(m, h, i, j) });
        continue;
      }
      let take = kept.length;
      if (!focus && take > perRow) {
        take = perRow;
        capped = true;
      }
      for (let k = 0; k < take; k++) lines.push({ head: h, from: i, to: kept[k], w: weight(m, h, i, kept[k]) });
    }
  });
  return { lines, capped, total };
}
