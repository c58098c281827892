// anywidget entry point (attnwidget/static/widget.js).

import { AttentionApp } from "../views/attention_app";
import type { WidgetModel } from "./widget_model";

function render({ model: widgetModel, el }: { model: WidgetModel; el: HTMLElement }) {
  const app = new AttentionApp(widgetModel, el);
  return () => app.dispose();
}

export default { render };
