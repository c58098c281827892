// The model behind the explorer's embedded AttentionWidget: one exemplar
// sentence. It plays the kernel's part for the widget's app (js/src/app.ts):
// a `layer` change is answered with that layer's data, from the page (static
// export) or fetched from the kernel. A layer the page lacks and no kernel can
// give is refused: the trait springs back and `refused` says which.

import { REPLY, REQUEST } from "../model";
import type { Meta } from "../meta";
import type { LayerPayload } from "../source";
import { LocalModel } from "./localmodel";
import type { Reply } from "./requests";

export interface SentenceBundle {
  meta: Meta;
  layers: Record<string, LayerPayload>;
}

/** Where layers and thumbnails missing from the bundle come from (the kernel), if anywhere. */
export interface Fetcher {
  layer(layer: number): Promise<LayerPayload>;
  thumbnails(hideFirst: boolean): Promise<Reply>;
}

export class SentenceModel extends LocalModel {
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
      void this.fetcher!.layer(layer).then((payload) => {
        this.bundle.layers[String(layer)] = payload;
        if (this.state.layer === layer) super.set("_layer_data", payload);
      });
  }

  send(content: any) { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (content?.kind !== REQUEST || content.what !== "thumbnails" || !this.fetcher) return;
    void this.fetcher.thumbnails(Boolean(content.hide_first)).then(({ content: reply, buffers }) => {
      this.emit("msg:custom", { kind: REPLY, id: content.id, thumbnails: reply.thumbnails }, buffers);
    });
  }
}
