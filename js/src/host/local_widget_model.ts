// A kernel-less model holding traits in the page: the base of the models that
// exported files (widget and explorer) run on. Setting a trait to its current
// value emits nothing, as in ipywidgets.

import type { Callback, WidgetModel } from "./widget_model";

export class LocalWidgetModel implements WidgetModel {
  protected state: Record<string, unknown>;
  private handlers = new Map<string, Set<Callback>>();

  constructor(state: Record<string, unknown>) {
    this.state = { ...state };
  }

  get(name: string) {
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

  send(_content: unknown) {}

  protected emit(event: string, ...args: unknown[]) {
    for (const cb of this.handlers.get(event) ?? []) cb(...args);
  }
}
