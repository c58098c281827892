// Where attention comes from: the current layer arrives in the synced
// `_layer_data` trait (the kernel updates it when `layer` changes); model-view
// thumbnails and the neuron view's vectors are fetched on demand with a
// request (data/protocol.ts). An encoder-decoder input has three
// attentions (`_meta.kind`): everything is cached per kind.

import type { WidgetModel } from "../host/widget_model";
import { ByteCache } from "./byte_cache";
import type { EncodedArray } from "./codec";
import { decoder } from "./decoder";
import { isLayerInfo } from "./long_source";
import { decodeNeuronHead, type NeuronHead, type NeuronPayload } from "./neuron_head";
import { RequestChannel } from "./protocol";
import { bytesOf, type LayerMatrix } from "./transform";

export interface LayerPayload {
  layer: number;
  kind?: string; // "self" when absent
  heads: number;
  size: number; // tokens (rows)
  cols?: number; // key tokens, when not `size` (cross-attention)
  packing: "tril" | "full";
  data: EncodedArray;
}

/** Block-max thumbnails of every layer x head (the model view), decoded. */
export interface Thumbnails {
  layers: number;
  heads: number;
  size: number; // S: each thumbnail is S x S
  blocks: number; // tokens per thumbnail pixel
  data: Uint8Array; // sqrt-quantised [layers, heads, S, S]
}

const keyOf = (kind: string | undefined, layer: number) => `${kind ?? "self"}|${layer}`;
const KEEP_NEURON_HEADS = 8;

/** Bytes of decoded layers kept for quick switching back (uint8 planes: 12.6 MB per 12 x 1,024² layer). */
export const LAYER_BYTES = 64 * 1024 * 1024;

export class AttentionSource {
  /** Decoded layers (uint8 planes), least recently used dropped first. */
  private layers: ByteCache<Promise<LayerMatrix>>;
  /** Layers being decoded (their size is known once they are). */
  private decoding = new Map<string, Promise<LayerMatrix>>();
  private waiting = new Map<string, ((m: Promise<LayerMatrix>) => void)[]>();
  private neuronHeads = new Map<string, Promise<NeuronHead>>();
  private channel: RequestChannel;
  private thumbs = new Map<string, Promise<Thumbnails>>();
  private onData = () => this.accept(this.widgetModel.get("_layer_data"));

  constructor(
    private widgetModel: WidgetModel,
    layerBytes = LAYER_BYTES,
  ) {
    this.layers = new ByteCache(layerBytes);
    widgetModel.on("change:_layer_data", this.onData);
    this.channel = new RequestChannel(widgetModel);
  }

  /** Stop listening and drop every decoded array; requests still on their way are never answered. */
  dispose() {
    this.widgetModel.off("change:_layer_data", this.onData);
    this.channel.dispose();
    for (const cache of [this.layers, this.decoding, this.waiting, this.neuronHeads, this.thumbs, this.prefetching]) cache.clear();
  }

  /** The attention shown (`_meta.kind`): "self" unless the input is encoder-decoder. */
  private get kind(): string {
    return this.widgetModel.get("_meta")?.kind ?? "self";
  }

  /** Decoded attention of layer `l`, uint8 planes [heads, T, T]; resolves when the kernel has sent it. */
  layer(l: number): Promise<LayerMatrix> {
    const key = keyOf(this.kind, l);
    const cached = this.layers.get(key) ?? this.decoding.get(key);
    if (cached) return cached;
    const current = this.widgetModel.get("_layer_data") as LayerPayload | null;
    if (current && keyOf(current.kind, current.layer) === key) return this.accept(current)!;
    const viaTrait = new Promise<LayerMatrix>((resolve) => {
      const list = this.waiting.get(key) ?? [];
      list.push((p) => p.then(resolve));
      this.waiting.set(key, list);
    });
    // A prefetch in flight may answer first; a host that ignores prefetches never blocks this.
    const early = this.prefetching.get(key);
    return early ? Promise.race([viaTrait, early.catch(() => viaTrait)]) : viaTrait;
  }

  /**
   * Fetch layer `l` ahead of need with a request (custom message), without changing the
   * synced layer. Rejects if the host answers with an error; hosts that do not answer
   * prefetches simply leave it pending.
   */
  prefetch(l: number): Promise<LayerMatrix> {
    const key = keyOf(this.kind, l);
    const known = this.layers.get(key) ?? this.decoding.get(key) ?? this.prefetching.get(key);
    if (known) return known;
    const fetched = this.channel.request("layer", { layer: l }).then(({ content, buffers }) => {
      if (!content.payload) throw new Error(`layer ${l} not available`);
      const data = content.payload.data;
      return this.accept({ ...content.payload, data: { ...data, buffer: data.buffer ?? buffers[0] } })!;
    });
    this.prefetching.set(key, fetched);
    const forget = () => this.prefetching.delete(key);
    fetched.then(forget, forget);
    return fetched;
  }
  private prefetching = new Map<string, Promise<LayerMatrix>>();

  /** True when layer `l` is decoded or decoding (no wait on the kernel). */
  has(l: number): boolean {
    const key = keyOf(this.kind, l);
    return this.layers.get(key) !== undefined || this.decoding.has(key);
  }

  /** Whether `bytes` more of decoded layers fit without dropping any held. */
  hasRoomFor(bytes: number): boolean {
    return this.layers.bytes + bytes <= this.layers.limit;
  }

  /** Bytes of decoded layers held. */
  get layerBytes(): number {
    return this.layers.bytes;
  }

  private accept(payload: LayerPayload | null): Promise<LayerMatrix> | null {
    if (!payload || isLayerInfo(payload)) return null; // a long input's layer is asked for in pieces (long_source.ts)
    const key = keyOf(payload.kind, payload.layer);
    const existing = this.layers.get(key) ?? this.decoding.get(key);
    if (existing) return existing;
    const cols = payload.cols ?? payload.size;
    const { heads, size: n, packing } = payload;
    // Inflated and unpacked in the decode worker; the layer stays uint8 (weights read through SQRT_LUT).
    const job = { enc: payload.data, planes: { heads, rows: n, cols, packing } };
    const decoded = decoder()
      .decode(job)
      .then(({ data }): LayerMatrix => ({ heads, n, cols, data: data as Uint8Array }));
    this.decoding.set(key, decoded);
    decoded.then(
      (m) => {
        if (this.decoding.get(key) !== decoded) return; // disposed meanwhile
        this.decoding.delete(key);
        this.layers.set(key, decoded, bytesOf(m));
      },
      () => this.decoding.delete(key),
    );
    for (const wake of this.waiting.get(key) ?? []) wake(decoded);
    this.waiting.delete(key);
    return decoded;
  }

  /**
   * One head's query and key vectors for every query token (neuron view), fetched once
   * per (kind, layer, head). Rejects with the host's reason when it cannot give them.
   */
  neuron(layer: number, head: number): Promise<NeuronHead> {
    const kind = this.kind;
    const key = `${kind}|${layer}|${head}`;
    let p = this.neuronHeads.get(key);
    if (!p) {
      p = this.channel.request("neuron", { attention: kind, layer, head }).then(({ content, buffers }) => {
        if (!content.neuron) throw new Error("no neuron data");
        return decodeNeuronHead(content.neuron as NeuronPayload, buffers);
      });
      p.catch(() => {}); // a refusal is kept too: asking again would rerun the model for nothing
      this.neuronHeads.set(key, p);
      while (this.neuronHeads.size > KEEP_NEURON_HEADS) this.neuronHeads.delete(this.neuronHeads.keys().next().value!);
    }
    return p;
  }

  /** Downsampled thumbnails of every layer x head (model view). */
  thumbnails(hideFirst: boolean): Promise<Thumbnails> {
    const key = `${this.kind}|${hideFirst}`;
    let t = this.thumbs.get(key);
    if (!t) {
      t = this.channel.request("thumbnails", { hide_first: hideFirst }).then(async ({ content, buffers }) => {
        const meta = content.thumbnails;
        const { data } = await decoder().decode({ enc: { ...meta.data, buffer: buffers[0] } });
        return { layers: meta.layers, heads: meta.heads, size: meta.size, blocks: meta.blocks, data: data as Uint8Array };
      });
      this.thumbs.set(key, t);
    }
    return t;
  }
}
