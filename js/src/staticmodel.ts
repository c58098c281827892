// A kernel-less stand-in for the widget model, used by exported HTML files.
// It holds the traits, answers `layer` changes with that layer's embedded data
// (as the kernel does) and replies to thumbnail requests from embedded data.

import { toBytes, type EncodedArray } from "./codec";
import { REPLY, REQUEST, type Callback, type WidgetModel } from "./model";
import type { LayerPayload } from "./source";

export interface StaticBundle {
  state: Record<string, unknown>;
  layers: LayerPayload[];
  thumbnails: Record<"plain" | "hide_first", { layers: number; heads: number; size: number; blocks: number; data: EncodedArray }>;
}

export class StaticModel implements WidgetModel {
  private state: Record<string, unknown>;
  private handlers = new Map<string, Set<Callback>>();

  constructor(private bundle: StaticBundle) {
    this.state = { ...bundle.state };
    this.state._layer_data = bundle.layers[this.state.layer as number];
  }

  get(name: string) {
    return this.state[name];
  }

  set(name: string, value: unknown) {
    if (JSON.stringify(this.state[name]) === JSON.stringify(value)) return;
    this.state[name] = value;
    this.emit(`change:${name}`, value);
    if (name === "layer") this.set("_layer_data", this.bundle.layers[value as number]);
  }

  save_changes() {}

  on(event: string, cb: Callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Callback | null) {
    if (!event) this.handlers.clear();
    else if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }

  send(content: any) {
    if (content?.kind !== REQUEST) return;
    let reply: Record<string, unknown>;
    let encoded: EncodedArray;
    if (content.what === "thumbnails") {
      const t = this.bundle.thumbnails[content.hide_first ? "hide_first" : "plain"];
      encoded = t.data;
      reply = { thumbnails: { ...t, data: { ...t.data, buffer: null } } };
    } else if (content.what === "layer" && this.bundle.layers[content.layer]) {
      const p = this.bundle.layers[content.layer];
      encoded = p.data;
      reply = { payload: { ...p, data: { ...p.data, buffer: null } } };
    } else return;
    const bytes = toBytes(encoded.buffer);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    setTimeout(() => this.emit("msg:custom", { kind: REPLY, id: content.id, ...reply }, [view]), 0);
  }

  private emit(event: string, ...args: unknown[]) {
    for (const cb of this.handlers.get(event) ?? []) cb(...args);
  }
}
