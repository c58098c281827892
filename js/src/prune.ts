// Which attention lines to draw. Each row keeps its strongest weights until
// `share` of the row's mass is covered; weights below `threshold` and lines too
// faint to see are dropped. A global budget keeps long inputs interactive.

import type { LayerMatrix } from "./transform";

/** Alpha of a line of weight w: sqrt lifts weak-but-real weights into view. */
export function lineAlpha(w: number): number {
  return Math.min(1, Math.sqrt(w));
}

/** Below this weight a line's alpha is under one 8-bit step: invisible anyway. */
export const INVISIBLE = 1 / (255 * 255);

/**
 * Indices of row entries kept by mass pruning, strongest first.
 * share = 1 keeps every positive entry; share = 0.5 keeps the fewest entries
 * whose weights add up to at least half of the row's total.
 */
export function pruneRow(row: ArrayLike<number>, share: number, threshold = 0, maxKeep = Infinity): number[] {
  const idx: number[] = [];
  let total = 0;
  for (let j = 0; j < row.length; j++) {
    const w = row[j];
    if (w > 0) {
      total += w;
      if (w >= threshold && w > INVISIBLE) idx.push(j);
    }
  }
  idx.sort((a, b) => row[b] - row[a]);
  const target = share * total;
  const kept: number[] = [];
  let covered = 0;
  for (const j of idx) {
    if (covered >= target - 1e-7 || kept.length >= maxKeep) break;
    kept.push(j);
    covered += row[j];
  }
  return kept;
}

export interface Line {
  head: number;
  from: number; // attending unit (query, left column)
  to: number; // attended unit (key, right column)
  w: number;
}

export interface LineSet {
  lines: Line[];
  capped: boolean; // true when the budget cut rows short
}

/** Lines of every selected head after pruning, optionally only those touching one unit. */
export function selectLines(
  m: LayerMatrix,
  heads: number[],
  opts: { share: number; threshold: number; budget?: number; focus?: { unit: number; role: "query" | "key" } },
): LineSet {
  const { n } = m;
  const budget = opts.budget ?? 120_000;
  const rows = opts.focus?.role === "query" ? [opts.focus.unit] : range(n);
  // Per-row cap so that a flat, long input cannot exceed the budget.
  const perRow = Math.max(4, Math.floor(budget / Math.max(1, rows.length * Math.max(1, heads.length))));
  const lines: Line[] = [];
  let capped = false;
  const row = new Float32Array(n);
  for (const h of heads) {
    for (const i of rows) {
      const base = (h * n + i) * n;
      for (let j = 0; j < n; j++) row[j] = m.data[base + j];
      const kept = pruneRow(row, opts.share, opts.threshold);
      let take = kept;
      if (opts.focus?.role === "key") take = kept.filter((j) => j === opts.focus!.unit);
      else if (kept.length > perRow && !opts.focus) {
        take = kept.slice(0, perRow);
        capped = true;
      }
      for (const j of take) lines.push({ head: h, from: i, to: j, w: row[j] });
    }
  }
  return { lines, capped };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
