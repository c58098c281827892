// Matrix view of a long input: a viewport onto the T x T matrix that zooms (wheel, or
// +/-) and pans (drag, arrow keys) from the whole matrix down to single cells. Far out it
// draws the layer's max-pooled overview (a block's strongest weight, so one strong cell
// is never averaged away); closer in it asks for tiles of 256 x 256 cells at r tokens a
// cell (r a power of two, r = 1 exact), drawing the overview underneath until they come.
// Token labels appear once a cell is 10 px; hover gives the exact weight of the cell.
// With syntax, as the short matrix view: cells of a word and its head or dependent are
// outlined once cells are 4 px (found per row in view, DependencyIndex.pairsIn), and the
// labels carry the part-of-speech tags.

import type { DependencyIndex } from "../data/dependency_index";
import type { LongSource, Overview, Tile } from "../data/long_source";
import { headColour, ramp } from "../draw/colours";
import { FONT, SMALL_FONT, shortLabel } from "../draw/layout";
import { Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";

export const PLOT = 640; // plot side, CSS px
export const TILE = 256; // cells a side of a tile
const LEFT = 120; // margins for the axis labels
const TOP = 120;
const TAGGED = 160; // the margins with syntax: room for a part-of-speech tag beside each label
const MAX_SCALE = 40; // px per token at the deepest zoom
const LABEL_SCALE = 10; // px per token from which token labels (and tags) are drawn
const OUTLINE_SCALE = 4; // px per token from which dependency cells are outlined (as the short view)

export interface LongMatrixScene {
  layer: number;
  heads: number[];
  n: number; // tokens
  causal: boolean;
  hideFirst: boolean;
  labels: string[];
  palette: Palette;
  block: number; // tokens per overview cell
  /** The input's dependencies (null: no syntax). */
  deps: DependencyIndex | null;
}

export interface LongCell {
  row: number;
  col: number;
  value: number;
  exact: boolean; // false: the largest weight of an r x r block (r in `block`)
  block: number;
}

export interface LongMatrixHandlers {
  hover(cell: LongCell | null, ev: MouseEvent): void;
  click(cell: { row: number; col: number } | null): void;
  changed(): void; // the viewport moved: redraw
  status(text: string): void;
}

export class LongMatrixView {
  readonly surface: Surface;
  private scene: LongMatrixScene | null = null;
  private x0 = 0; // first key shown (token units, fractional)
  private y0 = 0; // first query shown
  private scale = 1; // px per token
  private fitted = -1; // the n the viewport was fitted to
  private drag: { x: number; y: number; x0: number; y0: number } | null = null;
  private notice = ""; // a host's refusal (e.g. an exported file that lacks the detail)
  private asked = new Set<string>();
  private left = LEFT;
  private top = TOP;

  constructor(
    host: HTMLElement,
    private source: LongSource,
    private handlers: LongMatrixHandlers,
  ) {
    this.surface = new Surface(
      host,
      "aw-canvas aw-matrix aw-long-matrix",
      "attention matrix: query rows, key columns; wheel zooms, drag pans",
    );
    const c = this.surface.canvas;
    c.tabIndex = 0;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [x, y] = this.surface.local(ev);
      this.zoomAt(x - this.left, y - this.top, ev.deltaY < 0 ? 1.5 : 1 / 1.5);
    });
    c.addEventListener("mousedown", (ev) => {
      const [x, y] = this.surface.local(ev);
      this.drag = { x, y, x0: this.x0, y0: this.y0 };
    });
    c.addEventListener("mouseup", () => (this.drag = null));
    c.addEventListener("mousemove", (ev) => {
      const [x, y] = this.surface.local(ev);
      if (this.drag && (Math.abs(x - this.drag.x) > 2 || Math.abs(y - this.drag.y) > 2)) {
        this.x0 = this.drag.x0 - (x - this.drag.x) / this.scale;
        this.y0 = this.drag.y0 - (y - this.drag.y) / this.scale;
        this.clamp();
        this.handlers.changed();
        return;
      }
      void this.hover(x, y, ev);
    });
    c.addEventListener("mouseleave", (ev) => {
      this.drag = null;
      handlers.hover(null, ev);
    });
    c.addEventListener("dblclick", (ev) => {
      const [x, y] = this.surface.local(ev);
      this.zoomAt(x - this.left, y - this.top, 4);
    });
    c.addEventListener("keydown", (ev) => {
      const step = PLOT / 4 / this.scale;
      const moves: Record<string, () => void> = {
        "+": () => this.zoomAt(PLOT / 2, PLOT / 2, 1.5),
        "=": () => this.zoomAt(PLOT / 2, PLOT / 2, 1.5),
        "-": () => this.zoomAt(PLOT / 2, PLOT / 2, 1 / 1.5),
        "0": () => this.fit(),
        ArrowLeft: () => (this.x0 -= step),
        ArrowRight: () => (this.x0 += step),
        ArrowUp: () => (this.y0 -= step),
        ArrowDown: () => (this.y0 += step),
      };
      const move = moves[ev.key];
      if (!move) return;
      ev.preventDefault();
      move();
      this.clamp();
      this.handlers.changed();
    });
  }

  /** Tokens per pixel now, and the tile level used (0: the overview). */
  get zoom(): { tokensPerPx: number; r: number; x0: number; y0: number } {
    return { tokensPerPx: 1 / this.scale, r: this.level(), x0: this.x0, y0: this.y0 };
  }

  /** Show rows/columns around (i, j) at `pxPerToken` (tests, hosts). */
  centreOn(i: number, j: number, pxPerToken: number) {
    this.scale = Math.min(MAX_SCALE, pxPerToken);
    this.y0 = i + 0.5 - PLOT / 2 / this.scale;
    this.x0 = j + 0.5 - PLOT / 2 / this.scale;
    this.clamp();
    this.handlers.changed();
  }

  private fit() {
    if (!this.scene) return;
    this.scale = PLOT / this.scene.n;
    this.x0 = this.y0 = 0;
  }

  private zoomAt(px: number, py: number, factor: number) {
    if (!this.scene) return;
    const ti = this.y0 + py / this.scale;
    const tj = this.x0 + px / this.scale;
    this.scale = Math.max(PLOT / this.scene.n, Math.min(MAX_SCALE, this.scale * factor));
    this.y0 = ti - py / this.scale;
    this.x0 = tj - px / this.scale;
    this.clamp();
    this.handlers.changed();
  }

  private clamp() {
    if (!this.scene) return;
    const span = PLOT / this.scale;
    const n = this.scene.n;
    this.x0 = Math.max(0, Math.min(n - span, this.x0));
    this.y0 = Math.max(0, Math.min(n - span, this.y0));
  }

  /** Tokens per tile cell: a power of two >= tokens per px; 0 when the overview is as fine. */
  private level(): number {
    if (!this.scene) return 0;
    const tpp = 1 / this.scale;
    const r = 2 ** Math.max(0, Math.ceil(Math.log2(Math.max(1, tpp)) - 1e-9));
    return r >= this.scene.block ? 0 : r;
  }

  private tilesInView(r: number): [number, number][] {
    const span = PLOT / this.scale;
    const side = TILE * r;
    const n = this.scene!.n;
    const out: [number, number][] = [];
    for (let ty = Math.floor(this.y0 / side); ty <= Math.floor(Math.min(n - 1, this.y0 + span) / side); ty++) {
      for (let tx = Math.floor(this.x0 / side); tx <= Math.floor(Math.min(n - 1, this.x0 + span) / side); tx++) {
        if (this.scene!.causal && tx * side > (ty + 1) * side - 1) continue; // wholly above the diagonal
        out.push([ty, tx]);
      }
    }
    return out;
  }

  render(scene: LongMatrixScene, overview: Overview | null, hover: { row: number; col: number } | null) {
    if (!this.scene || this.scene.n !== scene.n || this.fitted !== scene.n) {
      this.scene = scene;
      this.fitted = scene.n;
      this.fit();
    }
    this.scene = scene;
    this.left = this.top = scene.deps ? TAGGED : LEFT;
    const { palette } = scene;
    const width = this.left + PLOT + 10;
    const height = this.top + PLOT + 24;
    const p = this.surface.painter(width, height);
    p.fill(palette.background);
    const r = this.level();
    const tiles: Tile[] = [];
    let missing = 0;
    if (r > 0) {
      for (const [ty, tx] of this.tilesInView(r)) {
        const key = this.source.tileKey(scene.layer, scene.heads, r, ty, tx, TILE);
        const t = this.source.peek<Tile>(key);
        if (t) tiles.push(t);
        else {
          missing++;
          if (!this.asked.has(key)) {
            this.asked.add(key);
            this.source.tile(scene.layer, scene.heads, r, ty, tx, TILE).then(
              () => {
                this.asked.delete(key);
                this.handlers.changed();
              },
              (err: Error) => {
                this.notice = err.message;
                this.handlers.changed();
              },
            );
          }
        }
      }
    }
    const rgba = this.pixels(scene, overview, tiles);
    p.pixels(rgba, PLOT, PLOT, this.left, this.top, PLOT, PLOT);
    p.strokeRect(this.left - 0.5, this.top - 0.5, PLOT + 1, PLOT + 1, palette.grid);
    const related = this.paintRelated(scene);
    const tags = this.paintLabels(scene);
    if (hover) this.paintCrosshair(hover);
    const span = PLOT / this.scale;
    const rows = `${Math.floor(this.y0)}–${Math.min(scene.n, Math.ceil(this.y0 + span)) - 1}`;
    const cols = `${Math.floor(this.x0)}–${Math.min(scene.n, Math.ceil(this.x0 + span)) - 1}`;
    const detail =
      r === 1
        ? "1 token per cell (exact)"
        : `${r || scene.block} tokens per cell (the largest weight of each block${scene.heads.length > 1 ? " over the selected heads" : ""})`;
    const what =
      scene.heads.length === 1 ? `head ${scene.heads[0]}` : r === 1 ? `mean of ${scene.heads.length} heads` : `${scene.heads.length} heads`;
    const text = `layer ${scene.layer} · ${what} · queries ${rows} × keys ${cols} · ${detail}${missing ? ` · loading ${missing} tile${missing > 1 ? "s" : ""}…` : ""} · wheel zooms, drag pans, 0 shows all`;
    this.handlers.status(this.notice ? `${this.notice} · ${text}` : text);
    if (this.notice) {
      p.rect(this.left, this.top + PLOT - 40, PLOT, 40, palette.background, 0.85);
      p.text(this.notice, this.left + 8, this.top + PLOT - 20, { font: SMALL_FONT, colour: palette.foreground });
    }
    const root = this.surface.canvas.closest(".aw-root") as HTMLElement | null;
    if (root) root.dataset.zoom = JSON.stringify({ ...this.zoom, missing, notice: this.notice, related, tags });
  }

  /** The plot's RGBA: the overview everywhere, tiles on top where they have come. */
  private pixels(scene: LongMatrixScene, overview: Overview | null, tiles: Tile[]): Uint8ClampedArray {
    const { palette, heads, causal, n } = scene;
    const lut = ramp(palette.background, heads.length === 1 ? headColour(heads[0]) : palette.accentFont);
    const mask = ramp(palette.mask, palette.mask);
    const rgba = new Uint8ClampedArray(PLOT * PLOT * 4);
    const iy = new Int32Array(PLOT);
    const jx = new Int32Array(PLOT);
    for (let k = 0; k < PLOT; k++) {
      iy[k] = Math.floor(this.y0 + (k + 0.5) / this.scale);
      jx[k] = Math.floor(this.x0 + (k + 0.5) / this.scale);
    }
    const cells = overview?.cells ?? 0;
    const block = overview?.block ?? 1;
    for (let y = 0; y < PLOT; y++) {
      const i = iy[y];
      for (let x = 0; x < PLOT; x++) {
        const j = jx[x];
        const at = (y * PLOT + x) * 4;
        if (i >= n || j >= n || (causal && j > i)) {
          rgba.set(mask.subarray(0, 4), at);
          continue;
        }
        let q = 0;
        if (overview) {
          const c = Math.floor(i / block) * cells + Math.floor(j / block);
          for (const h of heads) q = Math.max(q, overview.data[h * cells * cells + c] ?? 0);
        }
        rgba.set(lut.subarray(q * 4, q * 4 + 4), at);
      }
    }
    for (const t of tiles) {
      const side = t.cells * t.r;
      for (let y = 0; y < PLOT; y++) {
        const i = iy[y] - t.r0;
        if (i < 0 || i >= side || iy[y] >= n) continue;
        for (let x = 0; x < PLOT; x++) {
          const j = jx[x] - t.c0;
          if (j < 0 || j >= side || jx[x] >= n || (causal && jx[x] > iy[y])) continue;
          const v = t.data[Math.floor(i / t.r) * t.cells + Math.floor(j / t.r)];
          const q = Math.round(Math.sqrt(Math.min(1, Math.max(0, v))) * 255);
          rgba.set(lut.subarray(q * 4, q * 4 + 4), (y * PLOT + x) * 4);
        }
      }
    }
    return rgba;
  }

  /** Outline the cells in view whose query and key are a word and its head or dependent; returns how many. */
  private paintRelated(scene: LongMatrixScene): number {
    if (!scene.deps || this.scale < OUTLINE_SCALE) return 0;
    const p = this.surface.painter(this.surface.width, this.surface.height);
    const span = PLOT / this.scale;
    const s = this.scale;
    const pairs = scene.deps.pairsIn(
      Math.floor(this.y0),
      Math.ceil(this.y0 + span),
      Math.floor(this.x0),
      Math.ceil(this.x0 + span),
      scene.causal,
    );
    for (const { row, col } of pairs) {
      const x = this.left + (col - this.x0) * s;
      const y = this.top + (row - this.y0) * s;
      if (x < this.left - 0.5 || y < this.top - 0.5 || x + s > this.left + PLOT + 0.5 || y + s > this.top + PLOT + 0.5) continue; // cut by the edge
      p.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1, scene.palette.foreground, 1);
    }
    return pairs.length;
  }

  /** Token labels (with their tags) or positions along the axes; returns how many tags were drawn. */
  private paintLabels(scene: LongMatrixScene): number {
    const p = this.surface.painter(this.surface.width, this.surface.height);
    const { palette, labels, n, deps } = scene;
    const span = PLOT / this.scale;
    const first = Math.max(0, Math.floor(this.y0));
    const firstCol = Math.max(0, Math.floor(this.x0));
    if (this.scale >= LABEL_SCALE) {
      let tags = 0;
      // The tag goes beyond the label, on the side away from the plot (as the short view).
      const tagged = (t: number, text: string, at: (past: number) => void) => {
        const tag = deps?.tag(t);
        if (!tag) return;
        at(p.measure(text, FONT) + 10);
        tags++;
      };
      for (let i = first; i < Math.min(n, this.y0 + span); i++) {
        const y = this.top + (i + 0.5 - this.y0) * this.scale;
        const text = `${shortLabel(labels[i])} ${i}`;
        p.text(text, this.left - 6, y, { font: FONT, colour: palette.foreground, align: "right" });
        tagged(i, text, (past) => p.text(deps!.tag(i)!, this.left - past, y, { font: SMALL_FONT, colour: palette.muted, align: "right" }));
      }
      for (let j = firstCol; j < Math.min(n, this.x0 + span); j++) {
        const x = this.left + (j + 0.5 - this.x0) * this.scale;
        const text = `${shortLabel(labels[j])} ${j}`;
        p.text(text, x, this.top - 6, {
          font: FONT,
          colour: palette.foreground,
          align: "left",
          rotate: -Math.PI / 2,
        });
        tagged(j, text, (past) =>
          p.text(deps!.tag(j)!, x, this.top - past, { font: SMALL_FONT, colour: palette.muted, align: "left", rotate: -Math.PI / 2 }),
        );
      }
      return tags;
    }
    // Too small for words: token positions along each axis.
    const step = 10 ** Math.ceil(Math.log10(Math.max(1, 60 / this.scale)));
    for (let t = Math.ceil(this.y0 / step) * step; t < this.y0 + span; t += step) {
      p.text(String(t), this.left - 6, this.top + (t - this.y0) * this.scale, { font: SMALL_FONT, colour: palette.muted, align: "right" });
    }
    for (let t = Math.ceil(this.x0 / step) * step; t < this.x0 + span; t += step) {
      p.text(String(t), this.left + (t - this.x0) * this.scale, this.top - 6, {
        font: SMALL_FONT,
        colour: palette.muted,
        align: "left",
        rotate: -Math.PI / 2,
      });
    }
    return 0;
  }

  private paintCrosshair(cell: { row: number; col: number }) {
    const p = this.surface.painter(this.surface.width, this.surface.height);
    const s = Math.max(1, this.scale);
    const x = this.left + (cell.col - this.x0) * this.scale;
    const y = this.top + (cell.row - this.y0) * this.scale;
    if (x < this.left || y < this.top || x > this.left + PLOT || y > this.top + PLOT) return;
    p.strokeRect(x - 1, y - 1, s + 2, s + 2, this.scene!.palette.foreground, 2);
  }

  /** The cell under (x, y) and its value: exact from an r = 1 tile or the kernel, else its block's largest. */
  private async hover(x: number, y: number, ev: MouseEvent) {
    const s = this.scene;
    if (!s) return;
    const px = x - this.left;
    const py = y - this.top;
    if (px < 0 || py < 0 || px >= PLOT || py >= PLOT) return this.handlers.hover(null, ev);
    const row = Math.floor(this.y0 + py / this.scale);
    const col = Math.floor(this.x0 + px / this.scale);
    if (row >= s.n || col >= s.n) return this.handlers.hover(null, ev);
    if (s.causal && col > row) return this.handlers.hover({ row, col, value: 0, exact: true, block: 1 }, ev);
    const r = this.level();
    if (r === 1) {
      const ty = Math.floor(row / TILE);
      const tx = Math.floor(col / TILE);
      const t = this.source.peek<Tile>(this.source.tileKey(s.layer, s.heads, 1, ty, tx, TILE));
      if (t) return this.handlers.hover({ row, col, value: t.data[(row - t.r0) * TILE + (col - t.c0)], exact: true, block: 1 }, ev);
    }
    try {
      const value = await this.source.value(s.layer, s.heads, row, col);
      this.handlers.hover({ row, col, value, exact: true, block: 1 }, ev);
    } catch (err) {
      this.notice = (err as Error).message;
      this.handlers.hover(null, ev);
      this.handlers.changed();
    }
  }

  /** Forget tiles asked for and the host's notice (a new layer or heads). */
  reset() {
    this.asked.clear();
    this.notice = "";
  }
}
