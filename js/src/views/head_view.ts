// Head view: query tokens on the left, key tokens on the right, one line per
// kept attention weight, one colour per head. Hover isolates a token's lines,
// click locks it. Syntax: UPOS beside each token, dependency arcs on the left,
// attention lines that coincide with a dependency drawn with a dashed overlay.
//
// A sentence pair's block (pair_filter) is laid out on its own: the left column lists
// the block's query units only, the right column its key units only (scene.drawn's
// axes). Rows are drawn at shown positions; hover and click report original units.
//
// Long inputs are tall (18 px per token), so the canvas is only as tall as the
// scrolling stage and shows the rows in view, and each frame draws the strongest
// lines in view up to a pixel budget: thousands of long strokes on a 9000 px canvas
// took seconds in a software-rendered browser.

import { originalUnit, shownArcs } from "../data/filters";
import { type Focus, type Line, lineAlpha, linesToDraw } from "../data/prune";
import type { Scene, ViewStats } from "../data/scene";
import { headColour, hexToRgb } from "../draw/colours";
import { FONT, type HeadLayout, headLayout, hitHead, rowY, SMALL_FONT, shortLabel } from "../draw/layout";
import { CanvasPainter, type FieldLine, measureText, type Painter } from "../draw/painter";
import { Snapshot, Surface } from "../draw/surface";
import { marksRelation, paintArcsBeside, paintRelationMarks } from "./dependency_marks";

/**
 * Pixels of line per frame. The screen budget follows the measured frame time towards
 * FRAME_MS: a fast browser soon draws every line, a software-rendered one stays
 * interactive, and a layer switch costs about one such frame.
 */
const BUDGET = { start: 1_200_000, min: 150_000, max: 50_000_000, export: 60_000_000 };
const FRAME_MS = 28;
/**
 * A frame the budget cut short is drawn again, fuller, once the view has been still for
 * `afterMs` (a layer switch, a scroll): with `times` the frame's budget, and at least the
 * first paint's. Stepping through layers stays quick; the picture left on screen is full.
 */
const REFINE = { afterMs: 250, times: 4 };

export interface PointerHandlers {
  hover(target: Focus | null, ev: MouseEvent): void;
  click(target: Focus | null): void;
  scroll(): void;
  /** The picture was redrawn fuller (REFINE): the status line's count has changed. */
  refined(): void;
}

export class HeadView {
  readonly surface: Surface;
  private spacer: HTMLDivElement;
  private snapshot = new Snapshot(true);
  private layout: HeadLayout | null = null;
  private axes: Scene["drawn"] | null = null;
  private labelWidthKey = "";
  private labelW = 60;
  private offsetY = 0;
  private lastStats: ViewStats = { lines: 0, total: 0, capped: false };
  private budget = BUDGET.start;
  private refineTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    host: HTMLElement,
    private scroller: HTMLElement,
    private handlers: PointerHandlers,
  ) {
    this.spacer = host.ownerDocument.createElement("div");
    this.spacer.className = "aw-spacer";
    host.appendChild(this.spacer);
    this.surface = new Surface(this.spacer, "aw-canvas aw-head", "attention head view: query tokens left, key tokens right", true);
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => handlers.hover(this.hit(ev), ev));
    c.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
    scroller.addEventListener("scroll", () => {
      if (!host.hidden) handlers.scroll();
    });
  }

  private hit(ev: MouseEvent): Focus | null {
    if (!this.layout || !this.axes) return null;
    const [x, y] = this.surface.local(ev);
    const hit = hitHead(this.layout, x, y + this.offsetY);
    if (!hit) return null;
    // A shown position back to the original unit: what the traits and tooltips speak of.
    return { unit: originalUnit(this.axes, hit.unit, hit.role), role: hit.role };
  }

  layoutFor(scene: Scene): HeadLayout {
    const labels = scene.syntax.labels;
    const { rowAxis, colAxis } = scene.drawn;
    const key =
      labels.join("\u0000") +
      "\u0001" +
      (scene.keyLabels === labels ? "" : scene.keyLabels.join("\u0000")) +
      "\u0001" +
      (rowAxis.full ? "" : rowAxis.units.join()) +
      "\u0001" +
      (colAxis.full ? "" : colAxis.units.join());
    if (key !== this.labelWidthKey) {
      let w = 20;
      for (const u of rowAxis.units) w = Math.max(w, measureText(shortLabel(labels[u]), FONT));
      for (const u of colAxis.units) w = Math.max(w, measureText(shortLabel(scene.keyLabels[u]), FONT));
      this.labelW = Math.ceil(w) + 8;
      this.labelWidthKey = key;
    }
    return headLayout(rowAxis.units.length, this.labelW, scene.syntax.hasSyntax, 260, colAxis.units.length);
  }

  /** Size the canvas to the rows in view; the painter and the snapshot key of the no-focus picture. */
  private frame(scene: Scene): { layout: HeadLayout; p: CanvasPainter; key: string } {
    const layout = this.layoutFor(scene);
    this.layout = layout;
    this.axes = scene.drawn;
    this.spacer.style.height = `${layout.height}px`;
    this.spacer.style.width = `${layout.width}px`;
    const viewH = Math.min(layout.height, this.scroller.clientHeight || layout.height);
    this.offsetY = Math.max(0, Math.min(this.scroller.scrollTop, layout.height - viewH));
    const p = this.surface.painter(layout.width, viewH, { offsetY: this.offsetY, fullHeight: layout.height });
    const key = `${scene.key}|${scene.palette.name}|${layout.width}x${layout.height}|${this.offsetY}|${viewH}`;
    return { layout, p, key };
  }

  /** Draw the rows in view; the no-focus picture is cached until the scene or scroll changes. */
  render(scene: Scene, hover: Focus | null): ViewStats {
    clearTimeout(this.refineTimer);
    const { layout, p, key } = this.frame(scene);
    const focus = scene.selected ?? hover; // a locked token wins over the pointer
    if (!focus && this.snapshot.restore(key, this.surface.canvas)) return this.lastStats;
    const t0 = performance.now();
    const stats = this.paint(p, scene, focus, layout, this.budget);
    if (!focus) {
      this.snapshot.store(key, this.surface.canvas);
      this.lastStats = stats;
      const ms = performance.now() - t0;
      // In proportion (the time is nearly linear in pixels of line): growing at most 2x a
      // frame, shrinking at once (the frame after a slow one is the one a user waits on).
      const step = Math.min(2, Math.max(0.25, FRAME_MS / Math.max(1, ms)));
      if (stats.capped || step < 1) this.budget = Math.min(BUDGET.max, Math.max(BUDGET.min, this.budget * step));
      if (stats.capped) this.refineTimer = setTimeout(() => this.refine(scene, key), REFINE.afterMs);
    }
    return stats;
  }

  /** The still no-focus picture `key` again, with a larger budget (REFINE). */
  private refine(scene: Scene, key: string) {
    if (this.snapshot.key !== key || !this.surface.canvas.isConnected) return;
    const frame = this.frame(scene);
    if (frame.key !== key) return; // scrolled or resized meanwhile: that frame's own refinement follows
    const budget = Math.min(BUDGET.max, Math.max(BUDGET.start, this.budget * REFINE.times));
    this.lastStats = this.paint(frame.p, scene, null, frame.layout, budget);
    this.snapshot.store(key, this.surface.canvas);
    this.handlers.refined();
  }

  /** The whole view, every row, on a fresh canvas (PNG download). */
  paintFull(scene: Scene, focus: Focus | null): HTMLCanvasElement {
    const layout = this.layoutFor(scene);
    const canvas = this.surface.canvas.ownerDocument.createElement("canvas");
    canvas.width = layout.width;
    canvas.height = layout.height;
    this.paint(new CanvasPainter(canvas.getContext("2d")!, layout.width, layout.height), scene, focus, layout, BUDGET.export);
    return canvas;
  }

  paint(p: Painter, scene: Scene, focus: Focus | null, layout = this.layoutFor(scene), budget = BUDGET.start): ViewStats {
    const { palette, syntax } = scene;
    p.fill(palette.background);
    const { rows: rowOn, cols: colOn, split, rowAxis, colAxis } = scene.drawn;
    const { lines, capped, total } = linesToDraw(scene.matrix, scene.pruned, focus, undefined, scene.drawn);

    // Rows in view (plus one either side); everything else is skipped.
    const first = Math.max(0, Math.floor((p.visible.y0 - layout.top) / layout.rowH) - 1);
    const last = Math.min(Math.max(layout.n, layout.nKeys) - 1, Math.ceil((p.visible.y1 - layout.top) / layout.rowH) + 1);

    if (focus) this.paintFocusBoxes(p, scene, layout, focus, lines);
    const drawn = this.paintLines(p, scene, layout, lines, budget);

    const queryX = layout.queryRight;
    const keyX = layout.keyLeft;
    // Tokens of the second part (sentence B, generated text) in the accent colour;
    // tokens outside the generation step muted. `u` is an original unit.
    const colour = (u: number, on: Uint8Array | null) =>
      on && !on[u] ? palette.muted : split !== null && u >= split ? palette.accentFont : palette.foreground;
    // The divider between the parts, on each column that shows both ("all").
    const divider: number[] = [];
    if (rowAxis.split !== null) {
      const y = layout.top + rowAxis.split * layout.rowH;
      divider.push(queryX - layout.labelW, y, queryX + 2, y);
    }
    if (colAxis.split !== null) {
      const y = layout.top + colAxis.split * layout.rowH;
      divider.push(keyX - 2, y, keyX + layout.labelW, y);
    }
    if (divider.length) p.segments(divider, palette.foreground, 0.6, 1, [4, 3]);
    for (let i = first; i <= last; i++) {
      const y = rowY(layout, i);
      if (i < layout.n) {
        const u = rowAxis.units[i];
        p.text(shortLabel(syntax.labels[u]), queryX, y, { font: FONT, colour: colour(u, rowOn), align: "right" });
        const tag = syntax.upos?.[u];
        if (tag) p.text(tag, queryX - layout.labelW - 4, y, { font: SMALL_FONT, colour: palette.muted, align: "right" });
      }
      if (i < layout.nKeys) {
        const u = colAxis.units[i];
        p.text(shortLabel(scene.keyLabels[u]), keyX, y, { font: FONT, colour: colour(u, colOn), align: "left" });
        const tag = syntax.upos?.[u];
        if (tag) p.text(tag, keyX + layout.labelW + 4, y, { font: SMALL_FONT, colour: palette.muted, align: "left" });
      }
    }
    if (syntax.hasSyntax) this.paintArcs(p, scene, layout);
    return { lines: drawn, total, capped: capped || drawn < lines.length };
  }

  private paintFocusBoxes(p: Painter, scene: Scene, l: HeadLayout, focus: Focus, lines: Line[]) {
    const { palette } = scene;
    const { rowAxis, colAxis } = scene.drawn;
    const [own, partners] = focus.role === "query" ? [rowAxis, colAxis] : [colAxis, rowAxis];
    const at = own.pos[focus.unit] ?? -1;
    if (at < 0) return; // not in the block shown
    const boxW = l.labelW;
    const ownX = focus.role === "query" ? l.queryRight - boxW : l.keyLeft;
    p.rect(ownX - 2, rowY(l, at) - l.rowH / 2, boxW + 4, l.rowH, palette.highlight);
    // Partners: the strongest weight over the selected heads sets the box alpha.
    const strongest = new Map<number, number>();
    for (const ln of lines) {
      const partner = focus.role === "query" ? ln.to : ln.from;
      strongest.set(partner, Math.max(strongest.get(partner) ?? 0, ln.w));
    }
    const partnerX = focus.role === "query" ? l.keyLeft : l.queryRight - boxW;
    for (const [u, w] of strongest) {
      const i = partners.pos[u];
      if (i < 0) continue;
      p.rect(partnerX - 2, rowY(l, i) - l.rowH / 2, boxW + 4, l.rowH, palette.accentFont, 0.15 + 0.6 * lineAlpha(w));
    }
  }

  /**
   * Lines in view, strongest first, until `budget` pixel updates are spent: the frame
   * time stays bounded however long the input, and the weakest lines go first.
   * Returns how many lines were drawn.
   */
  private paintLines(p: Painter, scene: Scene, l: HeadLayout, all: Line[], budget: number): number {
    const x1 = l.queryRight + 4;
    const x2 = l.keyLeft - 4;
    const { y0, y1 } = p.visible;
    const { rowAxis, colAxis } = scene.drawn;
    const inView: Line[] = [];
    const ys: number[] = [];
    const cost: number[] = [];
    for (const ln of all) {
      const i = rowAxis.pos[ln.from];
      const j = colAxis.pos[ln.to];
      if (i < 0 || j < 0) continue; // outside the block shown (linesToDraw leaves these out already)
      const ya = rowY(l, i);
      const yb = rowY(l, j);
      if (Math.max(ya, yb) < y0 || Math.min(ya, yb) > y1) continue; // not in view
      inView.push(ln);
      ys.push(ya, yb);
      cost.push(Math.hypot(x2 - x1, Math.min(y1, Math.max(ya, yb)) - Math.max(y0, Math.min(ya, yb))));
    }
    let lines = inView;
    let kept: number[] = Array.from(inView.keys()); // index of each drawn line in inView (for ys)
    const totalCost = cost.reduce((a, b) => a + b, 0);
    if (totalCost > budget) {
      const order = Array.from(inView.keys()).sort((a, b) => inView[b].w - inView[a].w);
      lines = [];
      kept = [];
      let spent = 0;
      for (const k of order) {
        if (spent + cost[k] > budget) continue;
        spent += cost[k];
        lines.push(inView[k]);
        kept.push(k);
      }
    }
    const field: FieldLine[] = [];
    const marked: number[] = [];
    const rgb = new Map<number, readonly [number, number, number]>();
    lines.forEach((ln, k) => {
      const ya = ys[2 * kept[k]];
      const yb = ys[2 * kept[k] + 1];
      let c = rgb.get(ln.head);
      if (!c) {
        c = hexToRgb(headColour(ln.head));
        rgb.set(ln.head, c);
      }
      const a = lineAlpha(ln.w);
      field.push({ x1, y1: ya, x2, y2: yb, rgb: c, alpha: a, width: 0.8 + 1.8 * a });
      if (marksRelation(scene.syntax, ln.from, ln.to, ln.w)) marked.push(x1, ya, x2, yb);
    });
    p.lineField(field);
    paintRelationMarks(p, scene.palette, marked);
    return lines.length + (all.length - inView.length);
  }

  private paintArcs(p: Painter, scene: Scene, l: HeadLayout) {
    const maxDepth = Math.min(90, l.arcsRight - 60); // leave room for labels left of the apex
    // Arcs run beside the query column: only those between two shown queries.
    const arcs = shownArcs(scene.syntax.arcs, scene.drawn.rowAxis);
    this.hiddenArcLabels = paintArcsBeside(p, scene.palette, arcs, (i) => rowY(l, i), l.arcsRight, maxDepth);
  }

  /** Relation labels of the last frame left out for want of space (the legend says so). */
  hiddenArcLabels = 0;
}
