// Pure transforms of one layer's attention, float32 [heads, n, n] row-major.
// Kept free of DOM so vitest can check them against hand-computed values.

export interface LayerMatrix {
  heads: number;
  n: number; // rows = columns = number of units (tokens or words)
  data: Float32Array; // [heads, n, n]
}

/**
 * Leave out attention to the first token (column 0). With `renormalise`, every
 * row is rescaled to sum to its original total again, so the remaining weights
 * read as shares of the non-first attention.
 */
export function hideFirst(m: LayerMatrix, renormalise: boolean): LayerMatrix {
  const { heads, n } = m;
  const data = new Float32Array(m.data);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) {
      const row = (h * n + i) * n;
      const first = data[row];
      data[row] = 0;
      if (!renormalise) continue;
      const rest = 1 - first;
      if (rest <= 1e-9) continue; // all mass was on the first token: nothing to rescale
      const scale = 1 / rest;
      for (let j = 1; j < n; j++) data[row + j] *= scale;
    }
  }
  return { heads, n, data };
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

/** Mean over the given heads: float32 [n, n]. */
export function meanOfHeads(m: LayerMatrix, heads: number[]): Float32Array {
  const { n } = m;
  const out = new Float32Array(n * n);
  if (heads.length === 0) return out;
  for (const h of heads) {
    const base = h * n * n;
    for (let k = 0; k < n * n; k++) out[k] += m.data[base + k];
  }
  const inv = 1 / heads.length;
  for (let k = 0; k < n * n; k++) out[k] *= inv;
  return out;
}

/** Weight that row i pays column j in head h. */
export function weight(m: LayerMatrix, h: number, i: number, j: number): number {
  return m.data[(h * m.n + i) * m.n + j];
}
