// One layer × head grid on a canvas (at most 48 × 64 cells): a cell per head,
// coloured by the metric, the selected head outlined, the hovered one ringed.

import { hexToRgb } from "../../draw/colours";
import { Surface } from "../../draw/surface";
import type { Palette } from "../../draw/theme";
import { type Range, scaled } from "../data/rank";

export interface Cell {
  layer: number;
  head: number;
}

export interface GridScene {
  palette: Palette;
  values: Float32Array; // [layers * heads]
  layers: number;
  heads: number;
  range: Range;
  selected: Cell | null;
  hovered: Cell | null;
}

export interface GridHandlers {
  hover(cell: Cell | null, ev: MouseEvent): void;
  click(cell: Cell): void;
  /** Arrow keys: move the selected head by whole layers / heads. */
  step(layers: number, heads: number): void;
}

const STEPS: Record<string, [number, number]> = {
  ArrowUp: [-1, 0],
  ArrowDown: [1, 0],
  ArrowLeft: [0, -1],
  ArrowRight: [0, 1],
};

const TITLE = 14; // the axis titles ("head", "layer") outside the numbers
const LEFT = TITLE + 26; // layer numbers
const TOP = TITLE + 16; // head numbers

/** Cell side in CSS pixels: large for small models, at least 8 for 64 heads. */
export function cellSize(heads: number, layers: number): number {
  return Math.max(8, Math.min(30, Math.floor(520 / heads), Math.floor(560 / layers)));
}

/** Colour of a scaled value: background → accent, or blue ← background → red when diverging. */
export function cellColour(t: number, range: Range, palette: Palette): string {
  const diverging = range.diverging;
  const bg = hexToRgb(palette.background);
  const dark = palette.name === "dark";
  const positive = hexToRgb(diverging ? (dark ? "#ff7b72" : "#c0392b") : dark ? "#79c0ff" : "#0b5cad");
  const negative = hexToRgb(dark ? "#79c0ff" : "#0b5cad");
  const to = t < 0 ? negative : positive;
  const a = range.sqrt ? Math.sqrt(Math.abs(t)) : Math.abs(t);
  const mix = (k: number) => Math.round(bg[k] + (to[k] - bg[k]) * a);
  return `rgb(${mix(0)},${mix(1)},${mix(2)})`;
}

export class GridView {
  readonly surface: Surface;
  private scene: GridScene | null = null;
  private colours: { values: Float32Array; range: Range; palette: Palette; fill: string[] } | null = null;

  constructor(host: HTMLElement, handlers: GridHandlers) {
    this.surface = new Surface(host, "ax-grid");
    const canvas = this.surface.canvas;
    canvas.setAttribute("role", "grid");
    canvas.setAttribute("aria-label", "layer × head grid: arrow keys move the selected head");
    canvas.tabIndex = 0;
    canvas.addEventListener("keydown", (ev) => {
      const step = STEPS[ev.key];
      if (!step) return;
      ev.preventDefault();
      handlers.step(step[0], step[1]);
    });
    canvas.addEventListener("mousemove", (ev) => handlers.hover(this.hit(ev), ev));
    canvas.addEventListener("mouseleave", (ev) => handlers.hover(null, ev));
    canvas.addEventListener("click", (ev) => {
      const cell = this.hit(ev);
      if (cell) handlers.click(cell);
    });
  }

  /** Height of the grid above its first row, and of a row (the layer lines align to them). */
  static rows(layers: number, heads: number): { top: number; cell: number; height: number } {
    const c = cellSize(heads, layers);
    return { top: TOP, cell: c, height: TOP + layers * c + 2 };
  }

  private hit(ev: MouseEvent): Cell | null {
    const s = this.scene;
    if (!s) return null;
    const [x, y] = this.surface.local(ev);
    const c = cellSize(s.heads, s.layers);
    const head = Math.floor((x - LEFT) / c);
    const layer = Math.floor((y - TOP) / c);
    return head >= 0 && head < s.heads && layer >= 0 && layer < s.layers ? { layer, head } : null;
  }

  /** Cell colours, kept while the values, range and palette stay (hover redraws often). */
  private fills(s: GridScene): string[] {
    const c = this.colours;
    if (c && c.values === s.values && c.range === s.range && c.palette === s.palette) return c.fill;
    const fill = Array.from(s.values, (v) => (Number.isFinite(v) ? cellColour(scaled(v, s.range), s.range, s.palette) : s.palette.mask));
    this.colours = { values: s.values, range: s.range, palette: s.palette, fill };
    return fill;
  }

  /** "head →" over the head numbers, "← layer" beside the layer numbers (read bottom-up). */
  private paintAxisTitles(ctx: CanvasRenderingContext2D, p: Palette, gridW: number, gridH: number) {
    ctx.save();
    ctx.font = "600 10px system-ui, sans-serif";
    ctx.fillStyle = p.foreground;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("head →", LEFT + gridW / 2, TITLE / 2 + 1);
    ctx.translate(TITLE / 2, TOP + gridH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText("← layer", 0, 0);
    ctx.restore();
  }

  render(scene: GridScene) {
    this.scene = scene;
    const { palette: p, layers: L, heads: H } = scene;
    const c = cellSize(H, L);
    const width = LEFT + H * c + 2;
    const height = TOP + L * c + 2;
    this.surface.painter(width, height);
    Object.assign(this.surface.canvas.dataset, { left: LEFT, top: TOP, cell: c, layers: L, heads: H }); // where a head is (tests)
    const ctx = this.surface.canvas.getContext("2d")!;
    ctx.fillStyle = p.background;
    ctx.fillRect(0, 0, width, height);
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = p.muted;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const every = c >= 14 ? 1 : Math.ceil(14 / c); // keep numbers from overlapping
    for (let h = 0; h < H; h += every) ctx.fillText(String(h), LEFT + (h + 0.5) * c, TITLE + (TOP - TITLE) / 2);
    ctx.textAlign = "right";
    for (let l = 0; l < L; l += every) ctx.fillText(String(l), LEFT - 4, TOP + (l + 0.5) * c);
    this.paintAxisTitles(ctx, p, H * c, L * c);
    const fill = this.fills(scene);
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        ctx.fillStyle = fill[l * H + h];
        ctx.fillRect(LEFT + h * c, TOP + l * c, c - 1, c - 1);
      }
    }
    const ring = (cell: Cell | null, colour: string, w: number) => {
      if (!cell) return;
      ctx.strokeStyle = colour;
      ctx.lineWidth = w;
      ctx.strokeRect(LEFT + cell.head * c + w / 2 - 0.5, TOP + cell.layer * c + w / 2 - 0.5, c - w, c - w);
    };
    ring(scene.hovered, p.muted, 1.5);
    ring(scene.selected, p.name === "dark" ? "#ffd33d" : "#d4a000", 2.5);
  }
}
