// Head view of a long input: queries on the left, keys on the right, one row per token
// (18 px), scrolled through thousands of tokens. Only the rows in view are drawn, from
// rows of each row's strongest keys fetched by window (data/long_source.ts); each row
// shows the share of its attention the drawn lines cover. A key above or below the
// window is drawn at the window's edge with an arrow and its label.

import { type LongSource, ROW_CHUNK, type RowBlock } from "../data/long_source";
import { isCancelled } from "../data/protocol";
import { headColour, hexToRgb } from "../draw/colours";
import { FONT, SMALL_FONT, shortLabel } from "../draw/layout";
import type { FieldLine } from "../draw/painter";
import { Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";

export const ROW = 18;
const LABEL_W = 170;
const GAP = 260;

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
    this.surface = new Surface(this.spacer, "aw-canvas aw-head aw-long-head", "attention head view: query tokens left, key tokens right");
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
    if (x > LABEL_W + 10) return null;
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
    const label = JSON.stringify(s.labels[row]);
    if (!b) return `query ${row}: ${label}`;
    const parts = s.heads.map((h, at) => {
      const { lines, share } = this.kept(row, at, b);
      const best = lines[0];
      return (
        `head ${h}: ${lines.length} lines cover ${(share * 100).toFixed(1)}%` +
        (best ? `, strongest ${best[0]} ${JSON.stringify(s.labels[best[0]])} ${best[1].toFixed(4)}` : "")
      );
    });
    return `query ${row}: ${label} · ${parts.join(" · ")}`;
  }

  render(scene: LongHeadScene): LongHeadStats {
    this.scene = scene;
    const noticeKey = `${scene.layer}|${scene.heads}`;
    if (noticeKey !== this.noticeKey) {
      this.noticeKey = noticeKey;
      this.notice = "";
      this.refused.clear();
    }
    const { palette, n } = scene;
    const width = LABEL_W * 2 + GAP;
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
    const xl = LABEL_W;
    const xr = LABEL_W + GAP;
    const y0 = this.offsetY;
    const y1 = this.offsetY + viewH;
    const lines: FieldLine[] = [];
    const edge: { y: number; key: number; up: boolean; colour: string }[] = [];
    let short = 0;
    const focus = scene.locked ?? this.hoverRow;
    for (let row = first; row <= last; row++) {
      const y = row * ROW + ROW / 2;
      const b = this.chunk(row);
      const dim = focus !== null && focus !== row;
      p.text(shortLabel(scene.labels[row]), xl - 8, y, { font: FONT, colour: dim ? palette.muted : palette.foreground, align: "right" });
      p.text(String(row), 4, y, { font: SMALL_FONT, colour: palette.muted });
      p.text(shortLabel(scene.labels[row]), xr + 8, y, { font: FONT, colour: palette.foreground });
      if (!b) continue;
      let covered = 1;
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
            if (!dim) edge.push({ y: ky, key, up, colour: headColour(h) });
          }
          const alpha = Math.sqrt(Math.min(1, w)) * (dim ? 0.15 : 1);
          lines.push({ x1: xl, y1: y, x2: xr, y2: ky, rgb, alpha, width: 1 });
        }
      });
      p.text(`${Math.round(covered * 100)}%`, 40, y, { font: SMALL_FONT, colour: palette.muted });
    }
    p.lineField(lines);
    // Keys outside the window, at its edge: arrow and label, once per key.
    const seen = new Set<number>();
    for (const e of edge) {
      if (seen.has(e.key)) continue;
      seen.add(e.key);
      const text = `${e.up ? "↑" : "↓"} ${e.key} ${shortLabel(scene.labels[e.key])}`;
      p.text(text, xr + 8 + (seen.size % 2) * 90, e.y + (e.up ? 6 : -6), { font: SMALL_FONT, colour: e.colour });
    }
    if (this.notice) {
      p.rect(0, y0, width, 28, palette.background, 0.9);
      p.text(this.notice, 8, y0 + 14, { font: SMALL_FONT, colour: palette.foreground });
    }
    if (focus !== null && focus >= first && focus <= last) {
      p.strokeRect(0.5, focus * ROW + 0.5, xl - 2, ROW - 1, palette.foreground, 1);
    }
    const root = this.surface.canvas.closest(".aw-root") as HTMLElement | null;
    if (root) root.dataset.rows = JSON.stringify({ first, last, lines: lines.length, waiting, notice: this.notice });
    return { first, last, lines: lines.length, short };
  }

  /** Scroll so that `row` is in view. */
  reveal(row: number) {
    const top = row * ROW;
    if (top < this.scroller.scrollTop || top > this.scroller.scrollTop + this.scroller.clientHeight - ROW) {
      this.scroller.scrollTop = Math.max(0, top - this.scroller.clientHeight / 2);
    }
  }
}
