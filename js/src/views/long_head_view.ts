// Head view of a long input: queries on the left, keys on the right, one row per token
// (18 px), scrolled through thousands of tokens. Only the rows in view are drawn, from
// rows of each row's strongest keys fetched by window (data/long_source.ts); each row
// shows the share of its attention the drawn lines cover. A key above or below the
// window is drawn at the window's edge with an arrow and its label.
// With syntax (a DependencyIndex, built once per input), as the short head view: each
// token's part of speech beside it, lines between a word and its head or dependent
// dashed, labelled dependency arcs beside the queries; all looked up per row in view.

import type { DependencyIndex } from "../data/dependency_index";
import { type LongSource, ROW_CHUNK, type RowBlock } from "../data/long_source";
import { isCancelled } from "../data/protocol";
import { lineAlpha } from "../data/prune";
import { headColour, hexToRgb } from "../draw/colours";
import { FONT, SMALL_FONT, shortLabel } from "../draw/layout";
import type { FieldLine } from "../draw/painter";
import { Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";
import { marksRelation, paintArcsBeside, paintRelationMarks } from "./dependency_marks";
import { type EdgeKey, placeEdgeLabels } from "./edge_labels";

export const ROW = 18;
const GAP = 260;
const NUMBERS_W = 70; // row number and the share covered, left of the query column
const LABEL_TEXT = 100; // a token's label
const ARCS_W = 150; // dependency arcs (with syntax)
const TAG_W = 44; // part-of-speech tag (with syntax)
/** Arcs that pass over the rows in view are found from the rows this far either side. */
const ARC_REACH = 64;
/** Labels of keys off screen: rows of them at each edge, their height and spacing. */
const EDGE_LABELS = { rows: 3, rowH: 12, gap: 8 };
/** The square beside a row's share when its head word is among its drawn keys. */
const HEAD_MARK = { x: 64, size: 4 };

/** Where the columns are: without syntax the query column ends at 170 px, as before. */
function columns(syntax: boolean) {
  const arcsRight = NUMBERS_W + (syntax ? ARCS_W : 0);
  const xl = arcsRight + (syntax ? TAG_W : 0) + LABEL_TEXT; // right edge of the query labels
  const xr = xl + GAP; // left edge of the key labels
  return { arcsRight, xl, xr, width: xr + Math.max(NUMBERS_W + LABEL_TEXT, 8 + LABEL_TEXT + (syntax ? TAG_W : 0) + 12) };
}

export interface LongHeadScene {
  layer: number;
  heads: number[];
  n: number;
  labels: string[];
  palette: Palette;
  threshold: number;
  prune: number;
  hideFirst: boolean;
  renormalise: boolean;
  locked: number | null; // a locked query row
  /** The input's dependencies (null: no syntax). */
  deps: DependencyIndex | null;
}

export interface LongHeadHandlers {
  hover(row: number | null, text: string | null, ev: MouseEvent): void;
  click(row: number | null): void;
  changed(): void;
}

export interface LongHeadStats {
  first: number;
  last: number;
  lines: number;
  short: number; // rows whose kept keys cover less than `prune`
  dashed: number; // lines marked as a dependency relation
  arcs: number; // dependency arcs drawn
  tags: number; // part-of-speech tags drawn
  hiddenArcLabels: number; // arc labels left out for want of space
}

export class LongHeadView {
  readonly surface: Surface;
  private spacer: HTMLDivElement;
  private scene: LongHeadScene | null = null;
  private offsetY = 0;
  private hoverRow: number | null = null;
  /** Why rows could not be had (the host's words), shown until the layer or heads change. */
  notice = "";
  private noticeKey = "";
  private refused = new Set<string>();

  constructor(
    host: HTMLElement,
    private scroller: HTMLElement,
    private source: LongSource,
    private handlers: LongHeadHandlers,
  ) {
    this.spacer = host.ownerDocument.createElement("div");
    this.spacer.className = "aw-spacer";
    host.appendChild(this.spacer);
    this.surface = new Surface(
      this.spacer,
      "aw-canvas aw-head aw-long-head",
      "attention head view: query tokens left, key tokens right",
      true,
    );
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => {
      const row = this.hit(ev);
      if (row !== this.hoverRow) {
        this.hoverRow = row;
        this.handlers.changed();
      }
      handlers.hover(row, row === null ? null : this.rowText(row), ev);
    });
    c.addEventListener("mouseleave", (ev) => {
      this.hoverRow = null;
      handlers.hover(null, null, ev);
      this.handlers.changed();
    });
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
    scroller.addEventListener("scroll", () => {
      if (!host.hidden) handlers.changed();
    });
  }

  private hit(ev: MouseEvent): number | null {
    if (!this.scene) return null;
    const [x, y] = this.surface.local(ev);
    if (x > columns(!!this.scene.deps).xl + 10) return null;
    const row = Math.floor((y + this.offsetY) / ROW);
    return row >= 0 && row < this.scene.n ? row : null;
  }

  private chunk(row: number): RowBlock | undefined {
    const s = this.scene!;
    return this.source.peek<RowBlock>(this.source.rowKey(s.layer, s.heads, Math.floor(row / ROW_CHUNK)));
  }

  /** What row `row` keeps, per head: its lines, as (key, weight), and the share they cover. */
  private kept(row: number, at: number, b: RowBlock): { lines: [number, number][]; share: number; short: boolean } {
    const s = this.scene!;
    const i = row - b.r0;
    const rows = b.r1 - b.r0;
    const base = (at * rows + i) * b.k;
    const first = b.first[at * rows + i];
    const rescale = s.hideFirst && s.renormalise && first < 1 ? 1 / (1 - first) : 1;
    const lines: [number, number][] = [];
    let share = 0;
    for (let t = 0; t < b.k; t++) {
      const key = b.top[base + t];
      if (key === 65535 || key < 0 || (s.hideFirst && key === 0)) continue;
      const w = b.weights[base + t] * rescale;
      if (share >= s.prune) break; // the strongest keys until `prune` of the row's mass
      share += w;
      if (w >= s.threshold) lines.push([key, w]);
    }
    return { lines, share, short: share < s.prune - 1e-6 };
  }

  private rowText(row: number): string {
    const s = this.scene!;
    const b = this.chunk(row);
    const deps = s.deps;
    const tag = deps?.tag(row);
    const own = deps?.relation(row, deps.headOf(row)[0] ?? -1);
    const label = `${JSON.stringify(s.labels[row])}${tag ? ` ${tag}` : ""}${own ? ` · ${own}` : ""}`;
    if (!b) return `query ${row}: ${label}`;
    const parts = s.heads.map((h, at) => {
      const { lines, share } = this.kept(row, at, b);
      const best = lines[0];
      return (
        `head ${h}: ${lines.length} lines cover ${(share * 100).toFixed(1)}%` +
        (best ? `, strongest ${best[0]} ${JSON.stringify(s.labels[best[0]])} ${best[1].toFixed(4)}` : "") +
        (deps ? this.relationsText(row, lines, deps) : "")
      );
    });
    return `query ${row}: ${label} · ${parts.join(" · ")}`;
  }

  /** The row's drawn lines that are a dependency relation, and whether its head word is among them. */
  private relationsText(row: number, lines: [number, number][], deps: DependencyIndex): string {
    const s = this.scene!;
    const related = lines.filter(([key]) => deps.syntax.related(row, key));
    const parts = related.map(([key, w]) => `${key} ${JSON.stringify(s.labels[key])} ${w.toFixed(4)} (${deps.relation(row, key)})`);
    const heads = deps.headOf(row);
    const found = heads.length
      ? lines.some(([key]) => heads.includes(key))
        ? "; its head word is among them"
        : "; its head word is not among them"
      : "";
    return (parts.length ? `; dependency lines: ${parts.join(", ")}` : "") + found;
  }

  render(scene: LongHeadScene): LongHeadStats {
    this.scene = scene;
    const noticeKey = `${scene.layer}|${scene.heads}`;
    if (noticeKey !== this.noticeKey) {
      this.noticeKey = noticeKey;
      this.notice = "";
      this.refused.clear();
    }
    const { palette, n, deps } = scene;
    const { arcsRight, xl, xr, width } = columns(!!deps);
    const full = n * ROW;
    this.spacer.style.height = `${full}px`;
    this.spacer.style.width = `${width}px`;
    const viewH = Math.min(full, this.scroller.clientHeight || 600);
    this.offsetY = Math.max(0, Math.min(this.scroller.scrollTop, full - viewH));
    const p = this.surface.painter(width, viewH, { offsetY: this.offsetY, fullHeight: full });
    p.fill(palette.background);
    const first = Math.max(0, Math.floor(this.offsetY / ROW));
    const last = Math.min(n - 1, Math.ceil((this.offsetY + viewH) / ROW));
    // Ask for the rows in view (and one chunk either side, for smooth scrolling).
    let waiting = 0;
    for (
      let c = Math.max(0, Math.floor(first / ROW_CHUNK) - 1);
      c <= Math.min(Math.floor((n - 1) / ROW_CHUNK), Math.floor(last / ROW_CHUNK) + 1);
      c++
    ) {
      const key = this.source.rowKey(scene.layer, scene.heads, c);
      if (this.source.peek(key) || this.refused.has(key)) continue;
      if (c >= Math.floor(first / ROW_CHUNK) && c <= Math.floor(last / ROW_CHUNK)) waiting++;
      // A refusal (an exported file without this layer's lines) is said on the view and not
      // asked again: without this the rows stayed "loading" for ever (the page hung on a layer switch).
      this.source.rowChunk(scene.layer, scene.heads, c, n).then(
        () => this.handlers.changed(),
        (err: Error) => {
          if (isCancelled(err) || `${scene.layer}|${scene.heads}` !== this.noticeKey) return;
          this.refused.add(key);
          this.notice = err.message;
          this.handlers.changed();
        },
      );
    }
    const y0 = this.offsetY;
    const y1 = this.offsetY + viewH;
    const lines: FieldLine[] = [];
    const marked: number[] = []; // dashed overlays: lines between a word and its head or dependent
    let tags = 0;
    let found = 0; // rows whose head word is among their drawn keys
    const edge: EdgeKey[] = [];
    let short = 0;
    const focus = scene.locked ?? this.hoverRow;
    for (let row = first; row <= last; row++) {
      const y = row * ROW + ROW / 2;
      const b = this.chunk(row);
      const dim = focus !== null && focus !== row;
      p.text(shortLabel(scene.labels[row]), xl - 8, y, { font: FONT, colour: dim ? palette.muted : palette.foreground, align: "right" });
      p.text(String(row), 4, y, { font: SMALL_FONT, colour: palette.muted });
      p.text(shortLabel(scene.labels[row]), xr + 8, y, { font: FONT, colour: palette.foreground });
      const tag = deps?.tag(row);
      if (tag) {
        p.text(tag, xl - 8 - LABEL_TEXT - 4, y, { font: SMALL_FONT, colour: palette.muted, align: "right" });
        p.text(tag, xr + 8 + LABEL_TEXT + 4, y, { font: SMALL_FONT, colour: palette.muted });
        tags++;
      }
      if (!b) continue;
      let covered = 1;
      const heads = deps?.headOf(row);
      let headFound = false; // the row's head word among its drawn keys, in any head shown
      scene.heads.forEach((h, at) => {
        const kept = this.kept(row, at, b);
        covered = Math.min(covered, kept.share);
        if (kept.short) short++;
        const rgb = hexToRgb(headColour(h));
        for (const [key, w] of kept.lines) {
          let ky = key * ROW + ROW / 2;
          if (ky < y0 + 4 || ky > y1 - 4) {
            const up = ky < y0 + 4;
            ky = up ? y0 + 4 : y1 - 4;
            if (!dim) edge.push({ key, up, colour: headColour(h), weight: w });
          }
          const a = lineAlpha(w); // the short view's strength, as the legend shows it
          lines.push({ x1: xl, y1: y, x2: xr, y2: ky, rgb, alpha: a * (dim ? 0.15 : 1), width: 0.8 + 1.8 * a });
          if (!dim && deps && marksRelation(deps.syntax, row, key, w)) marked.push(xl, y, xr, ky);
          if (heads?.includes(key)) headFound = true;
        }
      });
      p.text(`${Math.round(covered * 100)}%`, 40, y, { font: SMALL_FONT, colour: palette.muted });
      if (headFound) {
        p.rect(HEAD_MARK.x, y - HEAD_MARK.size / 2, HEAD_MARK.size, HEAD_MARK.size, palette.arc);
        found++;
      }
    }
    p.lineField(lines);
    paintRelationMarks(p, palette, marked);
    let arcs = 0;
    let hiddenArcLabels = 0;
    if (deps) {
      const near = deps.arcsNear(first - ARC_REACH, last + ARC_REACH + 1);
      arcs = near.length;
      const maxDepth = Math.min(90, arcsRight - NUMBERS_W - 50); // room for labels left of the apex
      hiddenArcLabels = paintArcsBeside(p, palette, near, (u) => u * ROW + ROW / 2, arcsRight, maxDepth);
    }
    // Keys outside the window, at its edge: a label each, side by side and stacked inwards,
    // on a halo over the key labels under them; "+N more" where they do not all fit.
    const { labels: edgeLabels, merged: edgeMerged } = placeEdgeLabels(
      edge,
      { left: xr + 8, right: width - 4, top: y0 + 10, bottom: y1 - 10, ...EDGE_LABELS },
      (key, up) => `${up ? "↑" : "↓"} ${key} ${shortLabel(scene.labels[key])}`,
      (text) => p.measure(text, SMALL_FONT),
      palette.muted,
    );
    for (const l of edgeLabels) {
      p.rect(l.x - 2, l.y - l.h / 2, l.w + 4, l.h, palette.background, 0.85);
      p.text(l.text, l.x, l.y, { font: SMALL_FONT, colour: l.colour });
    }
    if (this.notice) {
      p.rect(0, y0, width, 28, palette.background, 0.9);
      p.text(this.notice, 8, y0 + 14, { font: SMALL_FONT, colour: palette.foreground });
    }
    if (focus !== null && focus >= first && focus <= last) {
      p.strokeRect(0.5, focus * ROW + 0.5, xl - 2, ROW - 1, palette.foreground, 1);
    }
    const root = this.surface.canvas.closest(".aw-root") as HTMLElement | null;
    const dashed = marked.length / 4;
    const rows = {
      first,
      last,
      lines: lines.length,
      waiting,
      dashed,
      arcs,
      tags,
      found,
      notice: this.notice,
      edgeLabels: edgeLabels.length,
      edgeMerged,
    };
    if (root) root.dataset.rows = JSON.stringify(rows);
    return { first, last, lines: lines.length, short, dashed, arcs, tags, hiddenArcLabels };
  }

  /** Scroll so that `row` is in view. */
  reveal(row: number) {
    const top = row * ROW;
    if (top < this.scroller.scrollTop || top > this.scroller.scrollTop + this.scroller.clientHeight - ROW) {
      this.scroller.scrollTop = Math.max(0, top - this.scroller.clientHeight / 2);
    }
  }
}
