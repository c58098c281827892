// anywidget entry point (attnwidget/static/widget.js).

import { AttentionApp } from "./app";
import type { WidgetModel } from "./model";

function render({ model, el }: { model: WidgetModel; el: HTMLElement }) {
  const app = new AttentionApp(model, el);
  return () => app.dispose();
}

export default { render };
