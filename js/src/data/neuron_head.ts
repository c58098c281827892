// The neuron view's numbers. The kernel (or the exported file) sends one head's
// query vectors for every query token and the key vectors of its key group
// (attnwidget/widget/payload.py: neuron_payload); the query token's products, scores
// and softmax are computed here, so moving the query token needs no round trip.

import { decodeArray, type EncodedArray } from "./codec";

/** An encoded float array; int16 codes times `quantum` when quantised (exported files). */
export type EncodedVectors = EncodedArray & { quantum?: number | null };

export interface NeuronPayload {
  family: string;
  part: string;
  layer: number;
  head: number;
  kv_head: number;
  num_kv_heads: number;
  scale: number;
  head_dim: number;
  arrays: { queries: EncodedVectors; keys: EncodedVectors; masked: EncodedArray; bias: EncodedVectors | null };
  /** Names of the arrays whose bytes travel as binary message parts, in order (kernel replies). */
  order?: string[];
}

export interface NeuronHead {
  family: string;
  layer: number;
  head: number;
  kvHead: number;
  numKvHeads: number;
  scale: number;
  d: number;
  queries: Float32Array; // [nq, d]
  keys: Float32Array; // [nk, d]
  masked: Uint8Array; // [nq, nk], 1 = the query may not see the key
  bias: Float32Array | null; // [nq, nk], added to the scores (T5)
  nq: number;
  nk: number;
  quantised: boolean;
}

export interface NeuronRow {
  token: number;
  query: Float32Array; // [d]
  products: Float32Array; // [nk, d] = query ⊙ key_j
  scores: Float32Array; // [nk] = scale · q·k_j + bias_j (also where masked)
  weights: Float32Array; // [nk] softmax over the keys the query may see
  masked: Uint8Array; // [nk]
}

async function floats(enc: EncodedVectors): Promise<Float32Array> {
  const { data } = await decodeArray(enc);
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  const q = enc.quantum ?? 1;
  for (let k = 0; k < data.length; k++) out[k] = data[k] * q;
  return out;
}

/** Decode a neuron payload; `buffers` are the binary parts of a kernel reply (none in a file). */
export async function decodeNeuronHead(p: NeuronPayload, buffers: DataView[] = []): Promise<NeuronHead> {
  const arrays = { ...p.arrays } as Record<string, EncodedVectors | null>;
  (p.order ?? []).forEach((name, i) => {
    arrays[name] = { ...arrays[name]!, buffer: buffers[i] };
  });
  const queries = await floats(arrays.queries!);
  const keys = await floats(arrays.keys!);
  const masked = (await decodeArray(arrays.masked!)).data as Uint8Array;
  const bias = arrays.bias ? await floats(arrays.bias) : null;
  const d = p.head_dim;
  return {
    family: p.family,
    layer: p.layer,
    head: p.head,
    kvHead: p.kv_head,
    numKvHeads: p.num_kv_heads,
    scale: p.scale,
    d,
    queries,
    keys,
    masked,
    bias,
    nq: queries.length / d,
    nk: keys.length / d,
    quantised: Boolean(p.arrays.queries.quantum),
  };
}

/** What query `token` computed: q, q ⊙ k_j, the scores and their softmax. */
export function neuronRow(h: NeuronHead, token: number): NeuronRow {
  const { d, nk } = h;
  const query = h.queries.subarray(token * d, (token + 1) * d);
  const products = new Float32Array(nk * d);
  const scores = new Float32Array(nk);
  const masked = h.masked.subarray(token * nk, (token + 1) * nk);
  let top = -Infinity;
  for (let j = 0; j < nk; j++) {
    let dot = 0;
    for (let c = 0; c < d; c++) {
      const p = query[c] * h.keys[j * d + c];
      products[j * d + c] = p;
      dot += p;
    }
    const s = h.scale * dot + (h.bias ? h.bias[token * nk + j] : 0);
    scores[j] = s;
    if (!masked[j] && s > top) top = s;
  }
  const weights = new Float32Array(nk);
  let total = 0;
  for (let j = 0; j < nk; j++) {
    if (masked[j]) continue;
    const e = Math.exp(scores[j] - top);
    weights[j] = e;
    total += e;
  }
  if (total > 0) for (let j = 0; j < nk; j++) weights[j] /= total;
  return { token, query, products, scores, weights, masked };
}

/** Largest |value| of `a` (at least a tiny positive number, so it can divide). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]));
  return m || 1e-12;
}
