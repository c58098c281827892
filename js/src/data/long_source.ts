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
  data: Float32Array | null; // [cells, cells]; null: only the shades came (a batch's tile)
  /** sqrt-quantised weights (0..255), the colour ramp's index: what the view draws. */
  shade: Uint8Array;
}

/** A grid of tiles: which attention, `cells` a side at `r` tokens a cell. */
export interface TileGrid {
  layer: number;
  heads: number[];
  r: number;
  cells: number;
  hideFirst: boolean; // key 0 reads as 0
  renormalise: boolean; // with hideFirst: rows divided by their mass without key 0
}

/** What one batch of tiles did: tiles asked for, and those the kernel dropped (superseded). */
export interface TileBatch {
  asked: number;
  dropped: number;
}

/** The kernel dropped a tile of a batch superseded by a newer one. */
export class TileDropped extends Error {
  constructor() {
    super("tile dropped: a newer request superseded it");
    this.name = "AbortError";
  }
}

interface Waiting<V> {
  promise: Promise<V>;
  resolve(v: V): void;
  reject(err: Error): void;
  batch: number;
}

function deferred<V>(): Waiting<V> {
  let resolve!: (v: V) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<V>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  return { promise, resolve, reject, batch: 0 };
}

let sources = 0;

function gridParams(g: TileGrid) {
  return { layer: g.layer, heads: g.heads, cells: g.cells, r: g.r, hide_first: g.hideFirst, renormalise: g.renormalise };
}

/** A tile as drawn: its weights (if they came) and their sqrt shades, made once here. */
export function newTile(r0: number, c0: number, g: TileGrid, combine: Tile["combine"], data: Float32Array | Uint8Array): Tile {
  if (data instanceof Uint8Array) return { r0, c0, cells: g.cells, r: g.r, combine, data: null, shade: data };
  const shade = new Uint8Array(data.length);
  for (let k = 0; k < data.length; k++) shade[k] = Math.round(Math.sqrt(Math.min(1, Math.max(0, data[k]))) * 255);
  return { r0, c0, cells: g.cells, r: g.r, combine, data, shade };
}

function tileBytes(t: Tile): number {
  return (t.data?.byteLength ?? 0) + t.shade.byteLength;
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
  /** Tiles asked for in a batch and not yet in: the latest batch that asked for each. */
  private waiting = new Map<string, Waiting<Tile>>();
  private batch = 0;
  /** This source's name to the kernel: its newer batches supersede its older ones. */
  private readonly view = `v${++sources}`;

  constructor(private widgetModel: WidgetModel) {
    this.channel = new RequestChannel(widgetModel);
  }

  dispose() {
    this.channel.dispose();
    this.cache.clear();
    this.pending.clear();
    this.waiting.clear();
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

  tileKey(g: TileGrid, ty: number, tx: number) {
    return `${this.kind}|t|${g.layer}|${g.heads}|${g.r}|${ty}|${tx}|${g.cells}|${g.hideFirst ? 1 : 0}${g.renormalise ? 1 : 0}`;
  }

  /** Tile (ty, tx) of the grid `g`, in a request of its own (one batch of one shares it). */
  tile(g: TileGrid, ty: number, tx: number): Promise<Tile> {
    const key = this.tileKey(g, ty, tx);
    const waiting = this.waiting.get(key);
    if (waiting) return waiting.promise;
    return this.once(key, async () => {
      const r0 = ty * g.cells * g.r;
      const c0 = tx * g.cells * g.r;
      const reply = await this.channel.request("tile", { ...gridParams(g), r0, c0 });
      const { tile } = await replyArrays(reply);
      const value = newTile(r0, c0, g, reply.content.combine, tile as Float32Array);
      return { value, bytes: tileBytes(value) };
    });
  }

  /** Tiles asked for in batches and not yet in. */
  get waitingTiles(): number {
    return this.waiting.size;
  }

  /** Whether tile (ty, tx) is cached, or asked for by the latest batch (it comes with that reply). */
  coming(g: TileGrid, ty: number, tx: number): boolean {
    const key = this.tileKey(g, ty, tx);
    return this.cache.get(key) !== undefined || this.waiting.get(key)?.batch === this.batch;
  }

  /**
   * The tiles `at` of grid `g` not cached, in one request, answered in one reply (the kernel
   * computes them in parallel). A batch supersedes this source's earlier ones: the kernel
   * drops their tiles that have not started, so a tile one of them still waits for is asked
   * again here (the kernel computes a tile both ask for once). Resolves when the reply is
   * in: its tiles cached, those it dropped forgotten (ask again if still needed).
   */
  async tiles(g: TileGrid, at: [number, number][], options: { prefetch?: boolean } = {}): Promise<TileBatch> {
    const asked = at.filter(([ty, tx]) => this.cache.get(this.tileKey(g, ty, tx)) === undefined);
    if (!asked.length) return { asked: 0, dropped: 0 };
    const batch = ++this.batch;
    for (const [ty, tx] of asked) {
      const key = this.tileKey(g, ty, tx);
      const w = this.waiting.get(key) ?? deferred<Tile>();
      w.promise.catch(() => {}); // nobody need wait on a single tile
      w.batch = batch;
      this.waiting.set(key, w);
    }
    const side = g.cells * g.r;
    const corners = asked.map(([ty, tx]) => [ty * side, tx * side]);
    // A tile that came settles whoever waits; a failure only the waiters this batch still owns.
    const settle = (corner: number[], fn: (w: Waiting<Tile>) => void, mineOnly = true) => {
      const key = this.tileKey(g, corner[0] / side, corner[1] / side);
      const w = this.waiting.get(key);
      if (w && (!mineOnly || w.batch === batch)) {
        this.waiting.delete(key);
        fn(w);
      }
    };
    let reply: Reply;
    try {
      // shade: tiles come as the sqrt shades drawn (gzipped, a tenth of float32's bytes); a
      // hovered cell's exact weight is asked for on its own (value).
      const params = { ...gridParams(g), tiles: corners, view: this.view, prefetch: !!options.prefetch, shade: true };
      reply = await this.channel.request("tiles", params);
    } catch (err) {
      for (const c of corners) settle(c, (w) => w.reject(err as Error));
      throw err;
    }
    const arrays = await replyArrays(reply);
    const got = reply.content.tiles as number[][];
    got.forEach(([r0, c0], k) => {
      const value = newTile(r0, c0, g, reply.content.combine, arrays[`t${k}`] as Float32Array | Uint8Array);
      this.cache.set(this.tileKey(g, r0 / side, c0 / side), value, tileBytes(value));
      settle([r0, c0], (w) => w.resolve(value), false);
    });
    const dropped = reply.content.dropped as number[][];
    for (const c of dropped) settle(c, (w) => w.reject(new TileDropped()));
    return { asked: asked.length, dropped: dropped.length };
  }

  /** One cell's exact weight (mean of `heads`). */
  value(layer: number, heads: number[], i: number, j: number, hideFirst = false, renormalise = false): Promise<number> {
    return this.once(`${this.kind}|v|${layer}|${heads}|${i}|${j}|${hideFirst ? 1 : 0}${renormalise ? 1 : 0}`, async () => {
      const reply = await this.channel.request("value", { layer, heads, i, j, hide_first: hideFirst, renormalise });
      return { value: reply.content.value as number, bytes: 64 };
    });
  }
}
