// The widget model behind the explorer's embedded AttentionWidget: one exemplar
// sentence. It plays the kernel's part for the widget's app (js/src/views/attention_app.ts):
// a `layer` change is answered with that layer's data, from the page (static
// export) or fetched from the kernel. A layer the page lacks and no kernel can
// give is refused: the trait springs back and `refused` says which.

import type { LayerPayload } from "../../data/attention_source";
import { toBytes } from "../../data/codec";
import type { Meta } from "../../data/meta";
import { type Reply, type RequestMessage, replyBody, requestParams } from "../../data/protocol";
import { LocalWidgetModel } from "../../host/local_widget_model";

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
    return Object.keys(this.bundle.layers)
      .map(Number)
      .sort((a, b) => a - b);
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

  protected answer(request: RequestMessage) {
    if (request.what !== "layer") {
      if (!this.fetcher) return; // the page has no kernel: views that need one say so themselves
      void this.fetcher.ask(request.what, requestParams(request)).then(
        ({ content, buffers }) => this.reply(request, replyBody(content), buffers),
        (err: Error) => this.reply(request, { error: err.message }),
      );
      return;
    }
    // The app prefetches neighbouring layers: answer from the page or the kernel, else say no at once.
    const layer = request.layer as number;
    const payload = this.payload(layer);
    if (!payload) return this.reply(request, { error: `layer ${layer} is not in this file` });
    void payload.then(
      (p) => {
        const bytes = toBytes(p.data.buffer);
        this.reply(request, { payload: { ...p, data: { ...p.data, buffer: null } } }, [
          new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        ]);
      },
      (err: Error) => this.reply(request, { error: err.message }),
    );
  }
}
