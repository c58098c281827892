// Where a head stands among all heads, and the colour scale of a grid.

/** Rank of values[index] among the finite values, 1 = largest; null when it is not finite. */
export function rankOf(values: ArrayLike<number>, index: number): { rank: number; of: number } | null {
  const v = values[index];
  if (!Number.isFinite(v)) return null;
  let above = 0;
  let of = 0;
  for (let k = 0; k < values.length; k++) {
    const x = values[k];
    if (!Number.isFinite(x)) continue;
    of++;
    if (x > v) above++;
  }
  return { rank: above + 1, of };
}

export interface Range {
  lo: number;
  hi: number;
  diverging: boolean; // centred on zero (a difference grid)
  sqrt: boolean; // shade by sqrt, as the widget does for weights: small shares stay visible
}

/**
 * The range a grid's colours span. Shares of attention start at 0 and end at the
 * largest value (as the paper's heat maps: weak heads stay visibly different);
 * other metrics span their own min..max; differences are symmetric around 0.
 */
export function colourRange(values: ArrayLike<number>, kind: "share" | "unbounded" | "difference"): Range {
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < values.length; k++) {
    const x = values[k];
    if (!Number.isFinite(x)) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const sqrt = kind !== "unbounded";
  if (lo > hi) return { lo: 0, hi: 1, diverging: kind === "difference", sqrt };
  if (kind === "difference") {
    const m = Math.max(Math.abs(lo), Math.abs(hi), 1e-9);
    return { lo: -m, hi: m, diverging: true, sqrt };
  }
  if (kind === "share") return { lo: 0, hi: Math.max(hi, 1e-9), diverging: false, sqrt };
  return { lo, hi: hi > lo ? hi : lo + 1e-9, diverging: false, sqrt };
}

/** Position of v in the range: 0..1 (sequential) or -1..1 (diverging). */
export function scaled(v: number, r: Range): number {
  if (r.diverging) return Math.max(-1, Math.min(1, v / r.hi));
  return Math.max(0, Math.min(1, (v - r.lo) / (r.hi - r.lo)));
}

/** A readable number: 3 significant decimals for shares, 2 for larger values. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  return a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}
