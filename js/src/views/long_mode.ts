// The head and matrix views of a long input (`_layer_data.packing === "summary"`): the
// app hands them over here instead of building a dense scene. Token level only: word
// level at these lengths would need its own summaries (the status line says so).

import { DependencyIndex } from "../data/dependency_index";
import { type LayerInfo, LongSource, type Overview } from "../data/long_source";
import type { Meta } from "../data/meta";
import type { Traits } from "../data/traits";
import type { Palette } from "../draw/theme";
import type { WidgetModel } from "../host/widget_model";
import type { LegendItem } from "./legend";
import { LongHeadView } from "./long_head_view";
import { longLegendItems } from "./long_legend";
import { type LongCell, LongMatrixView } from "./long_matrix_view";

export interface LongModeHost {
  status(text: string): void;
  tooltip(text: string | null, ev?: MouseEvent): void;
  redraw(): void; // schedule a draw of the current view
  lock(row: number | null): void;
  legend(items: LegendItem[] | null): void;
}

export class LongMode {
  readonly source: LongSource;
  private matrix: LongMatrixView;
  private head: LongHeadView;
  private overview: Overview | null = null;
  private hoverCell: LongCell | null = null;
  private key = "";

  constructor(
    widgetModel: WidgetModel,
    private hosts: { head: HTMLElement; matrix: HTMLElement },
    stage: HTMLElement,
    private host: LongModeHost,
  ) {
    this.source = new LongSource(widgetModel);
    this.matrix = new LongMatrixView(hosts.matrix, this.source, {
      hover: (cell, ev) => this.onCell(cell, ev),
      click: (cell) => host.lock(cell ? cell.row : null),
      changed: () => host.redraw(),
      status: (text) => host.status(text),
    });
    this.head = new LongHeadView(hosts.head, stage, this.source, {
      hover: (_row, text, ev) => host.tooltip(text, ev),
      click: (row) => host.lock(row),
      changed: () => host.redraw(),
    });
    this.show(false);
  }

  /** Show the long views' canvases (true) or the dense views' (false) in the shared hosts. */
  show(on: boolean) {
    this.matrix.surface.canvas.style.display = on ? "block" : "none";
    (this.head.surface.canvas.parentElement as HTMLElement).hidden = !on;
    for (const host of [this.hosts.head, this.hosts.matrix]) {
      for (const child of Array.from(host.children) as HTMLElement[]) {
        const mine = child === this.matrix.surface.canvas || child === this.head.surface.canvas.parentElement;
        if (!mine) child.style.display = on ? "none" : "";
      }
    }
  }

  dispose() {
    this.source.dispose();
  }

  private onCell(cell: LongCell | null, ev: MouseEvent) {
    this.hoverCell = cell;
    if (!cell || !this.meta) {
      this.host.tooltip(null);
      return;
    }
    const labels = this.meta.tokens;
    const what = cell.exact ? cell.value.toFixed(6) : `largest in its ${cell.block}×${cell.block} block ${cell.value.toFixed(6)}`;
    const deps = this.deps;
    const tag = (t: number) => (deps?.tag(t) ? ` ${deps.tag(t)}` : "");
    const relation = deps?.relation(cell.row, cell.col);
    this.host.tooltip(
      `query ${cell.row} ${JSON.stringify(labels[cell.row])}${tag(cell.row)} → key ${cell.col} ${JSON.stringify(labels[cell.col])}${tag(cell.col)}: ${what}${relation ? `\ndependency: ${relation}` : ""}`,
      ev,
    );
    this.host.redraw();
  }
  private meta: Meta | null = null;
  /** The input's dependencies, looked up per row in view; built once per `_meta`. */
  private deps: DependencyIndex | null = null;
  private depsOf: Meta | null = null;

  /** Draw the head or matrix view of `info`'s layer; resolves when drawn (the overview may be fetched). */
  async draw(info: LayerInfo, meta: Meta, t: Traits, palette: Palette): Promise<void> {
    this.meta = meta;
    if (meta !== this.depsOf) {
      this.depsOf = meta;
      this.deps = DependencyIndex.of(meta);
    }
    const deps = this.deps;
    const legend = { palette, hasSyntax: !!deps, syntaxSource: meta.syntax?.source, causal: meta.is_causal };
    this.show(true);
    const heads = t.heads.filter((h) => h >= 0 && h < info.heads);
    const use = heads.length ? heads : [0];
    const key = `${meta.kind ?? "self"}|${info.layer}|${use}|${t.hide_first}|${t.renormalise}`;
    if (key !== this.key) {
      this.key = key;
      this.matrix.reset();
      this.overview = null;
    }
    const level = t.level === "word" ? " · word level is not available past 1,024 tokens: token level shown" : "";
    if (t.view === "matrix") {
      if (!this.overview) {
        this.host.status(`loading the overview of layer ${info.layer}…`);
        const ov = await this.source.overview(info.layer, t.hide_first);
        if (key !== this.key) return;
        this.overview = ov;
      }
      const scene = {
        layer: info.layer,
        heads: use,
        n: info.size,
        causal: meta.is_causal,
        hideFirst: t.hide_first,
        renormalise: t.renormalise,
        labels: meta.tokens,
        palette,
        block: info.block,
        deps,
      };
      this.matrix.render(scene, this.overview, this.hoverCell);
      this.host.legend(longLegendItems({ ...legend, view: "matrix", heads: use, locked: false, hiddenArcLabels: 0 }));
      if (level) this.host.status(`${meta.model} · ${level}`);
      return;
    }
    const locked = t.token !== null && t.token_role === "query" && t.level === "token" ? t.token : null;
    const stats = this.head.render({
      layer: info.layer,
      heads: use,
      n: info.size,
      labels: meta.tokens,
      palette,
      threshold: t.threshold,
      prune: t.prune,
      hideFirst: t.hide_first,
      renormalise: t.renormalise,
      locked,
      deps,
    });
    this.host.legend(
      longLegendItems({ ...legend, view: "head", heads: use, locked: locked !== null, hiddenArcLabels: stats.hiddenArcLabels }),
    );
    const short = stats.short
      ? ` · ${stats.short} rows' ${info.top_k} strongest keys cover less than ${Math.round(t.prune * 100)}% of their mass`
      : "";
    const notice = this.head.notice ? `${this.head.notice} · ` : "";
    this.host.status(
      `${notice}${meta.model} · layer ${info.layer} · ${use.length}/${info.heads} heads · rows ${stats.first}–${stats.last} of ${info.size} · ${stats.lines} lines (each row's strongest keys; % = share of the row's mass they cover)${short}${level}`,
    );
  }

  /** Centre the matrix view on a cell (hosts, tests). */
  centreOn(i: number, j: number, pxPerToken: number) {
    this.matrix.centreOn(i, j, pxPerToken);
  }

  revealRow(row: number) {
    this.head.reveal(row);
  }
}
