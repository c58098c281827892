// A kernel-less stand-in for the widget model, used by exported HTML files.
// It holds the traits, answers `layer` (and `attention_kind`) changes with the
// embedded data, as the kernel does, and replies to thumbnail and neuron-view
// requests from embedded data; a neuron head the file lacks gets the file's note.
// A layer the file lacks goes unanswered: the view switches on the trait instead.

import type { LayerPayload } from "../data/attention_source";
import { type EncodedArray, toBytes } from "../data/codec";
import type { Meta } from "../data/meta";
import type { NeuronPayload } from "../data/neuron_head";
import type { RequestMessage } from "../data/protocol";
import { LocalWidgetModel } from "./local_widget_model";
import { type LongBundle, StaticLong } from "./static_long";

type ThumbnailBundle = Record<"plain" | "hide_first", { layers: number; heads: number; size: number; blocks: number; data: EncodedArray }>;

export interface StaticBundle {
  state: Record<string, unknown>;
  layers: LayerPayload[];
  thumbnails: ThumbnailBundle;
  /** The other attentions of an encoder-decoder input. */
  kinds?: Record<string, { meta: Meta; layers: LayerPayload[]; thumbnails: ThumbnailBundle }>;
  /** Neuron-view heads carried by the file, and what it says about the rest. */
  neuron?: { heads: (NeuronPayload & { attention: string })[]; note: string };
  /** A long input's summaries within the file's byte budget (its layers are then descriptions). */
  long?: LongBundle;
}

export class StaticWidgetModel extends LocalWidgetModel {
  private kinds: Record<string, { meta: Meta; layers: LayerPayload[]; thumbnails: ThumbnailBundle }>;
  private long: StaticLong | null = null;

  constructor(private bundle: StaticBundle) {
    super(bundle.state);
    this.state._layer_data = bundle.layers[this.state.layer as number];
    const first = (this.state.attention_kind as string) ?? "self";
    this.kinds = { ...bundle.kinds, [first]: { meta: this.state._meta as Meta, layers: bundle.layers, thumbnails: bundle.thumbnails } };
    const meta = this.state._meta as Meta;
    if (bundle.long) this.long = new StaticLong(bundle.long, meta.num_tokens, meta.num_heads);
  }

  private get current() {
    return this.kinds[(this.state.attention_kind as string) ?? "self"] ?? this.kinds[Object.keys(this.kinds)[0]];
  }

  set(name: string, value: unknown) {
    if (JSON.stringify(this.state[name]) === JSON.stringify(value)) return;
    this.state[name] = value;
    if (name === "attention_kind") {
      // As the kernel does: the new tokens and their layer arrive together with the kind.
      const kind = this.current;
      this.state.token = null;
      if (this.state.level === "word" && !kind.meta.levels.word) this.state.level = "token";
      this.state._meta = kind.meta;
      this.state._layer_data = kind.layers[Math.min(this.state.layer as number, kind.layers.length - 1)];
      for (const n of ["attention_kind", "token", "level", "_meta", "_layer_data"]) this.emit(`change:${n}`, this.state[n]);
      return;
    }
    this.emit(`change:${name}`, value);
    if (name === "layer") this.set("_layer_data", this.current.layers[value as number]);
  }

  protected answer(content: RequestMessage) {
    let reply: Record<string, unknown>;
    let encoded: EncodedArray;
    if (content.what === "neuron") return this.replyNeuron(content);
    if (["overview", "rows", "tile", "tiles", "value"].includes(content.what)) {
      const long = this.long;
      if (!long) return this.reply(content, { error: "this file carries whole layers; it has no summaries to answer from" });
      void long.answer(content.what, content).then((body) => this.reply(content, body));
      return;
    }
    const kind = this.current;
    if (content.what === "thumbnails") {
      const t = kind.thumbnails[content.hide_first ? "hide_first" : "plain"];
      encoded = t.data;
      reply = { thumbnails: { ...t, data: { ...t.data, buffer: null } } };
    } else if (content.what === "layer" && kind.layers[content.layer as number]) {
      // The layer as the file holds it (base64 text): the decode worker reads it, not this thread.
      return this.reply(content, { payload: kind.layers[content.layer as number] });
    } else return;
    const bytes = toBytes(encoded.buffer);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.reply(content, reply, [view]);
  }

  /** A head the file carries (its arrays inline, no binary parts), or the file's note. */
  private replyNeuron(content: RequestMessage) {
    const n = this.bundle.neuron;
    const found = n?.heads.find((h) => h.attention === content.attention && h.layer === content.layer && h.head === content.head);
    const reply = found ? { neuron: found } : { error: n?.note ?? "this file carries no neuron-view vectors" };
    this.reply(content, reply);
  }
}
