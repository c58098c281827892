// An exported file's answers for a long input (attnwidget/widget/long_export.py is the other
// half): overviews, rows and tiles from what the file carries. What it does not carry is
// refused with a plain sentence that the views show ("this file holds layer 7 at 16
// tokens per cell; open it in the notebook for detail").

import { ByteCache } from "../data/byte_cache";
import { type EncodedArray, SQRT_LUT, type TypedArray } from "../data/codec";
import { decoder } from "../data/decoder";

interface Enc extends EncodedArray {}

export interface LongBundle {
  budget: number;
  bytes: number;
  holds: { overview: number[]; rows: Record<string, number>; full: number[]; block: Record<string, number>; notes: string[] };
  overviews: Record<string, { factor: number; block: number; plain: Enc; hide_first: Enc }>;
  rows: Record<string, { k: number; top: Enc; weights: Enc; covered: Enc; first: Enc }>;
  full: Record<string, { packing: "tril" | "full"; data: Enc }>;
}

type Body = Record<string, unknown>;

/** An array travelling inside a reply (no binary parts: the page is its own host). */
function inline(data: TypedArray, dtype: string): EncodedArray {
  return {
    buffer: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    dtype: dtype as EncodedArray["dtype"],
    shape: [data.length],
    compression: null,
  };
}

/** Bytes of the file's arrays kept decoded (a layer's 16 strongest keys at 8,192 x 32 heads: 12 MB). */
const DECODED_BYTES = 64 * 1024 * 1024;

export class StaticLong {
  private decoded = new ByteCache<Promise<TypedArray>>(DECODED_BYTES);
  private decoding = new Map<string, Promise<TypedArray>>();

  constructor(
    private bundle: LongBundle,
    private n: number,
    private heads: number,
  ) {}

  /** One of the file's arrays, decoded (in the decode worker) once while it stays in the cache. */
  private get(key: string, enc: Enc): Promise<TypedArray> {
    const known = this.decoded.get(key) ?? this.decoding.get(key);
    if (known) return known;
    const p = decoder()
      .decode({ enc })
      .then((d) => d.data);
    this.decoding.set(key, p);
    p.then(
      (data) => {
        this.decoding.delete(key);
        this.decoded.set(key, p, data.byteLength); // bounded in bytes, not in arrays
      },
      () => this.decoding.delete(key),
    );
    return p;
  }

  private lacks(layer: number, what: string): string {
    const block = this.bundle.holds.block[String(layer)];
    const has = block ? `this file holds layer ${layer} at ${block} tokens per cell` : `this file holds no detail of layer ${layer}`;
    return `${has}, not ${what} (it was exported within ${(this.bundle.budget / 1e6).toFixed(0)} MB); open it in the notebook for detail`;
  }

  async answer(what: string, c: Body): Promise<Body> {
    const layer = c.layer as number;
    const L = String(layer);
    if (what === "overview") {
      const o = this.bundle.overviews[L];
      if (!o) return { error: this.lacks(layer, "an overview") };
      const data = (await this.get(`o${L}${c.hide_first}`, c.hide_first ? o.hide_first : o.plain)) as Uint8Array;
      const cells = Math.round(Math.sqrt(data.length / this.heads));
      return { layer, block: o.block, cells, arrays: { overview: inline(data, "uint8") }, order: ["overview"] };
    }
    if (what === "rows") {
      const r = this.bundle.rows[L];
      if (!r) return { error: this.lacks(layer, "the strongest lines of each row") };
      const heads = c.heads as number[];
      const r0 = c.r0 as number;
      const r1 = c.r1 as number;
      const top = await this.get(`rt${L}`, r.top);
      const w = (await this.get(`rw${L}`, r.weights)) as Uint8Array;
      const cov = (await this.get(`rc${L}`, r.covered)) as Uint8Array;
      const first = (await this.get(`rf${L}`, r.first)) as Uint8Array;
      const rows = r1 - r0;
      const k = r.k;
      const outTop = new Int32Array(heads.length * rows * k);
      const outW = new Float32Array(heads.length * rows * k);
      const outC = new Float32Array(heads.length * rows);
      const outF = new Float32Array(heads.length * rows);
      heads.forEach((h, at) => {
        for (let i = 0; i < rows; i++) {
          const src = (h * this.n + r0 + i) * k;
          const dst = (at * rows + i) * k;
          for (let t = 0; t < k; t++) {
            const key = top[src + t];
            outTop[dst + t] = key === 65535 ? -1 : key;
            outW[dst + t] = SQRT_LUT[w[src + t]];
          }
          outC[at * rows + i] = SQRT_LUT[cov[h * this.n + r0 + i]];
          outF[at * rows + i] = SQRT_LUT[first[h * this.n + r0 + i]];
        }
      });
      return {
        layer,
        arrays: {
          top: inline(outTop, "int32"),
          weights: inline(outW, "float32"),
          covered: inline(outC, "float32"),
          first: inline(outF, "float32"),
        },
        order: ["top", "weights", "covered", "first"],
      };
    }
    if (what === "tiles") {
      // A zoom step's tiles in one reply, as the kernel's batch (nothing to drop: no newer step waits here).
      const corners = c.tiles as number[][];
      const arrays: Record<string, EncodedArray> = {};
      let combine = "mean";
      for (const [k, [r0, c0]] of corners.entries()) {
        const one = await this.answer("tile", { ...c, r0, c0 });
        if (one.error) return one;
        arrays[`t${k}`] = (one.arrays as Record<string, EncodedArray>).tile;
        combine = one.combine as string;
      }
      return { layer, cells: c.cells, r: c.r, combine, tiles: corners, dropped: [], arrays, order: Object.keys(arrays) };
    }
    if (what === "tile" || what === "value") {
      const f = this.bundle.full[L];
      if (!f) return { error: this.lacks(layer, what === "tile" ? `${c.r} token${c.r === 1 ? "" : "s"} per cell` : "single cells") };
      const q = (await this.get(`f${L}`, f.data)) as Uint8Array;
      const heads = c.heads as number[];
      const raw = (h: number, i: number, j: number) => {
        if (i >= this.n || j >= this.n) return 0;
        if (f.packing === "full") return SQRT_LUT[q[(h * this.n + i) * this.n + j]];
        if (j > i) return 0;
        return SQRT_LUT[q[(h * this.n * (this.n + 1)) / 2 + (i * (i + 1)) / 2 + j]];
      };
      // hide_first as the kernel and the 512-token views: key 0 reads 0, rows renormalised if asked.
      const hide = !!c.hide_first;
      const renormalise = hide && !!c.renormalise;
      const at = (h: number, i: number, j: number) => {
        if (!hide) return raw(h, i, j);
        if (j === 0) return 0;
        const rest = renormalise ? 1 - raw(h, i, 0) : 1;
        return rest > 1e-9 ? raw(h, i, j) / rest : raw(h, i, j);
      };
      if (what === "value") {
        const i = c.i as number;
        const j = c.j as number;
        let sum = 0;
        for (const h of heads) sum += at(h, i, j);
        return { layer, value: sum / heads.length };
      }
      const cells = c.cells as number;
      const r = c.r as number;
      const r0 = c.r0 as number;
      const c0 = c.c0 as number;
      const tile = new Float32Array(cells * cells);
      for (let y = 0; y < cells; y++) {
        for (let x = 0; x < cells; x++) {
          let v = 0;
          for (let di = 0; di < r; di++) {
            for (let dj = 0; dj < r; dj++) {
              const i = r0 + y * r + di;
              const j = c0 + x * r + dj;
              if (r === 1) {
                let s = 0;
                for (const h of heads) s += at(h, i, j);
                v = s / heads.length;
              } else for (const h of heads) v = Math.max(v, at(h, i, j));
            }
          }
          tile[y * cells + x] = v;
        }
      }
      return { layer, combine: r === 1 ? "mean" : "max", arrays: { tile: inline(tile, "float32") }, order: ["tile"] };
    }
    return { error: `unknown request ${what}` };
  }
}
