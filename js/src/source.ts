// Where attention comes from: the current layer arrives in the synced
// `_layer_data` trait (the kernel updates it when `layer` changes); model-view
// thumbnails are fetched on demand with a request/reply over custom messages.

import { decodeArray, type EncodedArray } from "./codec";
import { unpackLayer } from "./codec";
import { REPLY, REQUEST, type WidgetModel } from "./model";
import type { Thumbnails } from "./modelview";
import type { LayerMatrix } from "./transform";

export interface LayerPayload {
  layer: number;
  heads: number;
  size: number; // tokens
  packing: "tril" | "full";
  data: EncodedArray;
}

const KEEP_LAYERS = 6; // decoded layers kept for quick switching back

export class AttentionSource {
  private layers = new Map<number, Promise<LayerMatrix>>();
  private waiting = new Map<number, ((m: Promise<LayerMatrix>) => void)[]>();
  private pending = new Map<number, (reply: { content: any; buffers: DataView[] }) => void>();
  private nextId = 1;
  private thumbs = new Map<string, Promise<Thumbnails>>();
  private onData = () => this.accept(this.model.get("_layer_data"));
  private onMessage = (content: any, buffers: DataView[] = []) => {
    if (content?.kind !== REPLY) return;
    const resolve = this.pending.get(content.id);
    if (!resolve) return;
    this.pending.delete(content.id);
    resolve({ content, buffers });
  };

  constructor(private model: WidgetModel) {
    model.on("change:_layer_data", this.onData);
    model.on("msg:custom", this.onMessage);
  }

  dispose() {
    this.model.off("change:_layer_data", this.onData);
    this.model.off("msg:custom", this.onMessage);
  }

  /** Decoded attention of layer `l`, float32 [heads, T, T]; resolves when the kernel has sent it. */
  layer(l: number): Promise<LayerMatrix> {
    const cached = this.layers.get(l);
    if (cached) return cached;
    const current = this.model.get("_layer_data") as LayerPayload | null;
    if (current && current.layer === l) return this.accept(current)!;
    const viaTrait = new Promise<LayerMatrix>((resolve) => {
      const list = this.waiting.get(l) ?? [];
      list.push((p) => p.then(resolve));
      this.waiting.set(l, list);
    });
    // A prefetch in flight may answer first; a host that ignores prefetches never blocks this.
    const early = this.prefetching.get(l);
    return early ? Promise.race([viaTrait, early.catch(() => viaTrait)]) : viaTrait;
  }

  /**
   * Fetch layer `l` ahead of need with a request (custom message), without changing the
   * synced layer. Rejects if the host answers with an error; hosts that do not answer
   * prefetches simply leave it pending.
   */
  prefetch(l: number): Promise<LayerMatrix> {
    const known = this.layers.get(l) ?? this.prefetching.get(l);
    if (known) return known;
    const fetched = this.request("layer", { layer: l }).then(({ content, buffers }) => {
      if (!content.payload) throw new Error(content.error ?? `layer ${l} not available`);
      return this.accept({ ...content.payload, data: { ...content.payload.data, buffer: buffers[0] } })!;
    });
    this.prefetching.set(l, fetched);
    const forget = () => this.prefetching.delete(l);
    fetched.then(forget, forget);
    return fetched;
  }
  private prefetching = new Map<number, Promise<LayerMatrix>>();

  /** True when layer `l` is decoded or decoding (no wait on the kernel). */
  has(l: number): boolean {
    return this.layers.has(l);
  }

  private accept(payload: LayerPayload | null): Promise<LayerMatrix> | null {
    if (!payload) return null;
    const existing = this.layers.get(payload.layer);
    if (existing) return existing;
    const decoded = decodeArray(payload.data).then(({ data }) => ({
      heads: payload.heads,
      n: payload.size,
      data: unpackLayer(data as Uint8Array, payload.heads, payload.size, payload.packing),
    }));
    this.layers.set(payload.layer, decoded);
    while (this.layers.size > KEEP_LAYERS) this.layers.delete(this.layers.keys().next().value!);
    for (const wake of this.waiting.get(payload.layer) ?? []) wake(decoded);
    this.waiting.delete(payload.layer);
    return decoded;
  }

  /** Send a request to the kernel (or the static model) and await its reply. */
  request(what: string, params: Record<string, unknown> = {}): Promise<{ content: any; buffers: DataView[] }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.model.send({ kind: REQUEST, id, what, ...params });
    });
  }

  /** Downsampled thumbnails of every layer x head (model view). */
  thumbnails(hideFirst: boolean): Promise<Thumbnails> {
    const key = String(hideFirst);
    let t = this.thumbs.get(key);
    if (!t) {
      t = this.request("thumbnails", { hide_first: hideFirst }).then(async ({ content, buffers }) => {
        const meta = content.thumbnails;
        const { data } = await decodeArray({ ...meta.data, buffer: buffers[0] });
        return { layers: meta.layers, heads: meta.heads, size: meta.size, blocks: meta.blocks, data: data as Uint8Array };
      });
      this.thumbs.set(key, t);
    }
    return t;
  }
}
