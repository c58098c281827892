// The HeadExplorer controller: reads traits, draws one or two grids with their
// per-layer lines, lists the selected head's exemplars and opens the chosen one
// in the AttentionWidget's own app (js/src/views/attention_app.ts) on a SentenceWidgetModel.

import type { LayerPayload } from "../../data/attention_source";
import { RequestChannel } from "../../data/protocol";
import { EXPLORER_TRAITS, type ExplorerTraits, readExplorerTraits, type Traits, writeExplorerTraits } from "../../data/traits";
import { detectTheme, PALETTES, type Palette, watchTheme } from "../../draw/theme";
import type { WidgetModel } from "../../host/widget_model";
import { AttentionApp } from "../../views/attention_app";
import { difference, type Exemplar, type ExemplarsPayload, exemplarsOf, Grids, metricTitle, type StatsPayload } from "../data/grids";
import { colourRange, formatValue, type Range, rankOf } from "../data/rank";
import { type Fetcher, type SentenceBundle, SentenceWidgetModel } from "../host/sentence_widget_model";
import { renderExemplars } from "./exemplar_list";
import css from "./explorer.css";
import { ExplorerControls } from "./explorer_controls";
import { type Cell, GridView } from "./grid_view";
import { LayerLines, type Series } from "./layer_lines";

/** One grid on screen: what it shows and how to describe a cell of it. */
interface PanelSpec {
  title: string;
  definition: string; // the metric in one sentence, under the title
  values: Float32Array;
  range: Range;
  series: Series[];
  baseline: number | null;
  describe(index: number): string;
}

export class ExplorerApp {
  private doc: Document;
  private root: HTMLElement;
  private panels: HTMLElement;
  private status: HTMLElement;
  private tooltip: HTMLElement;
  private exemplarTitle: HTMLElement;
  private exemplarList: HTMLOListElement;
  private exemplarNote: HTMLElement;
  private attention: HTMLElement;
  private attentionTitle: HTMLElement;
  private attentionNote: HTMLElement;
  private attentionHost: HTMLElement;
  private controls: ExplorerControls;
  private requests: RequestChannel;
  private stats: StatsPayload;
  private exemplars: ExemplarsPayload[];
  private grids: Grids[] | null = null;
  private traits: ExplorerTraits;
  private hovered: Cell | null = null;
  private views: { grid: GridView; lines: LayerLines; spec: PanelSpec; panel: HTMLElement }[] = [];
  private panelKey = "";
  private opened: { key: string; app: AttentionApp | null } = { key: "", app: null };
  private openGeneration = 0;
  private frame = 0;
  private cleanup: (() => void)[] = [];

  constructor(
    private widgetModel: WidgetModel,
    host: HTMLElement,
  ) {
    this.doc = host.ownerDocument;
    this.stats = widgetModel.get("_stats") as StatsPayload;
    this.exemplars = widgetModel.get("_exemplars") as ExemplarsPayload[];
    this.traits = this.read();
    this.root = this.div("ax-root");
    const style = this.doc.createElement("style");
    style.textContent = css;
    const labels = this.stats.labels;
    this.controls = new ExplorerControls(this.doc, this.stats.sources[0].metrics, labels, (c) => this.write(c));
    const summary = this.div("ax-summary");
    summary.textContent = labels.map((l, k) => `${labels.length > 1 ? `${l}: ` : ""}${this.stats.summary[k]}`).join("\n");
    summary.hidden = !summary.textContent.trim(); // a report describes its corpus above the explorer
    this.panels = this.div("ax-panels");
    this.status = this.div("ax-status");
    this.status.setAttribute("aria-live", "polite");
    this.tooltip = this.div("ax-tooltip");
    this.tooltip.hidden = true;
    const exemplars = this.div("ax-exemplars");
    this.exemplarTitle = this.doc.createElement("h3");
    this.exemplarList = this.doc.createElement("ol");
    this.exemplarList.className = "ax-exemplar-list";
    this.exemplarNote = this.div("ax-note");
    exemplars.append(this.exemplarTitle, this.exemplarNote, this.exemplarList);
    this.attention = this.div("ax-attention");
    this.attentionTitle = this.doc.createElement("h3");
    this.attentionNote = this.div("ax-note");
    this.attentionHost = this.div("ax-attention-host");
    this.attention.append(this.attentionTitle, this.attentionNote, this.attentionHost);
    this.root.append(style, this.controls.root, summary, this.panels, this.status, exemplars, this.attention, this.tooltip);
    host.appendChild(this.root);
    this.requests = new RequestChannel(widgetModel);

    const onChange = () => {
      this.traits = this.read();
      this.invalidate();
    };
    for (const name of EXPLORER_TRAITS) widgetModel.on(`change:${name}`, onChange);
    this.cleanup.push(() => {
      for (const name of EXPLORER_TRAITS) widgetModel.off(`change:${name}`, onChange);
    });
    this.cleanup.push(watchTheme(this.root, () => this.invalidate(true)));
    void Promise.all(this.stats.sources.map((s) => Grids.decode(s))).then((g) => {
      this.grids = g;
      this.invalidate();
    });
  }

  dispose() {
    this.openGeneration++; // a sentence still on its way opens nothing
    cancelAnimationFrame(this.frame);
    for (const f of this.cleanup) f();
    this.opened.app?.dispose();
    this.requests.dispose();
    this.root.remove();
  }

  private div(cls: string): HTMLDivElement {
    const d = this.doc.createElement("div");
    d.className = cls;
    return d;
  }

  private read(): ExplorerTraits {
    return readExplorerTraits(this.widgetModel);
  }

  private write(changes: Partial<ExplorerTraits>) {
    writeExplorerTraits(this.widgetModel, changes);
  }

  private palette(): Palette {
    const t = this.traits.theme;
    return PALETTES[t === "light" || t === "dark" ? t : detectTheme(this.root)];
  }

  private invalidate(themeChanged = false) {
    if (themeChanged) this.panelKey = "";
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.update();
    });
  }

  private update() {
    if (!this.grids) return;
    const t = this.traits;
    const palette = this.palette();
    this.root.dataset.theme = palette.name;
    this.controls.sync(t);
    this.drawPanels(palette);
    this.syncExemplars();
    this.syncAttention(palette);
    this.root.dataset.ready = "true";
  }

  // ------------------------------------------------------------------- grids

  private specs(): PanelSpec[] {
    const t = this.traits;
    const [a, b] = this.grids!;
    const labels = this.stats.labels;
    const colours = seriesColours(this.palette());
    const cellName = (index: number) => `layer ${Math.floor(index / a.heads)}, head ${index % a.heads}`;
    const ranked = (values: Float32Array, index: number) => {
      const r = rankOf(values, index);
      return r ? ` (rank ${r.rank} of ${r.of})` : "";
    };
    const single = (metric: string, key: string): PanelSpec => {
      const m = a.metric(metric);
      const values = a.grid(metric, key) ?? new Float32Array(a.layers * a.heads).fill(NaN);
      const title = metricTitle(m, key);
      return {
        title,
        definition: m?.definition ?? "",
        values,
        range: colourRange(values, m?.bounded ? "share" : "unbounded"),
        series: [{ label: labels[0], values: a.line(metric, key) ?? new Float32Array(a.layers), colour: colours[0] }],
        baseline: a.baseline(metric, key),
        describe: (i) => `${cellName(i)}\n${title}: ${formatValue(values[i])}${ranked(values, i)}`,
      };
    };
    if (t.mode === "side_by_side") return [single(t.metric, t.key), single(t.metric2, t.key2)];
    if (t.mode === "difference" && b) {
      const va = a.grid(t.metric, t.key)!;
      const vb = b.grid(t.metric, t.key);
      const values = difference(va, vb);
      const title = `${metricTitle(a.metric(t.metric), t.key)}: ${labels[0]} − ${labels[1]}`;
      return [
        {
          title,
          definition: a.metric(t.metric)?.definition ?? "",
          values,
          range: colourRange(values, "difference"),
          series: [
            { label: labels[0], values: a.line(t.metric, t.key)!, colour: colours[0] },
            { label: labels[1], values: b.line(t.metric, t.key) ?? new Float32Array(a.layers).fill(NaN), colour: colours[1] },
          ],
          baseline: a.baseline(t.metric, t.key),
          describe: (i) =>
            `${cellName(i)}\n${labels[0]}: ${formatValue(va[i])}  ${labels[1]}: ${formatValue(vb ? vb[i] : NaN)}\ndifference: ${values[i] > 0 ? "+" : ""}${formatValue(values[i])}${ranked(values, i)}`,
        },
      ];
    }
    return [single(t.metric, t.key)];
  }

  private drawPanels(palette: Palette) {
    const t = this.traits;
    const key = [palette.name, t.mode, t.metric, t.key, ...(t.mode === "side_by_side" ? [t.metric2, t.key2] : [])].join("\u0000");
    if (key !== this.panelKey) {
      this.panelKey = key;
      this.views = this.specs().map((spec, k) => {
        const panel = this.div("ax-panel");
        panel.dataset.panel = String(k);
        const title = this.doc.createElement("h3");
        title.textContent = spec.title;
        const definition = this.div("ax-definition");
        definition.textContent = spec.definition;
        definition.hidden = !spec.definition;
        const body = this.div("ax-panel-body");
        const grid = new GridView(body, {
          hover: (cell, ev) => this.onHover(cell, ev, k),
          click: (cell) => this.write({ layer: cell.layer, head: cell.head, exemplar: null }),
          step: (dl, dh) => this.step(dl, dh),
        });
        const lines = new LayerLines(body);
        const legend = this.div("ax-legend");
        const r = spec.range;
        legend.textContent = r.diverging
          ? `colour: ${formatValue(r.lo)} (blue) … 0 … +${formatValue(r.hi)} (red)`
          : `colour: ${formatValue(r.lo)} … ${formatValue(r.hi)} · beside: per layer, heads pooled${spec.baseline !== null ? ", dashed: corpus baseline" : ""}`;
        panel.append(title, definition, body, legend);
        return { grid, lines, spec, panel };
      });
      this.panels.replaceChildren(...this.views.map((v) => v.panel));
    }
    const [a] = this.grids!;
    const selected = t.layer !== null && t.head !== null ? { layer: t.layer, head: t.head } : null;
    const rows = GridView.rows(a.layers, a.heads);
    for (const v of this.views) {
      v.grid.render({
        palette,
        values: v.spec.values,
        layers: a.layers,
        heads: a.heads,
        range: v.spec.range,
        selected,
        hovered: this.hovered,
      });
      v.lines.render({
        palette,
        series: v.spec.series,
        baseline: v.spec.baseline,
        top: rows.top,
        cell: rows.cell,
        height: rows.height,
        selectedLayer: t.layer,
      });
    }
  }

  /** Move the selected head from the current traits (not the last drawing: keys come faster than frames). */
  private step(dl: number, dh: number) {
    const [a] = this.grids!;
    const t = this.traits;
    const clamp = (v: number, n: number) => Math.max(0, Math.min(n - 1, v));
    this.write({ layer: clamp((t.layer ?? 0) + dl, a.layers), head: clamp((t.head ?? 0) + dh, a.heads), exemplar: null });
  }

  private onHover(cell: Cell | null, ev: MouseEvent, panel: number) {
    this.hovered = cell;
    const [a] = this.grids!;
    const text = cell ? this.views[panel].spec.describe(cell.layer * a.heads + cell.head) : null;
    if (text) {
      this.tooltip.hidden = false;
      this.tooltip.textContent = text;
      const r = this.root.getBoundingClientRect();
      this.tooltip.style.left = `${ev.clientX - r.left + 14}px`;
      this.tooltip.style.top = `${ev.clientY - r.top + 14}px`;
      this.status.textContent = text.replace(/\n/g, " · ");
    } else {
      this.tooltip.hidden = true;
    }
    this.drawPanels(this.palette());
  }

  // --------------------------------------------------------------- exemplars

  private how(source: number): string {
    return ((this.widgetModel.get("_attention") as { how: string[] })?.how ?? [])[source] ?? "";
  }

  private current(): Exemplar[] {
    const t = this.traits;
    if (t.layer === null || t.head === null) return [];
    return exemplarsOf(this.exemplars[t.source] ?? this.exemplars[0], t.layer, t.head);
  }

  private syncExemplars() {
    const t = this.traits;
    if (t.layer === null || t.head === null) {
      this.exemplarTitle.textContent = "Click a head to see its exemplar sentences.";
      this.exemplarList.replaceChildren();
      this.exemplarNote.hidden = true;
      return;
    }
    const list = this.current();
    const who = this.stats.labels.length > 1 ? ` (${this.stats.labels[t.source]})` : "";
    this.exemplarTitle.textContent = `Layer ${t.layer}, head ${t.head}: ${list.length ? "exemplar sentences" : "no exemplar sentences"}${who}. Bold attends to underlined.`;
    const how = this.how(t.source);
    const openable = how === "kernel" || how === "static";
    this.exemplarNote.hidden = openable || !list.length;
    this.exemplarNote.textContent = openable ? "" : how;
    renderExemplars(this.exemplarList, list, openable, t.exemplar, { open: (rank) => this.write({ exemplar: rank }) });
  }

  // ---------------------------------------------------------------- attention

  private syncAttention(palette: Palette) {
    const t = this.traits;
    const e = t.exemplar === null ? undefined : this.current().find((x) => x.rank === t.exemplar);
    const how = this.how(t.source);
    const key = e ? `${t.source}|${e.sentence}|${e.layer}|${e.head}|${e.rank}|${palette.name}` : "";
    if (key === this.opened.key) return;
    this.opened.app?.dispose();
    this.opened = { key, app: null };
    this.attention.hidden = !e;
    this.attention.dataset.partial = "false";
    this.attentionNote.hidden = true;
    if (!e) return;
    this.attentionTitle.textContent = `Sentence ${e.sentence} · layer ${e.layer}, head ${e.head} · token ${e.i} ${JSON.stringify(e.tokens[e.i] ?? "")} locked`;
    if (how !== "kernel" && how !== "static") {
      this.note(how);
      return;
    }
    const traits: Partial<Traits> = {
      view: "head",
      layer: e.layer,
      heads: [e.head],
      token: e.i,
      token_role: "query",
      threshold: 0,
      prune: 1,
      hide_first: false,
      renormalise: true,
      level: "token",
      theme: palette.name,
    };
    const gen = ++this.openGeneration;
    const mount = (bundle: SentenceBundle, fetcher: Fetcher | null) => {
      if (gen !== this.openGeneration) return;
      const sentence = new SentenceWidgetModel(bundle, traits, fetcher, (layer) =>
        this.note(`Layer ${layer} of this sentence is not in this file; it holds layer ${sentence.availableLayers.join(", ")}.`),
      );
      this.attention.dataset.partial = String(!fetcher); // a file: some layers, no kernel
      this.opened.app = new AttentionApp(sentence, this.attentionHost);
    };
    if (how === "static") {
      const bundle = (this.widgetModel.get("_embedded") as Record<string, Record<string, SentenceBundle>>)[String(t.source)]?.[
        String(e.sentence)
      ];
      if (bundle) mount(bundle, null);
      else this.note("This sentence's attention is not in this file.");
      return;
    }
    this.note("computing this sentence's attention…");
    const source = t.source;
    const sentence = e.sentence;
    const withBuffer = (payload: LayerPayload, buffers: DataView[]) => ({ ...payload, data: { ...payload.data, buffer: buffers[0] } });
    const fetcher: Fetcher = {
      layer: (layer) => this.requests.request("layer", { source, sentence, layer }).then((r) => withBuffer(r.content.payload, r.buffers)),
      ask: (what, params) => this.requests.request(what, { ...params, source, sentence }),
    };
    this.requests.request("sentence", { source, sentence, layer: e.layer }).then(
      (r) => {
        this.attentionNote.hidden = true;
        mount({ meta: r.content.meta, layers: { [String(e.layer)]: withBuffer(r.content.payload, r.buffers) } }, fetcher);
      },
      (err: Error) => gen === this.openGeneration && this.note(`The attention view is unavailable: ${err.message}`),
    );
  }

  private note(text: string) {
    this.attentionNote.hidden = false;
    this.attentionNote.textContent = text;
  }
}

/** Line colours of the two sources on a palette. */
function seriesColours(p: Palette): [string, string] {
  return p.name === "dark" ? ["#79c0ff", "#ffa657"] : ["#0b5cad", "#d9730d"];
}
