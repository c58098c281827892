// Pure transforms of one layer's attention, [heads, n, cols] row-major.
// A layer stays as it arrived: uint8 sqrt-quantised planes (a quarter of float32's
// memory), read through SQRT_LUT. Hiding the first token is a per-row rescale applied
// as rows are read, never a copy of the layer. Kept free of DOM so vitest can check
// them against hand-computed values.

import { SQRT_LUT } from "./codec";

export interface LayerMatrix {
  heads: number;
  n: number; // rows: attending units (tokens or words)
  /** Columns when they differ from the rows (cross-attention); else n. */
  cols?: number;
  /** [heads, n, cols]: uint8 = sqrt-quantised (weight = SQRT_LUT[q]), float32 = weights. */
  data: Uint8Array | Float32Array;
  /** Column 0 reads as 0 and each row is multiplied by its scale (hide_first), if set. */
  firstHidden?: { scale: Float32Array | null }; // [heads * n]; null: no renormalising
}

/** Number of columns (attended units) of `m`. */
export function colsOf(m: LayerMatrix): number {
  return m.cols ?? m.n;
}

/** Bytes a matrix holds (for caches bounded in bytes). */
export function bytesOf(m: LayerMatrix): number {
  return m.data.byteLength + (m.firstHidden?.scale?.byteLength ?? 0);
}

/** Row i of head h as weights, into `out` (length >= cols); returns the row's view of `out`. */
export function rowOf(m: LayerMatrix, h: number, i: number, out: Float32Array): Float32Array {
  const cols = colsOf(m);
  const base = (h * m.n + i) * cols;
  const row = out.subarray(0, cols);
  const d = m.data;
  if (d instanceof Uint8Array) for (let j = 0; j < cols; j++) row[j] = SQRT_LUT[d[base + j]];
  else row.set(d.subarray(base, base + cols));
  const fh = m.firstHidden;
  if (fh) {
    row[0] = 0;
    const s = fh.scale ? fh.scale[h * m.n + i] : 1;
    if (s !== 1) for (let j = 1; j < cols; j++) row[j] *= s;
  }
  return row;
}

/**
 * Leave out attention to the first token (column 0). With `renormalise`, every
 * row is rescaled to sum to its original total again, so the remaining weights
 * read as shares of the non-first attention. The planes are shared, not copied.
 */
export function hideFirst(m: LayerMatrix, renormalise: boolean): LayerMatrix {
  if (m.firstHidden) throw new Error("attnwidget: the first token is hidden already");
  if (!renormalise) return { ...m, firstHidden: { scale: null } };
  const { heads, n } = m;
  const cols = colsOf(m);
  const scale = new Float32Array(heads * n).fill(1);
  const d = m.data;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const at = (h * n + i) * cols;
      const first = d instanceof Uint8Array ? SQRT_LUT[d[at]] : d[at];
      const rest = 1 - first;
      if (rest > 1e-9) scale[h * n + i] = 1 / rest; // all mass on the first token: nothing to rescale
    }
  }
  return { ...m, firstHidden: { scale } };
}

/**
 * Merge token-level attention into units (words): attention *to* a unit is the
 * sum over its tokens (columns); attention *from* a unit is the mean over its
 * tokens (rows), so merged rows still sum to what token rows summed to.
 * `unitOf[t]` is the unit index of token t; units are numbered 0..units-1.
 */
export function mergeUnits(m: LayerMatrix, unitOf: ArrayLike<number>, units: number): LayerMatrix {
  const { heads, n } = m;
  const counts = new Float32Array(units);
  for (let t = 0; t < n; t++) counts[unitOf[t]] += 1;
  const out = new Float32Array(heads * units * units);
  const row = new Float32Array(n);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const ui = unitOf[i];
      const dst = (h * units + ui) * units;
      const w = 1 / counts[ui];
      rowOf(m, h, i, row);
      for (let j = 0; j < n; j++) {
        const a = row[j];
        if (a !== 0) out[dst + unitOf[j]] += a * w;
      }
    }
  }
  return { heads, n: units, data: out };
}

/** One head's weights, or the mean over the given heads: float32 [n, cols]. */
export function meanOfHeads(m: LayerMatrix, heads: number[]): Float32Array {
  const cols = colsOf(m);
  const out = new Float32Array(m.n * cols);
  if (heads.length === 0) return out;
  const row = new Float32Array(cols);
  const inv = 1 / heads.length;
  for (const h of heads) {
    for (let i = 0; i < m.n; i++) {
      rowOf(m, h, i, row);
      const base = i * cols;
      for (let j = 0; j < cols; j++) out[base + j] += row[j] * inv;
    }
  }
  return out;
}

/** Weight that row i pays column j in head h. */
export function weight(m: LayerMatrix, h: number, i: number, j: number): number {
  const fh = m.firstHidden;
  if (fh && j === 0) return 0;
  const at = (h * m.n + i) * colsOf(m) + j;
  const d = m.data;
  const w = d instanceof Uint8Array ? SQRT_LUT[d[at]] : d[at];
  return fh?.scale ? w * fh.scale[h * m.n + i] : w;
}
