// The toolbar: view tabs, layer selector, head chips, threshold and pruning
// sliders, first-token and level toggles, downloads; for inputs that have them,
// the attention kind (encoder-decoder), the pair filter (sentence pairs) and the
// generation step. It only reads traits and writes traits; drawing happens in
// the views.

import type { Meta } from "../data/meta";
import { type AttentionKind, LEVELS, PAIR_FILTERS, type PairFilter, type Traits, VIEWS, type ViewName } from "../data/traits";
import { headColour } from "../draw/colours";
import { defaultHeadsNote } from "./legend";

export const VIEW_LABELS: Record<ViewName, string> = { head: "Head", model: "Model", matrix: "Matrix", neuron: "Neuron" };

export const KIND_LABELS: Record<AttentionKind, string> = {
  self: "self-attention",
  encoder: "encoder self-attention",
  decoder: "decoder self-attention",
  cross: "cross-attention (decoder → source)",
};

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
  private kind: HTMLSelectElement | null = null;
  private pairFilter: HTMLSelectElement | null = null;
  private step: HTMLInputElement | null = null;
  private stepOut: HTMLElement | null = null;
  private stepLabel: HTMLElement | null = null;

  constructor(
    doc: Document,
    private meta: Meta,
    private write: Write,
    download: (kind: "png" | "svg") => void,
  ) {
    this.root = el(doc, "div", "aw-toolbar");
    const row1 = el(doc, "div", "aw-row");
    const tabs = el(doc, "div", "aw-tabs");
    tabs.setAttribute("role", "tablist");
    for (const name of VIEWS) {
      const b = el(doc, "button", "aw-tab", VIEW_LABELS[name]);
      b.dataset.view = name;
      b.setAttribute("role", "tab");
      if (name === "neuron") b.title = "query and key vectors of one head and token (needs the model)";
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
    // The neuron view keeps its query token across layers: it reads the same input.
    this.layerSelect.addEventListener("change", () =>
      write(
        this.current?.view === "neuron"
          ? { layer: Number(this.layerSelect.value) }
          : { layer: Number(this.layerSelect.value), token: null },
      ),
    );
    layerLabel.appendChild(this.layerSelect);
    row1.appendChild(layerLabel);

    const kinds = meta.kinds ?? [];
    if (kinds.length > 1) {
      const label = el(doc, "label", "aw-field", "Attention ");
      this.kind = el(doc, "select", "aw-kind");
      for (const k of kinds) {
        const o = el(doc, "option", "", KIND_LABELS[k as AttentionKind] ?? k);
        o.value = k;
        this.kind.appendChild(o);
      }
      this.kind.addEventListener("change", () => write({ attention_kind: this.kind!.value as AttentionKind, token: null }));
      label.appendChild(this.kind);
      row1.appendChild(label);
    }
    if (meta.split?.names[0] === "A" && meta.kind !== "cross") {
      const label = el(doc, "label", "aw-field", "Pair ");
      label.title = "draw one block of the sentence pair: queries -> keys";
      this.pairFilter = el(doc, "select", "aw-pair-filter");
      for (const f of PAIR_FILTERS) {
        const o = el(doc, "option", "", f === "all" ? "all" : f.replace("->", " → "));
        o.value = f;
        this.pairFilter.appendChild(o);
      }
      this.pairFilter.addEventListener("change", () => write({ pair_filter: this.pairFilter!.value as PairFilter }));
      label.appendChild(this.pairFilter);
      row1.appendChild(label);
    }

    const levelLabel = el(doc, "label", "aw-field", "Level ");
    this.level = el(doc, "select", "aw-level");
    for (const lv of LEVELS) {
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
    if (meta.split && meta.split.names[0] !== "A") {
      // Generated text: 0 = every row; k + 1 = what generated token k was written from.
      const generated = meta.num_tokens - meta.split.at;
      this.stepLabel = el(doc, "label", "aw-field aw-step-field", "step ");
      this.stepLabel.title = "show what the model attended to when it wrote each generated token";
      this.step = el(doc, "input", "aw-step");
      Object.assign(this.step, { type: "range", min: "0", max: String(generated), step: "1" });
      this.step.setAttribute("aria-label", "generation step");
      this.stepOut = el(doc, "span", "aw-out aw-step-out");
      this.step.addEventListener("input", () => {
        const v = Number(this.step!.value);
        write({ step: v === 0 ? null : v - 1, token: null });
      });
      this.stepLabel.append(this.step, this.stepOut);
      row2.appendChild(this.stepLabel);
    }

    this.headsRow = el(doc, "div", "aw-row aw-heads");
    this.headsRow.appendChild(el(doc, "span", "aw-field", "heads"));
    for (let h = 0; h < meta.num_heads; h++) {
      const chip = el(doc, "button", "aw-chip", String(h));
      chip.dataset.head = String(h);
      chip.style.setProperty("--head", headColour(h));
      const group = meta.kv_heads?.[h];
      const groups = meta.kv_heads ? Math.max(...meta.kv_heads) + 1 : 0;
      chip.dataset.kvHead = group === undefined ? "" : String(group);
      chip.title =
        `head ${h}` +
        (group === undefined ? "" : ` (query head; reads key/value head ${group} of ${groups})`) +
        ": click toggles, double-click shows only this head";
      chip.addEventListener("click", () => this.toggleHead(h));
      chip.addEventListener("dblclick", () => write({ heads: [h] }));
      this.chips.push(chip);
      this.headsRow.appendChild(chip);
    }
    const all = el(doc, "button", "aw-chip aw-chip-all", "all");
    all.addEventListener("click", () => write({ heads: this.chips.map((_, h) => h) }));
    this.headsRow.appendChild(all);
    this.headsNote = el(doc, "span", "aw-heads-note");
    this.headsRow.appendChild(this.headsNote);
    this.root.append(row1, this.headsRow, row2);
  }

  private current: Traits | null = null;
  private headsNote: HTMLElement;

  private toggleHead(h: number) {
    if (!this.current) return;
    if (this.current.view === "neuron") return this.write({ heads: [h] }); // the neuron view shows one head
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
    const on = new Set(t.view === "neuron" ? t.heads.slice(0, 1) : t.heads);
    this.chips.forEach((c, h) => {
      c.setAttribute("aria-pressed", String(on.has(h)));
    });
    const note = defaultHeadsNote(this.meta, t.heads, t.view);
    this.headsNote.textContent = note ?? "";
    this.headsNote.hidden = note === null;
    if (this.kind) this.kind.value = t.attention_kind;
    if (this.pairFilter) this.pairFilter.value = t.pair_filter;
    if (this.step && this.stepOut && this.meta.split) {
      this.step.value = String(t.step === null ? 0 : t.step + 1);
      const token = t.step === null ? null : this.meta.tokens[this.meta.split.at + t.step];
      this.stepOut.textContent = t.step === null ? "all" : `${t.step + 1}: ${JSON.stringify(token)}`;
    }
  }
}
