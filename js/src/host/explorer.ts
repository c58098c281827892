// HeadExplorer entry point (attnwidget/static/explorer.js): the anywidget
// `render`, and `attnwidgetExplorer.mountAll()` for exported pages, which
// mount the same app on a LocalWidgetModel holding the embedded state.

import { ExplorerApp } from "../explorer/views/explorer_app";
import { LocalWidgetModel } from "./local_widget_model";
import type { WidgetModel } from "./widget_model";

function render({ model: widgetModel, el }: { model: WidgetModel; el: HTMLElement }) {
  const app = new ExplorerApp(widgetModel, el);
  return () => app.dispose();
}

export function mount(el: HTMLElement, state: Record<string, unknown>): ExplorerApp {
  return new ExplorerApp(new LocalWidgetModel(state), el);
}

/** Mount every `<script type="application/json" data-attnwidget-explorer>` found in the page. */
export function mountAll(doc: Document = document) {
  for (const script of Array.from(doc.querySelectorAll<HTMLScriptElement>("script[data-attnwidget-explorer]"))) {
    const target = doc.getElementById(script.dataset.attnwidgetExplorer!)!;
    mount(target, JSON.parse(script.textContent!));
  }
}

(globalThis as { attnwidgetExplorer?: unknown }).attnwidgetExplorer = { mount, mountAll };

export default { render };
