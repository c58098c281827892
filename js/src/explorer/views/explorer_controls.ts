// The explorer's toolbar: mode tabs, metric and key selectors (a second pair
// side by side), and whose exemplars to list when two statistics are compared.
// It reads and writes traits only.

import { EXPLORER_MODES, type ExplorerMode, type ExplorerTraits } from "../../data/traits";
import type { MetricInfo } from "../data/grids";

export const MODE_LABELS: Record<ExplorerMode, string> = { single: "One metric", side_by_side: "Two metrics", difference: "Difference" };

type Write = (changes: Partial<ExplorerTraits>) => void;

/** The key a metric opens on when the current one does not belong to it. */
export function keyFor(m: MetricInfo, current: string): string {
  return m.keys.includes(current) ? current : m.default;
}

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, cls: string, text?: string) {
  const e = doc.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function options(select: HTMLSelectElement, items: [string, string][]) {
  const key = items.map((i) => i[0]).join("\u0000");
  if (select.dataset.items === key) return;
  select.dataset.items = key;
  select.replaceChildren(
    ...items.map(([value, label]) => {
      const o = select.ownerDocument.createElement("option");
      o.value = value;
      o.textContent = label;
      return o;
    }),
  );
}

class MetricPicker {
  readonly root: HTMLElement;
  readonly metric: HTMLSelectElement;
  readonly key: HTMLSelectElement;

  constructor(
    doc: Document,
    label: string,
    private metrics: MetricInfo[],
    write: (metric: string, key: string) => void,
  ) {
    this.root = el(doc, "label", "ax-field", label);
    this.metric = el(doc, "select", "ax-metric");
    this.key = el(doc, "select", "ax-key");
    options(
      this.metric,
      metrics.map((m) => [m.name, `${m.name} · ${m.title.replace(/, \{key\}$/, "").replace(" {key}", " …")}`]),
    );
    this.metric.addEventListener("change", () => {
      const m = this.metrics.find((x) => x.name === this.metric.value)!;
      write(m.name, keyFor(m, this.key.value));
    });
    this.key.addEventListener("change", () => write(this.metric.value, this.key.value));
    this.root.append(this.metric, this.key);
  }

  sync(metric: string, key: string) {
    const m = this.metrics.find((x) => x.name === metric);
    this.metric.value = metric;
    this.metric.title = m?.definition ?? "";
    options(
      this.key,
      (m?.keys ?? []).map((k) => [k, k || "—"]),
    );
    this.key.value = key;
    this.key.hidden = !m || (m.keys.length === 1 && m.keys[0] === "");
  }
}

export class ExplorerControls {
  readonly root: HTMLElement;
  private tabs = new Map<string, HTMLButtonElement>();
  private first: MetricPicker;
  private second: MetricPicker;
  private source: HTMLElement;
  private sourceSelect: HTMLSelectElement;

  constructor(doc: Document, metrics: MetricInfo[], labels: string[], write: Write) {
    this.root = el(doc, "div", "ax-toolbar");
    const tabs = el(doc, "div", "ax-tabs");
    tabs.setAttribute("role", "tablist");
    // A difference needs two statistics.
    for (const mode of EXPLORER_MODES.filter((m) => m !== "difference" || labels.length > 1)) {
      const b = el(doc, "button", "ax-tab", MODE_LABELS[mode]);
      b.dataset.mode = mode;
      b.setAttribute("role", "tab");
      b.addEventListener("click", () => write({ mode }));
      this.tabs.set(mode, b);
      tabs.appendChild(b);
    }
    this.first = new MetricPicker(doc, "metric", metrics, (metric, key) => write({ metric, key }));
    this.second = new MetricPicker(doc, "beside it", metrics, (metric2, key2) => write({ metric2, key2 }));
    this.source = el(doc, "label", "ax-field", "exemplars of");
    this.sourceSelect = el(doc, "select", "ax-source");
    options(
      this.sourceSelect,
      labels.map((l, k) => [String(k), l]),
    );
    this.sourceSelect.addEventListener("change", () => write({ source: Number(this.sourceSelect.value) }));
    this.source.appendChild(this.sourceSelect);
    this.source.hidden = labels.length < 2;
    this.root.append(tabs, this.first.root, this.second.root, this.source);
  }

  sync(t: ExplorerTraits) {
    for (const [mode, b] of this.tabs) b.setAttribute("aria-selected", String(mode === t.mode));
    this.first.sync(t.metric, t.key);
    this.second.sync(t.metric2, t.key2);
    this.second.root.hidden = t.mode !== "side_by_side";
    this.sourceSelect.value = String(t.source);
  }
}
