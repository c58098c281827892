// Matrix view: a heatmap of one head (or the mean of the selected heads), query
// units down the side, key units along the top, the causal mask drawn as its own
// shade, the value under the pointer in a tooltip. Syntax: dependency arcs over
// the key axis, UPOS beside the labels, related cells outlined.

import { headColour, ramp } from "./colours";
import { FONT, SMALL_FONT, hitMatrix, matrixLayout, shortLabel, type MatrixLayout } from "./layout";
import { measureText, type Painter } from "./painter";
import type { Focus } from "./prune";
import type { Scene } from "./scene";
import { LabelPlacer, arcDepth } from "./syntax";
import { Snapshot, Surface } from "./surface";
import { colsOf, meanOfHeads } from "./transform";

export interface CellHandlers {
  hover(cell: { row: number; col: number; value: number } | null, ev: MouseEvent): void;
  click(cell: { row: number; col: number } | null): void;
}

export class MatrixView {
  readonly surface: Surface;
  private snapshot = new Snapshot();
  private layout: MatrixLayout | null = null;
  private values: Float32Array | null = null;

  constructor(host: HTMLElement, handlers: CellHandlers) {
    this.surface = new Surface(host, "aw-canvas aw-matrix", "attention matrix: query rows, key columns");
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => {
      const cell = this.hit(ev);
      handlers.hover(cell && this.values ? { ...cell, value: this.values[cell.row * this.layout!.cols + cell.col] } : null, ev);
    });
    c.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
  }

  private hit(ev: MouseEvent) {
    if (!this.layout) return null;
    const [x, y] = this.surface.local(ev);
    return hitMatrix(this.layout, x, y);
  }

  layoutFor(scene: Scene): MatrixLayout {
    let w = 20;
    for (const s of scene.syntax.labels) w = Math.max(w, measureText(shortLabel(s), FONT));
    for (const s of scene.keyLabels) w = Math.max(w, measureText(shortLabel(s), FONT));
    return matrixLayout(scene.syntax.labels.length, Math.ceil(w) + 6, scene.syntax.hasSyntax, 640, scene.keyLabels.length);
  }

  /** The values shown: the single selected head, or the mean of the selected heads. */
  static values(scene: Scene): Float32Array {
    const { matrix, heads } = scene;
    if (heads.length === 1) {
      const size = matrix.n * colsOf(matrix);
      return matrix.data.subarray(heads[0] * size, (heads[0] + 1) * size);
    }
    return meanOfHeads(matrix, heads);
  }

  render(scene: Scene, hover: { row: number; col: number } | null): void {
    const layout = this.layoutFor(scene);
    this.layout = layout;
    this.values = MatrixView.values(scene);
    const p = this.surface.painter(layout.width, layout.height);
    const key = `${scene.key}|m|${scene.palette.name}|${scene.selected?.unit}|${scene.selected?.role}`;
    if (!this.snapshot.restore(key, this.surface.canvas)) {
      this.paint(p, scene, layout);
      this.snapshot.store(key, this.surface.canvas);
    }
    if (hover) this.paintCrosshair(p, scene, layout, hover.row, hover.col);
  }

  paint(p: Painter, scene: Scene, layout = this.layoutFor(scene)): void {
    const { palette, syntax } = scene;
    const n = layout.n;
    const m = layout.cols;
    const values = MatrixView.values(scene);
    const colour = scene.heads.length === 1 ? headColour(scene.heads[0]) : palette.accentFont;
    const lut = ramp(palette.background, colour);
    const mask = ramp(palette.mask, palette.mask);
    const { rows: rowOn, cols: colOn, split } = scene.drawn;
    const rgba = new Uint8ClampedArray(n * m * 4);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const k = i * m + j;
        // The causal mask, and cells outside a pair's block or the generation step, share one shade.
        const masked = (scene.causal && j > i) || (rowOn !== null && !rowOn[i]) || (colOn !== null && !colOn[j]);
        const q = masked ? 0 : Math.round(Math.sqrt(Math.min(1, values[k])) * 255);
        rgba.set((masked ? mask : lut).subarray(q * 4, q * 4 + 4), k * 4);
      }
    }
    p.fill(palette.background);
    const { left, top, cell } = layout;
    p.pixels(rgba, m, n, left, top, m * cell, n * cell);
    p.strokeRect(left - 0.5, top - 0.5, m * cell + 1, n * cell + 1, palette.grid);
    if (split !== null) {
      // Where the second part starts (sentence B, generated text), on both axes.
      const xy = left + split * cell;
      const yx = top + split * cell;
      p.segments([left - 4, yx, left + m * cell, yx, xy, top - 4, xy, top + n * cell], palette.foreground, 0.8, 1.5, [5, 3]);
    }

    // Cells where attention coincides with a dependency relation.
    if (syntax.hasSyntax && cell >= 4) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          if ((!scene.causal || j <= i) && syntax.related(i, j)) {
            p.strokeRect(left + j * cell + 0.5, top + i * cell + 0.5, cell - 1, cell - 1, palette.foreground, 1);
          }
        }
      }
    }
    if (scene.selected) {
      const u = scene.selected.unit;
      if (scene.selected.role === "query") p.strokeRect(left, top + u * cell, m * cell, cell, palette.foreground, 2);
      else p.strokeRect(left + u * cell, top, cell, n * cell, palette.foreground, 2);
    }

    // Axis labels: every labelStep-th unit when cells are smaller than the text.
    const step = layout.labelStep;
    const colourOf = (u: number, on: Uint8Array | null) =>
      on && !on[u] ? palette.muted : split !== null && u >= split ? palette.accentFont : palette.foreground;
    for (let u = 0; u < Math.max(n, m); u += step) {
      const y = top + (u + 0.5) * cell;
      const x = left + (u + 0.5) * cell;
      if (u < n) p.text(shortLabel(syntax.labels[u]), left - 6, y, { font: FONT, colour: colourOf(u, rowOn), align: "right" });
      if (u < m) {
        p.text(shortLabel(scene.keyLabels[u]), x, top - 6, { font: FONT, colour: colourOf(u, colOn), align: "left", rotate: -Math.PI / 2 });
      }
      const tag = u < n && u < m ? syntax.upos?.[u] : null;
      if (tag) {
        p.text(tag, left - 10 - layout.labelW, y, { font: SMALL_FONT, colour: palette.muted, align: "right" });
        p.text(tag, x, top - 10 - layout.labelW, {
          font: SMALL_FONT,
          colour: palette.muted,
          align: "left",
          rotate: -Math.PI / 2,
        });
      }
    }
    if (syntax.hasSyntax) {
      const y0 = layout.arcsH + 4;
      const pts: number[] = [];
      const labels = new LabelPlacer("y", 10);
      for (const arc of syntax.arcs) {
        const xa = left + (arc.dependent + 0.5) * cell;
        const xb = left + (arc.head + 0.5) * cell;
        const depth = arcDepth(arc.dependent - arc.head, layout.arcsH - 6);
        pts.push(xb, y0, (xa + xb) / 2, y0 - 2 * depth, xa, y0);
        const w = measureText(arc.label, SMALL_FONT);
        const shift = cell >= 10 ? labels.place((xa + xb) / 2 - w / 2, y0 - depth - 11, w, 11) : null;
        if (shift !== null) {
          p.text(arc.label, (xa + xb) / 2, y0 - depth - 5 + shift, { font: SMALL_FONT, colour: palette.muted, align: "center" });
        }
      }
      p.curves(pts, palette.arc, 1);
    }
    const shaded = scene.causal ? "shaded: causal mask" : rowOn || colOn ? "shaded: outside the rows and columns shown" : "";
    p.text(shaded, left + m * cell, layout.height - 6, {
      font: SMALL_FONT,
      colour: palette.muted,
      align: "right",
    });
  }

  private paintCrosshair(p: Painter, scene: Scene, l: MatrixLayout, row: number, col: number) {
    const { left, top, cell, n, cols } = l;
    p.strokeRect(left, top + row * cell, cols * cell, cell, scene.palette.muted, 1);
    p.strokeRect(left + col * cell, top, cell, n * cell, scene.palette.muted, 1);
    p.strokeRect(left + col * cell - 1, top + row * cell - 1, cell + 2, cell + 2, scene.palette.foreground, 2);
  }
}

export type { Focus };
