// Matrix view: a heatmap of one head (or the mean of the selected heads), query
// units down the side, key units along the top, the causal mask drawn as its own
// shade, the value under the pointer in a tooltip. Syntax: dependency arcs over
// the key axis, UPOS beside the labels, related cells outlined. A sentence pair's
// block (pair_filter) shows only its rows x columns (scene.drawn's axes); hover and
// click report original units.

import { originalUnit, shownArcs } from "../data/filters";
import type { Focus } from "../data/prune";
import type { Scene } from "../data/scene";
import { arcDepth } from "../data/syntax";
import { colsOf, meanOfHeads } from "../data/transform";
import { headColour, ramp } from "../draw/colours";
import { FONT, hitMatrix, type MatrixLayout, matrixLayout, SMALL_FONT, shortLabel } from "../draw/layout";
import { measureText, type Painter } from "../draw/painter";
import { Snapshot, Surface } from "../draw/surface";
import { ArcLabels } from "./arc_labels";

export interface CellHandlers {
  hover(cell: { row: number; col: number; value: number } | null, ev: MouseEvent): void;
  click(cell: { row: number; col: number } | null): void;
}

export class MatrixView {
  readonly surface: Surface;
  private snapshot = new Snapshot();
  private layout: MatrixLayout | null = null;
  private values: Float32Array | null = null;
  private axes: Scene["drawn"] | null = null;
  private cols = 0; // columns of `values`

  constructor(host: HTMLElement, handlers: CellHandlers) {
    this.surface = new Surface(host, "aw-canvas aw-matrix", "attention matrix: query rows, key columns");
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => {
      const cell = this.hit(ev);
      handlers.hover(cell && this.values ? { ...cell, value: this.values[cell.row * this.cols + cell.col] } : null, ev);
    });
    c.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
  }

  /** The cell under the pointer, as original units (row = query, col = key). */
  private hit(ev: MouseEvent) {
    if (!this.layout || !this.axes) return null;
    const [x, y] = this.surface.local(ev);
    const cell = hitMatrix(this.layout, x, y);
    return cell && { row: originalUnit(this.axes, cell.row, "query"), col: originalUnit(this.axes, cell.col, "key") };
  }

  layoutFor(scene: Scene): MatrixLayout {
    const { rowAxis, colAxis } = scene.drawn;
    let w = 20;
    for (const u of rowAxis.units) w = Math.max(w, measureText(shortLabel(scene.syntax.labels[u]), FONT));
    for (const u of colAxis.units) w = Math.max(w, measureText(shortLabel(scene.keyLabels[u]), FONT));
    return matrixLayout(rowAxis.units.length, Math.ceil(w) + 6, scene.syntax.hasSyntax, 640, colAxis.units.length);
  }

  /** The values shown: the single selected head, or the mean of the selected heads (one float32
   * plane read through the layer's transforms, made once per layer and heads, not per hover). */
  private valuesOf(scene: Scene): Float32Array {
    const made = this.made;
    const heads = scene.heads.join();
    if (made && made.matrix === scene.matrix && made.heads === heads) return made.values;
    const values = meanOfHeads(scene.matrix, scene.heads);
    this.made = { matrix: scene.matrix, heads, values };
    return values;
  }
  private made: { matrix: Scene["matrix"]; heads: string; values: Float32Array } | null = null;

  /** `hover`: the cell under the pointer, as original units. */
  render(scene: Scene, hover: { row: number; col: number } | null): void {
    const layout = this.layoutFor(scene);
    this.layout = layout;
    this.axes = scene.drawn;
    this.values = this.valuesOf(scene);
    this.cols = colsOf(scene.matrix);
    const p = this.surface.painter(layout.width, layout.height);
    const key = `${scene.key}|m|${scene.palette.name}|${scene.selected?.unit}|${scene.selected?.role}`;
    if (!this.snapshot.restore(key, this.surface.canvas)) {
      this.paint(p, scene, layout);
      this.snapshot.store(key, this.surface.canvas);
    }
    if (hover) {
      const row = scene.drawn.rowAxis.pos[hover.row] ?? -1;
      const col = scene.drawn.colAxis.pos[hover.col] ?? -1;
      if (row >= 0 && col >= 0) this.paintCrosshair(p, scene, layout, row, col);
    }
  }

  paint(p: Painter, scene: Scene, layout = this.layoutFor(scene)): void {
    const { palette, syntax } = scene;
    const n = layout.n; // rows shown
    const m = layout.cols; // columns shown
    const cols = colsOf(scene.matrix);
    const values = this.valuesOf(scene);
    const colour = scene.heads.length === 1 ? headColour(scene.heads[0]) : palette.accentFont;
    const lut = ramp(palette.background, colour);
    const mask = ramp(palette.mask, palette.mask);
    const { rows: rowOn, cols: colOn, split, rowAxis, colAxis } = scene.drawn;
    const R = rowAxis.units;
    const C = colAxis.units;
    const rgba = new Uint8ClampedArray(n * m * 4);
    for (let i = 0; i < n; i++) {
      const u = R[i];
      for (let j = 0; j < m; j++) {
        const v = C[j];
        // The causal mask, and cells outside the generation step, share one shade.
        const masked = (scene.causal && v > u) || (rowOn !== null && !rowOn[u]) || (colOn !== null && !colOn[v]);
        const q = masked ? 0 : Math.round(Math.sqrt(Math.min(1, values[u * cols + v])) * 255);
        rgba.set((masked ? mask : lut).subarray(q * 4, q * 4 + 4), (i * m + j) * 4);
      }
    }
    p.fill(palette.background);
    const { left, top, cell } = layout;
    p.pixels(rgba, m, n, left, top, m * cell, n * cell);
    p.strokeRect(left - 0.5, top - 0.5, m * cell + 1, n * cell + 1, palette.grid);
    // Where the second part starts (sentence B, generated text), on each axis that shows both parts.
    const divider: number[] = [];
    if (rowAxis.split !== null) {
      const yx = top + rowAxis.split * cell;
      divider.push(left - 4, yx, left + m * cell, yx);
    }
    if (colAxis.split !== null) {
      const xy = left + colAxis.split * cell;
      divider.push(xy, top - 4, xy, top + n * cell);
    }
    if (divider.length) p.segments(divider, palette.foreground, 0.8, 1.5, [5, 3]);

    // Cells where attention coincides with a dependency relation.
    if (syntax.hasSyntax && cell >= 4) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          if ((!scene.causal || C[j] <= R[i]) && syntax.related(R[i], C[j])) {
            p.strokeRect(left + j * cell + 0.5, top + i * cell + 0.5, cell - 1, cell - 1, palette.foreground, 1);
          }
        }
      }
    }
    if (scene.selected) {
      const query = scene.selected.role === "query";
      const at = (query ? rowAxis : colAxis).pos[scene.selected.unit] ?? -1;
      if (at >= 0 && query) p.strokeRect(left, top + at * cell, m * cell, cell, palette.foreground, 2);
      else if (at >= 0) p.strokeRect(left + at * cell, top, cell, n * cell, palette.foreground, 2);
    }

    // Axis labels: every labelStep-th unit when cells are smaller than the text.
    const step = layout.labelStep;
    const colourOf = (u: number, on: Uint8Array | null) =>
      on && !on[u] ? palette.muted : split !== null && u >= split ? palette.accentFont : palette.foreground;
    for (let k = 0; k < Math.max(n, m); k += step) {
      const y = top + (k + 0.5) * cell;
      const x = left + (k + 0.5) * cell;
      if (k < n) {
        const u = R[k];
        p.text(shortLabel(syntax.labels[u]), left - 6, y, { font: FONT, colour: colourOf(u, rowOn), align: "right" });
        const tag = syntax.upos?.[u];
        if (tag) p.text(tag, left - 10 - layout.labelW, y, { font: SMALL_FONT, colour: palette.muted, align: "right" });
      }
      if (k < m) {
        const v = C[k];
        p.text(shortLabel(scene.keyLabels[v]), x, top - 6, { font: FONT, colour: colourOf(v, colOn), align: "left", rotate: -Math.PI / 2 });
        const tag = syntax.upos?.[v];
        if (tag) {
          p.text(tag, x, top - 10 - layout.labelW, {
            font: SMALL_FONT,
            colour: palette.muted,
            align: "left",
            rotate: -Math.PI / 2,
          });
        }
      }
    }
    if (syntax.hasSyntax) {
      const y0 = layout.arcsH + 4;
      const pts: number[] = [];
      const labels = new ArcLabels("y", 10);
      // Arcs run over the key axis: only those between two shown keys.
      for (const arc of shownArcs(syntax.arcs, colAxis)) {
        const xa = left + (arc.dependent + 0.5) * cell;
        const xb = left + (arc.head + 0.5) * cell;
        const depth = arcDepth(arc.dependent - arc.head, layout.arcsH - 6);
        pts.push(xb, y0, (xa + xb) / 2, y0 - 2 * depth, xa, y0);
        const w = measureText(arc.label, SMALL_FONT);
        if (cell >= 10) labels.add(arc.label, (xa + xb) / 2 - w / 2, y0 - depth - 11, w, 11);
      }
      p.curves(pts, palette.arc, 1);
      labels.paint(p, palette, SMALL_FONT);
      this.hiddenArcLabels = cell >= 10 ? labels.hidden : shownArcs(syntax.arcs, colAxis).length;
    }
    const stepShade = (rowOn !== null && R.some((u) => !rowOn[u])) || (colOn !== null && C.some((v) => !colOn[v]));
    const shaded = scene.causal ? "shaded: causal mask" : stepShade ? "shaded: outside the rows and columns shown" : "";
    p.text(shaded, left + m * cell, layout.height - 6, {
      font: SMALL_FONT,
      colour: palette.muted,
      align: "right",
    });
  }

  /** Relation labels of the last drawing left out for want of space (the legend says so). */
  hiddenArcLabels = 0;

  private paintCrosshair(p: Painter, scene: Scene, l: MatrixLayout, row: number, col: number) {
    const { left, top, cell, n, cols } = l;
    p.strokeRect(left, top + row * cell, cols * cell, cell, scene.palette.muted, 1);
    p.strokeRect(left + col * cell, top, cell, n * cell, scene.palette.muted, 1);
    p.strokeRect(left + col * cell - 1, top + row * cell - 1, cell + 2, cell + 2, scene.palette.foreground, 2);
  }
}

export type { Focus };
