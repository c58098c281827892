// The slice of anywidget's model API the views use. In a notebook it is the
// real widget model; in an exported file it is StaticWidgetModel (static_widget_model.ts).
//
// Names: in this code "model" is only ever this widget model (WidgetModel,
// widgetModel); the neural network is "the transformer", and the model view
// (bertviz's name for the every-layer-and-head grid) is ModelView.

// biome-ignore lint/suspicious/noExplicitAny: handlers of any event, as anywidget types them
export type Callback = (...args: any[]) => void;

export interface WidgetModel {
  // biome-ignore lint/suspicious/noExplicitAny: a trait's value, as anywidget's model.get
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}
