// Pure transforms of one layer's attention, float32 [heads, n, n] row-major.
// Kept free of DOM so vitest can check them against hand-computed values.

export interface LayerMatrix {
  heads: number;
  n: number; // rows: attending units (tokens or words)
  /** Columns when they differ from the rows (cross-attention); else n. */
  cols?: number;
  data: Float32Array; // [heads, n, cols]
}

/** Number of columns (attended units) of `m`. */
export function colsOf(m: LayerMatrix): number {
  return m.cols ?? m.n;
}

/**
 * Leave out attention to the first token (column 0). With `renormalise`, every
 * row is rescaled to sum to its original total again, so the remaining weights
 * read as shares of the non-first attention.
 */
export function hideFirst(m: LayerMatrix, renormalise: boolean): LayerMatrix {
  const { heads, n } = m;
  const cols = colsOf(m);
  const data = new Float32Array(m.data);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const row = (h * n + i) * cols;
      const first = data[row];
      data[row] = 0;
      if (!renormalise) continue;
      const rest = 1 - first;
      if (rest <= 1e-9) continue; // all mass was on the first token: nothing to rescale
      const scale = 1 / rest;
      for (let j = 1; j < cols; j++) data[row + j] *= scale;
    }
  }
  return { heads, n, cols: m.cols, data };
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
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const ui = unitOf[i];
      const src = (h * n + i) * n;
      const dst = (h * units + ui) * units;
      const w = 1 / counts[ui];
      for (let j = 0; j < n; j++) {
        const a = m.data[src + j];
        if (a !== 0) out[dst + unitOf[j]] += a * w;
      }
    }
  }
  return { heads, n: units, data: out };
}

/** Mean over the given heads: float32 [n, cols]. */
export function meanOfHeads(m: LayerMatrix, heads: number[]): Float32Array {
  const size = m.n * colsOf(m);
  const out = new Float32Array(size);
  if (heads.length === 0) return out;
  for (const h of heads) {
    const base = h * size;
    for (let k = 0; k < size; k++) out[k] += m.data[base + k];
  }
  const inv = 1 / heads.length;
  for (let k = 0; k < size; k++) out[k] *= inv;
  return out;
}

/** Weight that row i pays column j in head h. */
export function weight(m: LayerMatrix, h: number, i: number, j: number): number {
  const cols = colsOf(m);
  return m.data[(h * m.n + i) * cols + j];
}
