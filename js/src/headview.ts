// Head view: query tokens on the left, key tokens on the right, one line per
// kept attention weight, one colour per head. Hover isolates a token's lines,
// click locks it. Syntax: UPOS beside each token, dependency arcs on the left,
// attention lines that coincide with a dependency drawn with a dashed overlay.

import { headColour } from "./colours";
import { FONT, SMALL_FONT, headLayout, hitHead, rowY, shortLabel, type HeadLayout } from "./layout";
import { measureText, type Painter } from "./painter";
import { lineAlpha, linesToDraw, type Focus, type Line } from "./prune";
import type { Scene, ViewStats } from "./scene";
import { arcDepth } from "./syntax";
import { Snapshot, Surface } from "./surface";

const BUCKETS = 12;

export interface PointerHandlers {
  hover(target: Focus | null, ev: MouseEvent): void;
  click(target: Focus | null): void;
}

export class HeadView {
  readonly surface: Surface;
  private snapshot = new Snapshot();
  private layout: HeadLayout | null = null;
  private labelWidthKey = "";
  private labelW = 60;

  constructor(host: HTMLElement, handlers: PointerHandlers) {
    this.surface = new Surface(host, "aw-canvas aw-head");
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => handlers.hover(this.hit(ev), ev));
    c.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
  }

  private hit(ev: MouseEvent): Focus | null {
    if (!this.layout) return null;
    const [x, y] = this.surface.local(ev);
    return hitHead(this.layout, x, y);
  }

  layoutFor(scene: Scene): HeadLayout {
    const labels = scene.syntax.labels;
    const key = labels.join("\u0000");
    if (key !== this.labelWidthKey) {
      let w = 20;
      for (const s of labels) w = Math.max(w, measureText(shortLabel(s), FONT));
      this.labelW = Math.ceil(w) + 8;
      this.labelWidthKey = key;
    }
    return headLayout(labels.length, this.labelW, scene.syntax.hasSyntax);
  }

  /** Draw on screen; the no-focus picture is cached and reused until the scene changes. */
  render(scene: Scene, hover: Focus | null): ViewStats {
    const layout = this.layoutFor(scene);
    this.layout = layout;
    const p = this.surface.painter(layout.width, layout.height);
    const focus = scene.selected ?? hover; // a locked token wins over the pointer
    const key = `${scene.key}|${scene.palette.name}|${layout.width}x${layout.height}`;
    if (!focus && this.snapshot.restore(key, this.surface.canvas)) return this.lastStats;
    const stats = this.paint(p, scene, focus, layout);
    if (!focus) {
      this.snapshot.store(key, this.surface.canvas);
      this.lastStats = stats;
    }
    return stats;
  }
  private lastStats: ViewStats = { lines: 0, total: 0, capped: false };

  paint(p: Painter, scene: Scene, focus: Focus | null, layout = this.layoutFor(scene)): ViewStats {
    const { palette, syntax } = scene;
    p.fill(palette.background);
    const { lines, capped, total } = linesToDraw(scene.matrix, scene.pruned, focus);

    if (focus) this.paintFocusBoxes(p, scene, layout, focus, lines);
    this.paintLines(p, scene, layout, lines);

    // Tokens, UPOS and arcs on top of the lines.
    const n = layout.n;
    const queryX = layout.queryRight;
    const keyX = layout.keyLeft;
    for (let i = 0; i < n; i++) {
      const y = rowY(layout, i);
      const label = shortLabel(syntax.labels[i]);
      p.text(label, queryX, y, { font: FONT, colour: palette.foreground, align: "right" });
      p.text(label, keyX, y, { font: FONT, colour: palette.foreground, align: "left" });
      const tag = syntax.upos?.[i];
      if (tag) {
        p.text(tag, queryX - layout.labelW - 4, y, { font: SMALL_FONT, colour: palette.muted, align: "right" });
        p.text(tag, keyX + layout.labelW + 4, y, { font: SMALL_FONT, colour: palette.muted, align: "left" });
      }
    }
    if (syntax.hasSyntax) this.paintArcs(p, scene, layout);
    return { lines: lines.length, total, capped };
  }

  private paintFocusBoxes(p: Painter, scene: Scene, l: HeadLayout, focus: Focus, lines: Line[]) {
    const { palette } = scene;
    const boxW = l.labelW;
    const ownX = focus.role === "query" ? l.queryRight - boxW : l.keyLeft;
    p.rect(ownX - 2, rowY(l, focus.unit) - l.rowH / 2, boxW + 4, l.rowH, palette.highlight);
    // Partners: strongest weight over the selected heads sets the box alpha.
    const strongest = new Map<number, number>();
    for (const ln of lines) {
      const partner = focus.role === "query" ? ln.to : ln.from;
      strongest.set(partner, Math.max(strongest.get(partner) ?? 0, ln.w));
    }
    const partnerX = focus.role === "query" ? l.keyLeft : l.queryRight - boxW;
    for (const [u, w] of strongest) {
      p.rect(partnerX - 2, rowY(l, u) - l.rowH / 2, boxW + 4, l.rowH, palette.accentFont, 0.15 + 0.6 * lineAlpha(w));
    }
  }

  private paintLines(p: Painter, scene: Scene, l: HeadLayout, lines: Line[]) {
    const x1 = l.queryRight + 4;
    const x2 = l.keyLeft - 4;
    // Batch by (head, alpha bucket): a few hundred strokes instead of one per line.
    const groups = new Map<number, number[]>();
    const marked: number[] = [];
    for (const ln of lines) {
      const b = Math.max(1, Math.ceil(lineAlpha(ln.w) * BUCKETS));
      const g = ln.head * (BUCKETS + 1) + b;
      let seg = groups.get(g);
      if (!seg) groups.set(g, (seg = []));
      const y1 = rowY(l, ln.from);
      const y2 = rowY(l, ln.to);
      seg.push(x1, y1, x2, y2);
      if (scene.syntax.related(ln.from, ln.to) && ln.w >= 0.1) marked.push(x1, y1, x2, y2);
    }
    for (const [g, seg] of groups) {
      const head = Math.floor(g / (BUCKETS + 1));
      const b = g % (BUCKETS + 1);
      p.segments(seg, headColour(head), b / BUCKETS, 0.8 + 1.8 * (b / BUCKETS));
    }
    p.segments(marked, scene.palette.foreground, 0.9, 1.2, [4, 3]);
  }

  private paintArcs(p: Painter, scene: Scene, l: HeadLayout) {
    const x0 = l.arcsRight;
    const maxDepth = Math.min(90, l.arcsRight - 60); // leave room for labels left of the apex
    const pts: number[] = [];
    const dots: number[] = [];
    for (const arc of scene.syntax.arcs) {
      const ya = rowY(l, arc.dependent);
      const yb = rowY(l, arc.head);
      const depth = arcDepth(arc.dependent - arc.head, maxDepth);
      // Quadratic control point at 2x depth puts the apex at `depth`.
      pts.push(x0, yb, x0 - 2 * depth, (ya + yb) / 2, x0, ya);
      dots.push(x0 - 5, ya - 3, x0, ya, x0 - 5, ya + 3, x0, ya);
      p.text(arc.label, x0 - depth - 3, (ya + yb) / 2, { font: SMALL_FONT, colour: scene.palette.muted, align: "right" });
    }
    p.curves(pts, scene.palette.arc, 1);
    p.segments(dots, scene.palette.arc, 1, 1.2); // arrowhead at the dependent
  }
}
