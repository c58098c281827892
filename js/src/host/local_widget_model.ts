// A kernel-less widget model holding traits in the page: the base of the
// widget models that exported files (widget and explorer) run on. Setting a
// trait to its current value emits nothing, as in ipywidgets. Subclasses that
// play the kernel's part answer requests (data/protocol.ts) in `answer`.

import { isRequest, type RequestMessage, replyTo } from "../data/protocol";
import type { Callback, WidgetModel } from "./widget_model";

export class LocalWidgetModel implements WidgetModel {
  protected state: Record<string, unknown>;
  private handlers = new Map<string, Set<Callback>>();

  constructor(state: Record<string, unknown>) {
    this.state = { ...state };
  }

  // biome-ignore lint/suspicious/noExplicitAny: as anywidget's model.get
  get(name: string): any {
    return this.state[name];
  }

  set(name: string, value: unknown) {
    if (JSON.stringify(this.state[name]) === JSON.stringify(value)) return;
    this.state[name] = value;
    this.emit(`change:${name}`, value);
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

  send(content: unknown) {
    if (isRequest(content)) this.answer(content);
  }

  /** Answer a view's request; this host has no data of its own and answers none. */
  protected answer(_request: RequestMessage): void {}

  /** Reply to `request` after the current task, as a kernel's reply arrives. */
  protected reply(request: RequestMessage, body: Record<string, unknown>, buffers: DataView[] = []) {
    setTimeout(() => this.emit("msg:custom", replyTo(request, body), buffers), 0);
  }

  protected emit(event: string, ...args: unknown[]) {
    for (const cb of this.handlers.get(event) ?? []) cb(...args);
  }
}
