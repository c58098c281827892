// The toolbar: view tabs, layer selector, head chips, threshold and pruning
// sliders, first-token and level toggles, downloads. It only reads traits and
// writes traits; drawing happens in the views.

import { headColour } from "./colours";
import type { Meta } from "./meta";
import type { Traits, ViewName } from "./traits";

type Write = (changes: Partial<Traits>) => void;

function el<K extends keyof HTMLElementTagNameMap>(doc: Document, tag: K, cls: string, text?: string): HTMLElementTagNameMap[K] {
  const e = doc.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class Controls {
  readonly root: HTMLElement;
  private tabs = new Map<ViewName, HTMLButtonElement>();
  private layerSelect: HTMLSelectElement;
  private chips: HTMLButtonElement[] = [];
  private threshold: HTMLInputElement;
  private thresholdOut: HTMLElement;
  private prune: HTMLInputElement;
  private pruneOut: HTMLElement;
  private hideFirst: HTMLInputElement;
  private renormalise: HTMLInputElement;
  private level: HTMLSelectElement;
  private headsRow: HTMLElement;

  constructor(doc: Document, meta: Meta, private write: Write, download: (kind: "png" | "svg") => void) {
    this.root = el(doc, "div", "aw-toolbar");
    const row1 = el(doc, "div", "aw-row");
    const tabs = el(doc, "div", "aw-tabs");
    tabs.setAttribute("role", "tablist");
    for (const [name, label] of [["head", "Head"], ["model", "Model"], ["matrix", "Matrix"]] as const) {
      const b = el(doc, "button", "aw-tab", label);
      b.dataset.view = name;
      b.setAttribute("role", "tab");
      b.addEventListener("click", () => write({ view: name }));
      this.tabs.set(name, b);
      tabs.appendChild(b);
    }
    row1.appendChild(tabs);

    const layerLabel = el(doc, "label", "aw-field", "Layer ");
    this.layerSelect = el(doc, "select", "aw-layer");
    for (let l = 0; l < meta.num_layers; l++) {
      const o = el(doc, "option", "", String(l));
      o.value = String(l);
      this.layerSelect.appendChild(o);
    }
    this.layerSelect.addEventListener("change", () => write({ layer: Number(this.layerSelect.value), token: null }));
    layerLabel.appendChild(this.layerSelect);
    row1.appendChild(layerLabel);

    const levelLabel = el(doc, "label", "aw-field", "Level ");
    this.level = el(doc, "select", "aw-level");
    for (const lv of ["token", "word"]) {
      const o = el(doc, "option", "", lv);
      o.value = lv;
      o.disabled = lv === "word" && !meta.levels.word;
      this.level.appendChild(o);
    }
    this.level.title = meta.levels.word ? "word level merges a word's pieces" : "word level needs annotations";
    this.level.addEventListener("change", () => write({ level: this.level.value as Traits["level"], token: null }));
    levelLabel.appendChild(this.level);
    row1.appendChild(levelLabel);

    const hf = el(doc, "label", "aw-field");
    this.hideFirst = el(doc, "input", "aw-hide-first");
    this.hideFirst.type = "checkbox";
    this.hideFirst.addEventListener("change", () => write({ hide_first: this.hideFirst.checked }));
    hf.append(this.hideFirst, doc.createTextNode(" hide first token"));
    const rn = el(doc, "label", "aw-field");
    this.renormalise = el(doc, "input", "aw-renormalise");
    this.renormalise.type = "checkbox";
    this.renormalise.addEventListener("change", () => write({ renormalise: this.renormalise.checked }));
    rn.append(this.renormalise, doc.createTextNode(" renormalise"));
    row1.append(hf, rn);

    const dl = el(doc, "div", "aw-downloads");
    for (const kind of ["png", "svg"] as const) {
      const b = el(doc, "button", `aw-download aw-download-${kind}`, kind.toUpperCase());
      b.title = `download the current view as ${kind.toUpperCase()}`;
      b.addEventListener("click", () => download(kind));
      dl.appendChild(b);
    }
    row1.appendChild(dl);

    const row2 = el(doc, "div", "aw-row");
    const th = el(doc, "label", "aw-field", "threshold ");
    this.threshold = el(doc, "input", "aw-threshold");
    Object.assign(this.threshold, { type: "range", min: "0", max: "0.5", step: "0.005" });
    this.thresholdOut = el(doc, "span", "aw-out");
    this.threshold.addEventListener("input", () => write({ threshold: Number(this.threshold.value) }));
    th.append(this.threshold, this.thresholdOut);
    const pr = el(doc, "label", "aw-field", "keep mass ");
    pr.title = "keep only each row's strongest lines until this share of its attention is covered";
    this.prune = el(doc, "input", "aw-prune");
    Object.assign(this.prune, { type: "range", min: "0.05", max: "1", step: "0.01" });
    this.pruneOut = el(doc, "span", "aw-out");
    this.prune.addEventListener("input", () => write({ prune: Number(this.prune.value) }));
    pr.append(this.prune, this.pruneOut);
    row2.append(th, pr);

    this.headsRow = el(doc, "div", "aw-row aw-heads");
    this.headsRow.appendChild(el(doc, "span", "aw-field", "heads"));
    for (let h = 0; h < meta.num_heads; h++) {
      const chip = el(doc, "button", "aw-chip", String(h));
      chip.dataset.head = String(h);
      chip.style.setProperty("--head", headColour(h));
      chip.title = `head ${h}: click toggles, double-click shows only this head`;
      chip.addEventListener("click", () => this.toggleHead(h));
      chip.addEventListener("dblclick", () => write({ heads: [h] }));
      this.chips.push(chip);
      this.headsRow.appendChild(chip);
    }
    const all = el(doc, "button", "aw-chip aw-chip-all", "all");
    all.addEventListener("click", () => write({ heads: this.chips.map((_, h) => h) }));
    this.headsRow.appendChild(all);
    this.root.append(row1, this.headsRow, row2);
  }

  private current: Traits | null = null;

  private toggleHead(h: number) {
    if (!this.current) return;
    const set = new Set(this.current.heads);
    if (set.has(h)) set.delete(h);
    else set.add(h);
    this.write({ heads: [...set].sort((a, b) => a - b) });
  }

  /** Reflect traits in the controls (after a change from either side). */
  sync(t: Traits) {
    this.current = t;
    for (const [name, b] of this.tabs) b.setAttribute("aria-selected", String(name === t.view));
    this.layerSelect.value = String(t.layer);
    this.level.value = t.level;
    this.hideFirst.checked = t.hide_first;
    this.renormalise.checked = t.renormalise;
    this.renormalise.disabled = !t.hide_first;
    this.threshold.value = String(t.threshold);
    this.thresholdOut.textContent = t.threshold.toFixed(3);
    this.prune.value = String(t.prune);
    this.pruneOut.textContent = `${Math.round(t.prune * 100)}%`;
    const on = new Set(t.heads);
    this.chips.forEach((c, h) => c.setAttribute("aria-pressed", String(on.has(h))));
  }
}
