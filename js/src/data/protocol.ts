// Request/reply with the kernel over the explorer's custom messages
// (attnwidget/explorer.py answers "sentence", "layer" and "thumbnails").

import { REPLY, REQUEST, type WidgetModel } from "../host/widget_model";

export interface Reply {
  content: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  buffers: DataView[];
}

export class Requests {
  private pending = new Map<number, (r: Reply) => void>();
  private nextId = 1;
  private onMessage = (content: any, buffers: DataView[] = []) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (content?.kind !== REPLY) return;
    const resolve = this.pending.get(content.id);
    if (!resolve) return;
    this.pending.delete(content.id);
    resolve({ content, buffers });
  };

  constructor(private widgetModel: WidgetModel) {
    widgetModel.on("msg:custom", this.onMessage);
  }

  /** Stop listening; requests still on their way are never answered. */
  dispose() {
    this.widgetModel.off("msg:custom", this.onMessage);
    this.pending.clear();
  }

  /** Ask the kernel; rejects with its error text when it could not answer. */
  ask(what: string, params: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => (r.content.error ? reject(new Error(r.content.error)) : resolve(r)));
      this.widgetModel.send({ kind: REQUEST, id, what, ...params });
    });
  }
}
