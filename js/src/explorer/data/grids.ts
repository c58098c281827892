// The explorer's data as attnwidget/explorer/head_explorer.py sends it: every per-head metric
// as float32 grids [G, layers, heads] with per-layer lines [G, layers], and the
// exemplar sentences of every head (docs/metrics.md#exemplars) with each sentence's text once.

import { decodeArray, type EncodedArray } from "../../data/codec";

export interface MetricInfo {
  name: string;
  title: string; // "Attention to {key}"
  definition?: string; // the metric in one sentence (attnwidget/corpus/definitions.py; docs/metrics.md in full)
  keys: string[]; // [""] for a metric without a key
  default: string; // the key it opens on (attnwidget.explorer.head_explorer.default_key)
  bounded: boolean; // a share of attention in [0, 1]
  baseline: (number | null)[]; // per key: the corpus baseline, if docs/metrics.md defines one
}

export interface GridsPayload {
  layers: number;
  heads: number;
  metrics: MetricInfo[];
  grids: EncodedArray;
  lines: EncodedArray;
}

export interface StatsPayload {
  labels: string[]; // one per source: stats, then compare
  summary: string[];
  sources: GridsPayload[];
}

/** [layer, head, rank, sentence, i, j, weight] */
export type ExemplarRow = [number, number, number, number, number, number, number];

export interface ExemplarsPayload {
  rows: ExemplarRow[];
  texts: Record<string, [string, string[]]>;
}

export interface Exemplar {
  layer: number;
  head: number;
  rank: number;
  sentence: number;
  i: number; // attending token
  j: number; // attended token
  weight: number;
  text: string;
  tokens: string[];
}

/** One source's grids, decoded, looked up by metric and key. */
export class Grids {
  private offsets = new Map<string, number>();

  constructor(
    readonly layers: number,
    readonly heads: number,
    readonly metrics: MetricInfo[],
    private grids: Float32Array,
    private lines: Float32Array,
  ) {
    let g = 0;
    for (const m of metrics) for (const k of m.keys) this.offsets.set(`${m.name}\u0000${k}`, g++);
  }

  static async decode(p: GridsPayload): Promise<Grids> {
    const [grids, lines] = await Promise.all([decodeArray(p.grids), decodeArray(p.lines)]);
    return new Grids(p.layers, p.heads, p.metrics, grids.data as Float32Array, lines.data as Float32Array);
  }

  metric(name: string): MetricInfo | undefined {
    return this.metrics.find((m) => m.name === name);
  }

  private offset(metric: string, key: string): number | undefined {
    return this.offsets.get(`${metric}\u0000${key}`);
  }

  /** Row-major [layers * heads] values, or null when this source lacks the key. */
  grid(metric: string, key: string): Float32Array | null {
    const g = this.offset(metric, key);
    const n = this.layers * this.heads;
    return g === undefined ? null : this.grids.subarray(g * n, (g + 1) * n);
  }

  /** Per-layer value with the layer's heads pooled (the paper's line figures). */
  line(metric: string, key: string): Float32Array | null {
    const g = this.offset(metric, key);
    return g === undefined ? null : this.lines.subarray(g * this.layers, (g + 1) * this.layers);
  }

  baseline(metric: string, key: string): number | null {
    const m = this.metric(metric);
    const k = m ? m.keys.indexOf(key) : -1;
    return m && k >= 0 ? m.baseline[k] : null;
  }
}

/** The exemplars of one head, best first. */
export function exemplarsOf(p: ExemplarsPayload, layer: number, head: number): Exemplar[] {
  return p.rows
    .filter((r) => r[0] === layer && r[1] === head)
    .sort((a, b) => a[2] - b[2])
    .map(([l, h, rank, sentence, i, j, weight]) => {
      const [text, tokens] = p.texts[String(sentence)] ?? ["", []];
      return { layer: l, head: h, rank, sentence, i, j, weight, text, tokens };
    });
}

/** a − b cell by cell (NaN where either is missing). */
export function difference(a: Float32Array, b: Float32Array | null): Float32Array {
  const out = new Float32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = b ? a[k] - b[k] : NaN;
  return out;
}

/** The metric's title with its key filled in ("Attention to DET"). */
export function metricTitle(m: MetricInfo | undefined, key: string): string {
  if (!m) return "";
  return m.title.replace("{key}", key).trim();
}
