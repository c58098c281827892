// A long input's attention, asked for piece by piece (attnwidget/widget/long_payload.py is the
// kernel's half): the layer's max-pooled overview, rows of each row's strongest keys,
// tiles of the matrix at some tokens per cell, and single values. Nothing the size of
// a whole layer is ever held: everything decoded stays in one cache bounded in bytes.
// Arrays stay compact (uint8 overviews, uint16 key indices); gzip is inflated in the
// decode worker (data/decoder.ts), off the main thread.

import type { WidgetModel } from "../host/widget_model";
import { ByteCache } from "./byte_cache";
import type { EncodedArray, TypedArray } from "./codec";
import { decoder } from "./decoder";
import { type Reply, RequestChannel } from "./protocol";

/** The synced `_layer_data` of a long input: what the layer is, not its weights. */
export interface LayerInfo {
  layer: number;
  kind?: string;
  heads: number;
  size: number;
  cols?: number;
  packing: "summary";
  block: number; // tokens per overview cell
  cells: number; // overview cells a side
  top_k: number;
}

export interface Overview {
  layer: number;
  heads: number;
  cells: number;
  block: number;
  data: Uint8Array; // sqrt-quantised [heads, cells, cells]
}

/** Rows r0..r1 of some heads: each row's k strongest keys, strongest first. */
export interface RowBlock {
  r0: number;
  r1: number;
  heads: number[];
  k: number;
  top: Uint16Array | Int32Array; // [heads, rows, k]; 65535 (uint16) or -1 = no key
  weights: Float32Array; // [heads, rows, k]
  covered: Float32Array; // [heads, rows]: the share of the row's mass the k keys hold
  first: Float32Array; // [heads, rows]: the weight on key 0
}

export interface Tile {
  r0: number;
  c0: number;
  cells: number;
  r: number; // tokens per cell: 1 = exact weights
  combine: "mean" | "max"; // how several heads were joined
  data: Float32Array; // [cells, cells]
}

/** Rows are fetched and kept in chunks of this many. */
export const ROW_CHUNK = 64;
/** Bytes of decoded overviews, rows and tiles kept (the least recently used go first). */
export const CACHE_BYTES = 96 * 1024 * 1024;

export function isLayerInfo(payload: unknown): payload is LayerInfo {
  return (payload as LayerInfo | null)?.packing === "summary";
}

/** The named arrays of a reply (`order` names the binary parts). */
export async function replyArrays(reply: Reply): Promise<Record<string, TypedArray>> {
  const { content, buffers } = reply;
  const out: Record<string, TypedArray> = {};
  const order = content.order as string[];
  await Promise.all(
    order.map(async (name, k) => {
      const enc = content.arrays[name] as EncodedArray;
      out[name] = (await decoder().decode({ enc: { ...enc, buffer: enc.buffer ?? buffers[k] } })).data;
    }),
  );
  return out;
}

export class LongSource {
  private channel: RequestChannel;
  private cache = new ByteCache<unknown>(CACHE_BYTES);
  private pending = new Map<string, Promise<unknown>>();

  constructor(private widgetModel: WidgetModel) {
    this.channel = new RequestChannel(widgetModel);
  }

  dispose() {
    this.channel.dispose();
    this.cache.clear();
    this.pending.clear();
  }

  get cachedBytes(): number {
    return this.cache.bytes;
  }

  private get kind(): string {
    return this.widgetModel.get("_meta")?.kind ?? "self";
  }

  /** Cached value or one request for it (concurrent askers share the request). */
  private once<V>(key: string, make: () => Promise<{ value: V; bytes: number }>): Promise<V> {
    const hit = this.cache.get(key) as V | undefined;
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.pending.get(key) as Promise<V> | undefined;
    if (!p) {
      p = make().then(({ value, bytes }) => {
        this.cache.set(key, value, bytes);
        return value;
      });
      this.pending.set(key, p);
      const forget = () => this.pending.delete(key);
      p.then(forget, forget);
    }
    return p;
  }

  peek<V>(key: string): V | undefined {
    return this.cache.get(key) as V | undefined;
  }

  overviewKey(layer: number, hideFirst: boolean) {
    return `${this.kind}|o|${layer}|${hideFirst}`;
  }

  overview(layer: number, hideFirst: boolean): Promise<Overview> {
    return this.once(this.overviewKey(layer, hideFirst), async () => {
      const reply = await this.channel.request("overview", { layer, hide_first: hideFirst });
      const { overview } = await replyArrays(reply);
      const c = reply.content;
      const heads = overview.length / (c.cells * c.cells);
      return { value: { layer, heads, cells: c.cells, block: c.block, data: overview as Uint8Array }, bytes: overview.byteLength };
    });
  }

  rowKey(layer: number, heads: number[], chunk: number) {
    return `${this.kind}|r|${layer}|${heads}|${chunk}`;
  }

  /** The chunk of rows holding row `row`, fetched once per (layer, heads). */
  rowChunk(layer: number, heads: number[], chunk: number, n: number): Promise<RowBlock> {
    return this.once(this.rowKey(layer, heads, chunk), async () => {
      const r0 = chunk * ROW_CHUNK;
      const r1 = Math.min(n, r0 + ROW_CHUNK);
      const reply = await this.channel.request("rows", { layer, heads, r0, r1 });
      const a = await replyArrays(reply);
      const k = a.weights.length / (heads.length * (r1 - r0));
      const value: RowBlock = {
        r0,
        r1,
        heads,
        k,
        top: a.top as Uint16Array | Int32Array,
        weights: a.weights as Float32Array,
        covered: a.covered as Float32Array,
        first: a.first as Float32Array,
      };
      const bytes = a.top.byteLength + a.weights.byteLength + a.covered.byteLength + a.first.byteLength;
      return { value, bytes };
    });
  }

  tileKey(layer: number, heads: number[], r: number, ty: number, tx: number, cells: number) {
    return `${this.kind}|t|${layer}|${heads}|${r}|${ty}|${tx}|${cells}`;
  }

  /** Tile (ty, tx) of the grid at `r` tokens per cell, `cells` a side. */
  tile(layer: number, heads: number[], r: number, ty: number, tx: number, cells: number): Promise<Tile> {
    return this.once(this.tileKey(layer, heads, r, ty, tx, cells), async () => {
      const r0 = ty * cells * r;
      const c0 = tx * cells * r;
      const reply = await this.channel.request("tile", { layer, heads, r0, c0, cells, r });
      const { tile } = await replyArrays(reply);
      const value: Tile = { r0, c0, cells, r, combine: reply.content.combine, data: tile as Float32Array };
      return { value, bytes: tile.byteLength };
    });
  }

  /** One cell's exact weight (mean of `heads`). */
  value(layer: number, heads: number[], i: number, j: number): Promise<number> {
    return this.once(`${this.kind}|v|${layer}|${heads}|${i}|${j}`, async () => {
      const reply = await this.channel.request("value", { layer, heads, i, j });
      return { value: reply.content.value as number, bytes: 64 };
    });
  }
}
