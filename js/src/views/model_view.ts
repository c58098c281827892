// Model view: every layer x head as a small heatmap on one canvas (thousands of
// SVG lines would stall the page). Thumbnails are block-max downsampled on the
// Python side and fetched only when this view is first opened. Clicking a
// thumbnail opens that head large in the matrix view. A sentence pair's block
// (pair_filter) shows only that block of each thumbnail, as large as it fits.

import type { Thumbnails } from "../data/attention_source";
import { headColour, ramp } from "../draw/colours";
import { type GridLayout, gridLayout, hitGrid, SMALL_FONT, thumbOrigin } from "../draw/layout";
import type { Painter } from "../draw/painter";
import { Snapshot, Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";

export interface ModelViewScene {
  palette: Palette;
  thumbs: Thumbnails | null;
  layers: number;
  heads: number;
  causal: boolean;
  layer: number;
  selectedHeads: number[];
  /** Thumbnail cells shown, rows [r0, r1) x columns [c0, c1) (filters.thumbWindow); null = all. */
  window: { r0: number; r1: number; c0: number; c1: number } | null;
}

export interface GridHandlers {
  hover(target: { layer: number; head: number } | null, ev: MouseEvent): void;
  click(target: { layer: number; head: number } | null): void;
}

export class ModelView {
  readonly surface: Surface;
  private snapshot = new Snapshot();
  private layout: GridLayout | null = null;

  constructor(host: HTMLElement, handlers: GridHandlers) {
    this.surface = new Surface(host, "aw-canvas aw-model", "attention of every layer and head");
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => handlers.hover(this.hit(ev), ev));
    c.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    c.addEventListener("click", (ev) => handlers.click(this.hit(ev)));
  }

  private hit(ev: MouseEvent) {
    if (!this.layout) return null;
    const [x, y] = this.surface.local(ev);
    return hitGrid(this.layout, x, y);
  }

  render(scene: ModelViewScene, hover: { layer: number; head: number } | null) {
    const layout = gridLayout(scene.layers, scene.heads);
    this.layout = layout;
    const p = this.surface.painter(layout.width, layout.height);
    const w = scene.window;
    const key =
      `${scene.palette.name}|${scene.thumbs ? scene.thumbs.data.length : 0}|${scene.layer}|${scene.selectedHeads}|` +
      (w ? `${w.r0},${w.r1},${w.c0},${w.c1}` : "all");
    if (!this.snapshot.restore(key, this.surface.canvas)) {
      this.paint(p, scene, layout);
      this.snapshot.store(key, this.surface.canvas);
    }
    if (hover) {
      const [x, y] = thumbOrigin(layout, hover.layer, hover.head);
      p.strokeRect(x - 1.5, y - 1.5, layout.thumb + 3, layout.thumb + 3, scene.palette.foreground, 2);
    }
  }

  paint(p: Painter, scene: ModelViewScene, layout = gridLayout(scene.layers, scene.heads)) {
    const { palette, thumbs } = scene;
    p.fill(palette.background);
    for (let h = 0; h < scene.heads; h++) {
      const [x] = thumbOrigin(layout, 0, h);
      p.text(String(h), x + layout.thumb / 2, 10, { font: SMALL_FONT, colour: headColour(h), align: "center" });
    }
    for (let l = 0; l < scene.layers; l++) {
      const [, y] = thumbOrigin(layout, l, 0);
      p.text(`L${l}`, layout.left - 6, y + layout.thumb / 2, { font: SMALL_FONT, colour: palette.muted, align: "right" });
    }
    if (!thumbs) {
      p.text("loading thumbnails…", layout.left, layout.top + 20, { font: SMALL_FONT, colour: palette.muted });
      return;
    }
    const S = thumbs.size;
    const mask = ramp(palette.mask, palette.mask);
    // The cells shown, and their place in the square: a block keeps its aspect, centred.
    const win = scene.window ?? { r0: 0, r1: S, c0: 0, c1: S };
    const r0 = Math.max(0, Math.min(S - 1, win.r0));
    const c0 = Math.max(0, Math.min(S - 1, win.c0));
    const rows = Math.max(1, Math.min(S, win.r1) - r0);
    const cols = Math.max(1, Math.min(S, win.c1) - c0);
    const scale = layout.thumb / Math.max(rows, cols);
    const dw = cols * scale;
    const dh = rows * scale;
    for (let l = 0; l < thumbs.layers; l++) {
      for (let h = 0; h < thumbs.heads; h++) {
        const lut = ramp(palette.background, headColour(h));
        const rgba = new Uint8ClampedArray(rows * cols * 4);
        const base = (l * thumbs.heads + h) * S * S;
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            const masked = scene.causal && c0 + j > r0 + i;
            const q = thumbs.data[base + (r0 + i) * S + c0 + j];
            rgba.set((masked ? mask : lut).subarray(q * 4, q * 4 + 4), (i * cols + j) * 4);
          }
        }
        const [x, y] = thumbOrigin(layout, l, h);
        p.pixels(rgba, cols, rows, x + (layout.thumb - dw) / 2, y + (layout.thumb - dh) / 2, dw, dh);
        const current = l === scene.layer && scene.selectedHeads.includes(h);
        p.strokeRect(x - 0.5, y - 0.5, layout.thumb + 1, layout.thumb + 1, current ? palette.foreground : palette.grid, current ? 1.5 : 1);
      }
    }
  }
}
