// Entry point of exported HTML files (attnwidget/static/standalone.js): mounts
// the same app on a StaticWidgetModel built from the data embedded in the page.

import { AttentionApp } from "../views/attention_app";
import { type StaticBundle, StaticWidgetModel } from "./static_widget_model";

export function mount(el: HTMLElement, bundle: StaticBundle): AttentionApp {
  return new AttentionApp(new StaticWidgetModel(bundle), el);
}

/** Mount every `<script type="application/json" data-attnwidget>` found in the page. */
export function mountAll(doc: Document = document) {
  for (const script of Array.from(doc.querySelectorAll<HTMLScriptElement>("script[data-attnwidget]"))) {
    const target = doc.getElementById(script.dataset.attnwidget!)!;
    mount(target, JSON.parse(script.textContent!) as StaticBundle);
  }
}

(globalThis as { attnwidget?: unknown }).attnwidget = { mount, mountAll };
