// The model behind the explorer's embedded AttentionWidget: one exemplar
// sentence. It plays the kernel's part for the widget's app (js/src/views/attention_app.ts):
// a `layer` change is answered with that layer's data, from the page (static
// export) or fetched from the kernel. A layer the page lacks and no kernel can
// give is refused: the trait springs back and `refused` says which.

import { toBytes } from "../../data/codec";
import { REPLY, REQUEST } from "../../host/widget_model";
import type { Meta } from "../../data/meta";
import type { LayerPayload } from "../../data/attention_source";
import { LocalWidgetModel } from "../../host/local_widget_model";
import type { Reply } from "../../data/protocol";

export interface SentenceBundle {
  meta: Meta;
  layers: Record<string, LayerPayload>;
}

/** Where layers missing from the bundle, thumbnails and query/key vectors come from (the kernel), if anywhere. */
export interface Fetcher {
  layer(layer: number): Promise<LayerPayload>;
  /** Any other request of the widget's app, asked about this sentence; rejects with the kernel's error. */
  ask(what: string, params: Record<string, unknown>): Promise<Reply>;
}

export class SentenceWidgetModel extends LocalWidgetModel {
  constructor(
    private bundle: SentenceBundle,
    traits: Record<string, unknown>,
    private fetcher: Fetcher | null,
    private refused: (layer: number) => void = () => {},
  ) {
    super({ ...traits, _meta: bundle.meta, _layer_data: bundle.layers[String(traits.layer)] ?? null });
  }

  /** Layers this sentence can show without a kernel. */
  get availableLayers(): number[] {
    return Object.keys(this.bundle.layers).map(Number).sort((a, b) => a - b);
  }

  set(name: string, value: unknown) {
    if (name !== "layer") return super.set(name, value);
    const layer = value as number;
    const have = this.bundle.layers[String(layer)];
    if (!have && !this.fetcher) {
      this.refused(layer);
      this.emit("change:layer", this.state.layer); // the app re-reads traits: the selector springs back
      return;
    }
    super.set("layer", layer);
    if (have) super.set("_layer_data", have);
    else
      void this.payload(layer)!.then((payload) => {
        if (this.state.layer === layer) super.set("_layer_data", payload);
      });
  }

  private fetching = new Map<number, Promise<LayerPayload>>();

  /** A layer from the page, or fetched once from the kernel; null when neither has it. */
  private payload(layer: number): Promise<LayerPayload> | null {
    const have = this.bundle.layers[String(layer)];
    if (have) return Promise.resolve(have);
    if (!this.fetcher) return null;
    let p = this.fetching.get(layer);
    if (!p) {
      p = this.fetcher.layer(layer).then((payload) => (this.bundle.layers[String(layer)] = payload));
      this.fetching.set(layer, p);
    }
    return p;
  }

  send(content: any) { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (content?.kind !== REQUEST) return;
    const reply = (body: Record<string, unknown>, buffers: DataView[] = []) =>
      this.emit("msg:custom", { kind: REPLY, id: content.id, ...body }, buffers);
    if (content.what !== "layer") {
      if (!this.fetcher) return; // the page has no kernel: views that need one say so themselves
      const { kind: _k, id: _i, what, ...params } = content;
      void this.fetcher.ask(what, params).then(
        ({ content: r, buffers }) => {
          const { kind: _rk, id: _ri, ...body } = r;
          reply(body, buffers);
        },
        (err: Error) => reply({ error: err.message }),
      );
    } else {
      // The app prefetches neighbouring layers: answer from the page or the kernel, else say no at once.
      const layer = content.layer as number;
      const payload = this.payload(layer);
      if (!payload) {
        setTimeout(() => reply({ error: `layer ${layer} is not in this file` }), 0);
        return;
      }
      void payload.then((p) => {
        const bytes = toBytes(p.data.buffer);
        reply({ payload: { ...p, data: { ...p.data, buffer: null } } }, [new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
      });
    }
  }
}
