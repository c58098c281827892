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
import type { LongSource, Overview, Tile, TileGrid } from "../data/long_source";
import { headColour, ramp } from "../draw/colours";
import { FONT, SMALL_FONT, shortLabel } from "../draw/layout";
import { Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";

export const PLOT = 640; // plot side, CSS px, at most (less where the stage would overflow)
export const TILE = 256; // cells a side of a tile
const LEFT = 120; // margins for the axis labels
const TOP = 120;
const TAGGED = 160; // the margins with syntax: room for a part-of-speech tag beside each label
const MAX_SCALE = 40; // px per token at the deepest zoom
const LABEL_SCALE = 10; // px per token from which token labels (and tags) are drawn
const OUTLINE_SCALE = 4; // px per token from which dependency cells are outlined (as the short view)
const STAGE = 718; // the stage's height (720 px, attention.css) less its border: the canvas fits, no scrolling
const BOTTOM = 8; // margin under the plot
const PREFETCH_TILES = 24; // tiles of the likely next steps asked for while idle (6 MB at 256 x 256)
const ZOOM = 1.5; // one wheel step

export interface LongMatrixScene {
  layer: number;
  heads: number[];
  n: number; // tokens
  causal: boolean;
  hideFirst: boolean;
  renormalise: boolean; // with hideFirst: rows divided by their mass without key 0
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
  private left = LEFT;
  private top = TOP;
  private plot = PLOT;
  private anchor: [number, number] | null = null; // where the last zoom step pointed (plot px)
  private prefetched = ""; // the view the last prefetch was for
  private rgba: Uint8ClampedArray | null = null; // the plot's pixels, reused between draws
  private shaded: { overview: Overview; heads: string; shade: Uint8Array } | null = null;

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
      this.zoomAt(x - this.left, y - this.top, ev.deltaY < 0 ? ZOOM : 1 / ZOOM);
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
      const step = this.plot / 4 / this.scale;
      const moves: Record<string, () => void> = {
        "+": () => this.zoomAt(this.plot / 2, this.plot / 2, ZOOM),
        "=": () => this.zoomAt(this.plot / 2, this.plot / 2, ZOOM),
        "-": () => this.zoomAt(this.plot / 2, this.plot / 2, 1 / ZOOM),
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
    this.y0 = i + 0.5 - this.plot / 2 / this.scale;
    this.x0 = j + 0.5 - this.plot / 2 / this.scale;
    this.clamp();
    this.handlers.changed();
  }

  private fit() {
    if (!this.scene) return;
    this.scale = this.plot / this.scene.n;
    this.x0 = this.y0 = 0;
  }

  private zoomAt(px: number, py: number, factor: number) {
    if (!this.scene) return;
    const ti = this.y0 + py / this.scale;
    const tj = this.x0 + px / this.scale;
    this.anchor = [px, py];
    this.scale = Math.max(this.plot / this.scene.n, Math.min(MAX_SCALE, this.scale * factor));
    this.y0 = ti - py / this.scale;
    this.x0 = tj - px / this.scale;
    this.clamp();
    this.handlers.changed();
  }

  private clamp() {
    if (!this.scene) return;
    const span = this.plot / this.scale;
    const n = this.scene.n;
    this.x0 = Math.max(0, Math.min(n - span, this.x0));
    this.y0 = Math.max(0, Math.min(n - span, this.y0));
  }

  /** Tokens per tile cell at `scale` px a token: a power of two >= tokens per px; 0 when the overview is as fine. */
  private level(scale = this.scale): number {
    if (!this.scene) return 0;
    const tpp = 1 / scale;
    const r = 2 ** Math.max(0, Math.ceil(Math.log2(Math.max(1, tpp)) - 1e-9));
    return r >= firstTileLevel(this.scene.block) * 2 ? 0 : r;
  }

  /** The tiles (ty, tx) at r tokens a cell that a view from (x0, y0) at `scale` shows (`margin`: tiles more each side). */
  private tilesInView(r: number, scale = this.scale, x0 = this.x0, y0 = this.y0, margin = 0): [number, number][] {
    const span = this.plot / scale;
    const side = TILE * r;
    const n = this.scene!.n;
    const last = Math.floor((n - 1) / side);
    const out: [number, number][] = [];
    const ty1 = Math.min(last, Math.floor(Math.min(n - 1, y0 + span) / side) + margin);
    const tx1 = Math.min(last, Math.floor(Math.min(n - 1, x0 + span) / side) + margin);
    for (let ty = Math.max(0, Math.floor(y0 / side) - margin); ty <= ty1; ty++) {
      for (let tx = Math.max(0, Math.floor(x0 / side) - margin); tx <= tx1; tx++) {
        if (this.scene!.causal && tx * side > (ty + 1) * side - 1) continue; // wholly above the diagonal
        out.push([ty, tx]);
      }
    }
    return out;
  }

  private grid(scene: LongMatrixScene, r: number): TileGrid {
    return { layer: scene.layer, heads: scene.heads, r, cells: TILE, hideFirst: scene.hideFirst, renormalise: scene.renormalise };
  }

  /** One request for the tiles in view not cached nor already coming; redraw when they come. */
  private fetch(grid: TileGrid, at: [number, number][], prefetch: boolean) {
    this.source.tiles(grid, at, { prefetch }).then(
      (done) => {
        if (done.asked) this.handlers.changed();
      },
      (err: Error) => {
        if (err.name === "AbortError" || prefetch) return; // superseded, or only a guess at the next step
        this.notice = err.message;
        this.handlers.changed();
      },
    );
  }

  /**
   * With every tile in view at hand, ask for those of the likely next steps while the
   * kernel is idle: from the whole matrix every tile of the first tile level; a wheel step
   * in (and two) and out at the last zoom's point, and a ring around the view (a pan). At
   * most PREFETCH_TILES; the source's byte cache bounds them.
   */
  private prefetch(scene: LongMatrixScene) {
    const here = `${scene.layer}|${scene.heads}|${scene.hideFirst}|${scene.renormalise}|${this.scale}|${this.x0}|${this.y0}`;
    // One prefetch at a time (a drag redraws at every move): its reply redraws, and the view then asks anew.
    if (here === this.prefetched || this.source.waitingTiles) return;
    this.prefetched = here;
    const [px, py] = this.anchor ?? [this.plot / 2, this.plot / 2];
    const wanted = new Map<number, [number, number][]>();
    const add = (r: number, scale: number, x0: number, y0: number, margin = 0) => {
      if (r > 0) wanted.set(r, [...(wanted.get(r) ?? []), ...this.tilesInView(r, scale, x0, y0, margin)]);
    };
    const first = firstTileLevel(scene.block);
    if (this.level() === 0 && first > 0) {
      // From the whole matrix the first zoom into tiles can land anywhere: where that level's
      // tiles are few (a tile spans 64 overview blocks or more; 8 x 8 at most, 36 below a
      // causal diagonal) ask for all of them, the costliest tiles a step waits for.
      const whole = this.plot / scene.n;
      if (this.tilesInView(first, whole, 0, 0).length <= PREFETCH_TILES) add(first, whole, 0, 0);
    }
    for (const factor of [ZOOM, ZOOM * ZOOM, 1 / ZOOM]) {
      const scale = Math.max(this.plot / scene.n, Math.min(MAX_SCALE, this.scale * factor));
      const span = this.plot / scale;
      const x0 = Math.max(0, Math.min(scene.n - span, this.x0 + px / this.scale - px / scale));
      const y0 = Math.max(0, Math.min(scene.n - span, this.y0 + py / this.scale - py / scale));
      add(this.level(scale), scale, x0, y0);
      if (factor === ZOOM) add(this.level(), this.scale, this.x0, this.y0, 1); // a pan
    }
    let room = PREFETCH_TILES;
    for (const [r, at] of wanted) {
      const grid = this.grid(scene, r);
      const seen = new Set<string>();
      const todo = at.filter(([ty, tx]) => {
        const k = `${ty},${tx}`;
        if (seen.has(k) || this.source.coming(grid, ty, tx)) return false;
        seen.add(k);
        return true;
      });
      const take = todo.slice(0, room);
      room -= take.length;
      if (take.length) this.fetch(grid, take, true);
      if (room <= 0) break;
    }
  }

  render(scene: LongMatrixScene, overview: Overview | null, hover: { row: number; col: number } | null) {
    this.left = this.top = scene.deps ? TAGGED : LEFT;
    this.plot = Math.min(PLOT, STAGE - this.top - BOTTOM);
    if (!this.scene || this.scene.n !== scene.n || this.fitted !== scene.n) {
      this.scene = scene;
      this.fitted = scene.n;
      this.fit();
    }
    this.scene = scene;
    this.clamp(); // the plot's side may have changed (syntax came or went)
    const { palette } = scene;
    const width = this.left + this.plot + 10;
    const height = this.top + this.plot + BOTTOM;
    const p = this.surface.painter(width, height);
    p.fill(palette.background);
    const r = this.level();
    const tiles: Tile[] = [];
    const missing: [number, number][] = [];
    if (r > 0) {
      const grid = this.grid(scene, r);
      let asked = true;
      for (const [ty, tx] of this.tilesInView(r)) {
        const t = this.source.peek<Tile>(this.source.tileKey(grid, ty, tx));
        if (t) tiles.push(t);
        else {
          missing.push([ty, tx]);
          asked &&= this.source.coming(grid, ty, tx);
        }
      }
      // One request for the step: a tile an older (superseded) batch still waits for is asked again.
      if (!asked) this.fetch(grid, missing, false);
    }
    if (!missing.length && !this.notice) this.prefetch(scene);
    p.pixels(this.pixels(scene, overview, tiles), this.plot, this.plot, this.left, this.top, this.plot, this.plot);
    p.strokeRect(this.left - 0.5, this.top - 0.5, this.plot + 1, this.plot + 1, palette.grid);
    const related = this.paintRelated(scene);
    const tags = this.paintLabels(scene);
    if (hover) this.paintCrosshair(hover);
    const span = this.plot / this.scale;
    const rows = `${Math.floor(this.y0)}–${Math.min(scene.n, Math.ceil(this.y0 + span)) - 1}`;
    const cols = `${Math.floor(this.x0)}–${Math.min(scene.n, Math.ceil(this.x0 + span)) - 1}`;
    const detail =
      r === 1
        ? "1 token per cell (exact)"
        : `${r || scene.block} tokens per cell (the largest weight of each block${scene.heads.length > 1 ? " over the selected heads" : ""})`;
    const what =
      scene.heads.length === 1 ? `head ${scene.heads[0]}` : r === 1 ? `mean of ${scene.heads.length} heads` : `${scene.heads.length} heads`;
    const hidden = scene.hideFirst
      ? ` · attention to the first token left out${scene.renormalise || r === 0 ? ", rows renormalised" : ""}`
      : "";
    const loading = missing.length ? ` · loading ${missing.length} tile${missing.length > 1 ? "s" : ""}…` : "";
    const text = `layer ${scene.layer} · ${what} · queries ${rows} × keys ${cols} · ${detail}${hidden}${loading} · wheel zooms, drag pans, 0 shows all`;
    this.handlers.status(this.notice ? `${this.notice} · ${text}` : text);
    if (this.notice) {
      p.rect(this.left, this.top + this.plot - 40, this.plot, 40, palette.background, 0.85);
      p.text(this.notice, this.left + 8, this.top + this.plot - 20, { font: SMALL_FONT, colour: palette.foreground });
    }
    const root = this.surface.canvas.closest(".aw-root") as HTMLElement | null;
    const plot = { left: this.left, top: this.top, side: this.plot };
    if (root) root.dataset.zoom = JSON.stringify({ ...this.zoom, missing: missing.length, notice: this.notice, related, tags, plot });
  }

  /** The overview's shades for the selected heads (the largest of them), made once per overview and heads. */
  private overviewShade(overview: Overview, heads: number[]): Uint8Array {
    const key = String(heads);
    if (this.shaded?.overview === overview && this.shaded.heads === key) return this.shaded.shade;
    const cells = overview.cells * overview.cells;
    const shade = new Uint8Array(cells);
    for (const h of heads) {
      const plane = overview.data.subarray(h * cells, (h + 1) * cells);
      for (let c = 0; c < cells; c++) if (plane[c] > shade[c]) shade[c] = plane[c];
    }
    this.shaded = { overview, heads: key, shade };
    return shade;
  }

  /**
   * The plot's RGBA: the overview everywhere, tiles on top where they have come. Pixels
   * are written as 32-bit words from the ramp, each tile only over the pixels it covers,
   * from shades quantised once when it came: a redraw touches each pixel about once.
   */
  private pixels(scene: LongMatrixScene, overview: Overview | null, tiles: Tile[]): Uint8ClampedArray {
    const { palette, heads, causal, n } = scene;
    const side = this.plot;
    const lut = new Uint32Array(ramp(palette.background, heads.length === 1 ? headColour(heads[0]) : palette.accentFont).buffer);
    const mask = new Uint32Array(ramp(palette.mask, palette.mask).buffer)[0];
    if (this.rgba?.length !== side * side * 4) this.rgba = new Uint8ClampedArray(side * side * 4);
    const rgba = this.rgba;
    const px = new Uint32Array(rgba.buffer);
    const iy = new Int32Array(side);
    const jx = new Int32Array(side);
    for (let k = 0; k < side; k++) {
      iy[k] = Math.floor(this.y0 + (k + 0.5) / this.scale);
      jx[k] = Math.floor(this.x0 + (k + 0.5) / this.scale);
    }
    const cells = overview?.cells ?? 0;
    const block = overview?.block ?? 1;
    const shade = overview ? this.overviewShade(overview, heads) : null;
    const bx = new Int32Array(side);
    for (let x = 0; x < side; x++) bx[x] = Math.floor(jx[x] / block);
    for (let y = 0; y < side; y++) {
      const i = iy[y];
      const row = y * side;
      const base = Math.floor(i / block) * cells;
      for (let x = 0; x < side; x++) {
        const j = jx[x];
        if (i >= n || j >= n || (causal && j > i)) px[row + x] = mask;
        else px[row + x] = lut[shade ? shade[base + bx[x]] : 0];
      }
    }
    for (const t of tiles) {
      const span = t.cells * t.r;
      // The plot's pixel rows and columns this tile covers (iy, jx rise with y, x).
      const [ya, yb] = covered(iy, t.r0, Math.min(n, t.r0 + span));
      const [xa, xb] = covered(jx, t.c0, Math.min(n, t.c0 + span));
      for (let y = ya; y < yb; y++) {
        const i = iy[y];
        const src = Math.floor((i - t.r0) / t.r) * t.cells;
        const row = y * side;
        const xEnd = causal ? Math.min(xb, firstAtLeast(jx, i + 1)) : xb;
        for (let x = xa; x < xEnd; x++) px[row + x] = lut[t.shade[src + Math.floor((jx[x] - t.c0) / t.r)]];
      }
    }
    return rgba;
  }

  /** Outline the cells in view whose query and key are a word and its head or dependent; returns how many. */
  private paintRelated(scene: LongMatrixScene): number {
    if (!scene.deps || this.scale < OUTLINE_SCALE) return 0;
    const p = this.surface.painter(this.surface.width, this.surface.height);
    const span = this.plot / this.scale;
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
      if (x < this.left - 0.5 || y < this.top - 0.5 || x + s > this.left + this.plot + 0.5 || y + s > this.top + this.plot + 0.5) continue; // cut by the edge
      p.strokeRect(x + 0.5, y + 0.5, s - 1, s - 1, scene.palette.foreground, 1);
    }
    return pairs.length;
  }

  /** Token labels (with their tags) or positions along the axes; returns how many tags were drawn. */
  private paintLabels(scene: LongMatrixScene): number {
    const p = this.surface.painter(this.surface.width, this.surface.height);
    const { palette, labels, n, deps } = scene;
    const span = this.plot / this.scale;
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
    if (x < this.left || y < this.top || x > this.left + this.plot || y > this.top + this.plot) return;
    p.strokeRect(x - 1, y - 1, s + 2, s + 2, this.scene!.palette.foreground, 2);
  }

  /** The cell under (x, y) and its value: exact from an r = 1 tile or the kernel, else its block's largest. */
  private async hover(x: number, y: number, ev: MouseEvent) {
    const s = this.scene;
    if (!s) return;
    const px = x - this.left;
    const py = y - this.top;
    if (px < 0 || py < 0 || px >= this.plot || py >= this.plot) return this.handlers.hover(null, ev);
    const row = Math.floor(this.y0 + py / this.scale);
    const col = Math.floor(this.x0 + px / this.scale);
    if (row >= s.n || col >= s.n) return this.handlers.hover(null, ev);
    if (s.causal && col > row) return this.handlers.hover({ row, col, value: 0, exact: true, block: 1 }, ev);
    const r = this.level();
    if (r === 1) {
      const ty = Math.floor(row / TILE);
      const tx = Math.floor(col / TILE);
      const t = this.source.peek<Tile>(this.source.tileKey(this.grid(s, 1), ty, tx));
      if (t?.data) return this.handlers.hover({ row, col, value: t.data[(row - t.r0) * TILE + (col - t.c0)], exact: true, block: 1 }, ev);
    }
    try {
      const value = await this.source.value(s.layer, s.heads, row, col, s.hideFirst, s.renormalise);
      this.handlers.hover({ row, col, value, exact: true, block: 1 }, ev);
    } catch (err) {
      this.notice = (err as Error).message;
      this.handlers.hover(null, ev);
      this.handlers.changed();
    }
  }

  /** Forget the host's notice and what was prefetched (a new layer, heads or setting). */
  reset() {
    this.notice = "";
    this.prefetched = "";
  }
}

/**
 * The coarsest tile level (0: none): the largest power of two at most a quarter of the
 * overview's block, and 1 whenever the block is larger. A level only twice as fine as the
 * overview shows little it does not, yet each of its tiles scores four times the cells of
 * the next: at 8,192 tokens (16 tokens an overview cell) the first step into r = 8 tiles
 * of three heads waited 175-290 ms on 2 cores; until r = 4 the view draws the overview.
 */
export function firstTileLevel(block: number): number {
  if (block <= 1) return 0;
  let r = 1;
  while (r * 8 <= block) r *= 2;
  return r;
}

/** The indices [a, b) of the rising `at` whose values lie in [lo, hi). */
export function covered(at: Int32Array, lo: number, hi: number): [number, number] {
  return [firstAtLeast(at, lo), firstAtLeast(at, hi)];
}

function firstAtLeast(at: Int32Array, v: number): number {
  let a = 0;
  let b = at.length;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (at[mid] < v) a = mid + 1;
    else b = mid;
  }
  return a;
}
