// Neuron view: for one layer, head and query token, the query vector, each key
// vector, (expanded) their element-wise products and the scaled dot products,
// and the softmax weights: how the head's attention row is computed. Components
// are coloured by sign (blue negative, orange positive), strength = magnitude.
//
// Keyboard: the view is one tab stop; arrow keys move the query token, Home/End
// jump, Enter toggles the products. Long inputs scroll under a header that keeps
// the query vector in view; each frame draws only the rows in view.

import { maxAbs, type NeuronHead, type NeuronRow, neuronRow } from "../data/neuron_head";
import { SIGNED_ENDS, signedIndex, signedRamp } from "../draw/colours";
import { FONT, SMALL_FONT, shortLabel } from "../draw/layout";
import { hitNeuron, keyRowY, type NeuronHit, type NeuronLayout, neuronLayout } from "../draw/neuron_layout";
import { CanvasPainter, measureText, type Painter, SvgPainter } from "../draw/painter";
import { Surface } from "../draw/surface";
import type { Palette } from "../draw/theme";

export interface NeuronScene {
  palette: Palette;
  queryLabels: string[];
  keyLabels: string[];
  head: NeuronHead | null; // null: nothing to show (see message)
  token: number; // query token
  message: string | null; // why vectors are missing, or a note beside them
  colour: string; // the head's colour (weight bars)
  split: number | null; // first key of the second part (B, or generated text): a divider
  title: string; // layer / head / group, for the summary line and the aria label
}

export interface NeuronHandlers {
  move(token: number): void;
  hover(text: string | null, ev: MouseEvent): void;
  scroll(): void;
}

interface Scales {
  vectors: number;
  products: number;
  scores: number;
}

export class NeuronView {
  readonly surface: Surface;
  readonly root: HTMLElement;
  private spacer: HTMLElement;
  private summary: HTMLElement;
  private expandButton: HTMLButtonElement;
  private legendRamp: HTMLElement;
  private legendText: HTMLElement;
  private note: HTMLElement;
  private scene: NeuronScene | null = null;
  /** The query token last asked for: keys can come faster than frames, so they step from it. */
  private asked: number | null = null;
  private row: NeuronRow | null = null;
  private scales: Scales = { vectors: 1, products: 1, scores: 1 };
  private layout: NeuronLayout | null = null;
  private hovered: number | null = null;
  private offsetY = 0;
  expanded = false;

  constructor(
    host: HTMLElement,
    private scroller: HTMLElement,
    private handlers: NeuronHandlers,
  ) {
    const doc = host.ownerDocument;
    const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls: string) => {
      const e = doc.createElement(tag);
      e.className = cls;
      return e;
    };
    this.root = el("div", "aw-neuron");
    this.root.tabIndex = 0;
    this.root.setAttribute("role", "group");
    this.root.setAttribute("aria-roledescription", "neuron view");
    const bar = el("div", "aw-neuron-bar");
    this.summary = el("span", "aw-neuron-summary");
    this.expandButton = el("button", "aw-neuron-expand");
    this.expandButton.type = "button";
    this.expandButton.addEventListener("click", () => this.toggle());
    const legend = el("span", "aw-neuron-legend");
    legend.setAttribute("aria-hidden", "true");
    const neg = el("span", "aw-legend-end");
    neg.textContent = "− negative";
    this.legendRamp = el("span", "aw-legend-ramp");
    const pos = el("span", "aw-legend-end");
    pos.textContent = "positive +";
    this.legendText = el("span", "aw-legend-text");
    legend.append(neg, this.legendRamp, pos, this.legendText);
    bar.append(this.summary, this.expandButton, legend);
    this.note = el("p", "aw-neuron-note");
    this.note.hidden = true;
    this.spacer = el("div", "aw-spacer");
    this.root.append(bar, this.note, this.spacer);
    host.appendChild(this.root);
    this.surface = new Surface(this.spacer, "aw-canvas aw-neuron-canvas", "neuron view");
    this.syncExpand();

    this.root.addEventListener("keydown", (ev) => this.onKey(ev));
    const c = this.surface.canvas;
    c.addEventListener("mousemove", (ev) => this.onHover(ev));
    c.addEventListener("mouseleave", (ev) => {
      this.hovered = null;
      handlers.hover(null, ev);
      this.redraw();
    });
    c.addEventListener("click", (ev) => {
      const hit = this.hit(ev);
      // Clicking a key row of self-attention makes that token the query.
      if (hit?.key !== null && hit?.key !== undefined && this.scene && this.scene.queryLabels === this.scene.keyLabels) {
        this.asked = null;
        handlers.move(hit.key);
      }
      this.root.focus({ preventScroll: true });
    });
    scroller.addEventListener("scroll", () => {
      if (!host.hidden) handlers.scroll();
    });
  }

  private onKey(ev: KeyboardEvent) {
    const s = this.scene;
    if (!s || ev.target === this.expandButton) return; // the button handles its own keys
    const n = s.queryLabels.length;
    const token = this.asked ?? s.token;
    const moves: Record<string, number> = {
      ArrowDown: token + 1,
      ArrowRight: token + 1,
      ArrowUp: token - 1,
      ArrowLeft: token - 1,
      PageDown: token + 10,
      PageUp: token - 10,
      Home: 0,
      End: n - 1,
    };
    if (ev.key in moves) {
      ev.preventDefault();
      const next = Math.max(0, Math.min(n - 1, moves[ev.key]));
      if (next !== token) {
        this.asked = next;
        this.handlers.move(next);
      }
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      this.toggle();
    }
  }

  toggle() {
    this.expanded = !this.expanded;
    this.syncExpand();
    if (this.scene) this.render(this.scene);
  }

  private syncExpand() {
    this.expandButton.setAttribute("aria-expanded", String(this.expanded));
    this.expandButton.textContent = this.expanded ? "Hide products and scores" : "Show products and scores";
    this.root.dataset.expanded = String(this.expanded);
  }

  private hit(ev: MouseEvent): NeuronHit | null {
    if (!this.layout) return null;
    const [x, y] = this.surface.local(ev);
    return hitNeuron(this.layout, x, y + this.offsetY, this.offsetY);
  }

  private onHover(ev: MouseEvent) {
    const hit = this.hit(ev);
    const key = hit?.key ?? null;
    this.handlers.hover(hit ? this.describeHit(hit) : null, ev);
    if (key !== this.hovered) {
      this.hovered = key;
      this.redraw();
    }
  }

  private describeHit(hit: NeuronHit): string | null {
    const s = this.scene;
    const r = this.row;
    if (!s || !r || !s.head) return null;
    const d = s.head.d;
    const f = (v: number) => v.toFixed(4);
    if (hit.part === "query") return `query “${s.queryLabels[s.token]}” · component ${hit.dim}: q = ${f(r.query[hit.dim!])}`;
    const j = hit.key!;
    const name = `key ${j} “${s.keyLabels[j]}”`;
    if (hit.part === "key" || hit.part === "product") {
      const c = hit.dim!;
      const k = s.head.keys[j * d + c];
      return `${name} · component ${c}: k = ${f(k)}, q = ${f(r.query[c])}, q·k term = ${f(r.products[j * d + c])}`;
    }
    const masked = r.masked[j] ? " (masked: the query may not look here)" : "";
    return `${name}: score ${f(r.scores[j])} → weight ${f(r.weights[j])}${masked}`;
  }

  /** The current row of numbers (for the status line and tests). */
  current(): NeuronRow | null {
    return this.row;
  }

  render(scene: NeuronScene) {
    const rowChanged = scene.head !== this.scene?.head || scene.token !== this.row?.token;
    this.scene = scene;
    if (this.asked === scene.token) this.asked = null; // caught up with the keys
    this.summary.textContent = scene.title;
    this.root.setAttribute(
      "aria-label",
      `${scene.title}. Query token ${scene.token}: ${scene.queryLabels[scene.token] ?? ""}. ` +
        "Arrow keys move the query token; Enter shows or hides the products and scores.",
    );
    this.note.hidden = !scene.message;
    this.note.textContent = scene.message ?? "";
    const ends = SIGNED_ENDS[scene.palette.name];
    this.legendRamp.style.background = `linear-gradient(to right, ${ends.negative}, ${scene.palette.background}, ${ends.positive})`;
    if (!scene.head || scene.token >= scene.head.nq) {
      this.row = null;
      this.layout = null;
      this.spacer.hidden = true;
      this.legendText.textContent = "";
      return;
    }
    this.spacer.hidden = false;
    if (rowChanged || !this.row) {
      this.row = neuronRow(scene.head, scene.token);
      this.scales = {
        vectors: Math.max(maxAbs(this.row.query), maxAbs(scene.head.keys)),
        products: maxAbs(this.row.products),
        scores: maxAbs(this.row.scores.filter((_, j) => !this.row!.masked[j])),
      };
    }
    const f = (v: number) => v.toPrecision(3);
    const products = this.expanded ? ` · |q⊙k| = ${f(this.scales.products)}` : "";
    this.legendText.textContent = `full colour: |q|, |k| = ${f(this.scales.vectors)}${products}`;
    let labelW = 40;
    for (const s of scene.keyLabels) labelW = Math.max(labelW, measureText(shortLabel(s), FONT));
    this.layout = neuronLayout(scene.head.nk, scene.head.d, Math.ceil(labelW), this.expanded);
    this.redraw();
  }

  /** Draw the rows in view under the header. */
  redraw() {
    const l = this.layout;
    const s = this.scene;
    if (!l || !s || !this.row) return;
    this.spacer.style.height = `${l.height}px`;
    this.spacer.style.width = `${l.width}px`;
    // The bar above the canvas scrolls away first: rows start scrolling after it.
    const spacerTop = this.spacer.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top + this.scroller.scrollTop;
    const viewH = Math.min(l.height, this.scroller.clientHeight || l.height);
    this.offsetY = Math.max(0, Math.min(this.scroller.scrollTop - spacerTop, l.height - viewH));
    const p = this.surface.painter(l.width, viewH, { offsetY: this.offsetY, fullHeight: l.height });
    this.paint(p, s, this.row, l);
  }

  /** Every row, not just those in view: a PNG canvas or an SVG drawing (downloads). */
  paintFull(kind: "png" | "svg"): HTMLCanvasElement | SvgPainter | null {
    const l = this.layout;
    if (!l || !this.scene || !this.row) return null;
    if (kind === "svg") {
      const svg = new SvgPainter(l.width, l.height);
      this.paint(svg, this.scene, this.row, l);
      return svg;
    }
    const canvas = this.surface.canvas.ownerDocument.createElement("canvas");
    canvas.width = l.width;
    canvas.height = l.height;
    this.paint(new CanvasPainter(canvas.getContext("2d")!, l.width, l.height), this.scene, this.row, l);
    return canvas;
  }

  paint(p: Painter, s: NeuronScene, r: NeuronRow, l: NeuronLayout) {
    const pal = s.palette;
    const h = s.head!;
    const ends = SIGNED_ENDS[pal.name];
    const lut = signedRamp(pal.background, ends.negative, ends.positive);
    p.fill(pal.background);
    const first = Math.max(0, Math.floor((p.visible.y0 - l.top) / l.rowH));
    const last = Math.min(l.nk - 1, Math.ceil((p.visible.y1 - l.top) / l.rowH));
    if (last >= first) {
      if (this.hovered !== null && this.hovered >= first && this.hovered <= last) {
        p.rect(0, keyRowY(l, this.hovered), l.width, l.rowH, pal.highlight, 0.6);
      }
      this.paintBlock(p, l, l.keysX, h.keys, first, last, this.scales.vectors, lut, pal);
      if (l.productsX !== null) this.paintBlock(p, l, l.productsX, r.products, first, last, this.scales.products, lut, pal);
      for (let j = first; j <= last; j++) this.paintRow(p, s, r, l, j);
      if (s.split !== null && s.split > first && s.split <= last + 1) {
        const y = keyRowY(l, s.split) - 0.5;
        p.segments([4, y, l.width - 4, y], pal.foreground, 0.7, 1, [5, 3]);
      }
    }
    this.paintHeader(p, s, r, l, lut);
  }

  /** Vector components of rows first..last as one image: one pixel per component and screen row. */
  private paintBlock(
    p: Painter,
    l: NeuronLayout,
    x: number,
    values: Float32Array,
    first: number,
    last: number,
    max: number,
    lut: Uint8ClampedArray,
    pal: Palette,
  ) {
    const { d, rowH } = l;
    const rows = last - first + 1;
    const rgba = new Uint8ClampedArray(d * rows * rowH * 4);
    const [br, bg, bb] = [1, 3, 5].map((i) => parseInt(pal.background.slice(i, i + 2), 16));
    for (let j = 0; j < rows; j++) {
      for (let y = 0; y < rowH; y++) {
        const gapLine = y >= rowH - 2; // a thin gap between rows keeps them apart
        for (let c = 0; c < d; c++) {
          const o = ((j * rowH + y) * d + c) * 4;
          if (gapLine) {
            rgba[o] = br;
            rgba[o + 1] = bg;
            rgba[o + 2] = bb;
            rgba[o + 3] = 255;
          } else {
            const k = signedIndex(values[(first + j) * d + c], max) * 4;
            rgba[o] = lut[k];
            rgba[o + 1] = lut[k + 1];
            rgba[o + 2] = lut[k + 2];
            rgba[o + 3] = 255;
          }
        }
      }
    }
    p.pixels(rgba, d, rows * rowH, x, keyRowY(l, first), d * l.cell, rows * rowH);
  }

  private paintRow(p: Painter, s: NeuronScene, r: NeuronRow, l: NeuronLayout, j: number) {
    const pal = s.palette;
    const y = keyRowY(l, j);
    const mid = y + (l.rowH - 2) / 2;
    const masked = r.masked[j] === 1;
    const self = s.queryLabels === s.keyLabels && j === r.token;
    if (self) p.rect(8, y, l.keysX - 14, l.rowH - 2, pal.highlight);
    const secondPart = s.split !== null && j >= s.split;
    p.text(shortLabel(s.keyLabels[j]), l.keysX - 8, mid, {
      font: FONT,
      colour: masked ? pal.muted : secondPart ? pal.accentFont : pal.foreground,
      align: "right",
    });
    if (masked) {
      // Keys the query may not see: veiled, with no score bar and weight 0.
      const w = (l.productsX ?? l.keysX) + l.d * l.cell - l.keysX;
      p.rect(l.keysX, y, w, l.rowH - 2, pal.mask, 0.75);
    }
    if (l.scoresX !== null) {
      const centre = l.scoresX + l.barW / 2;
      if (masked) {
        p.text("masked", centre, mid, { font: SMALL_FONT, colour: pal.muted, align: "center" });
      } else {
        const len = (Math.abs(r.scores[j]) / this.scales.scores) * (l.barW / 2);
        const ends = SIGNED_ENDS[pal.name];
        const colour = r.scores[j] < 0 ? ends.negative : ends.positive;
        p.rect(r.scores[j] < 0 ? centre - len : centre, y + 2, Math.max(1, len), l.rowH - 6, colour);
      }
      p.segments([centre, y, centre, y + l.rowH], pal.grid, 1, 1);
    }
    const w = r.weights[j];
    p.rect(l.weightsX, y + 2, l.barW, l.rowH - 6, pal.grid, 0.35);
    if (w > 0) p.rect(l.weightsX, y + 2, Math.max(1, w * l.barW), l.rowH - 6, s.colour);
    p.text(masked ? "–" : w.toFixed(3), l.weightsX + l.barW + 6, mid, {
      font: SMALL_FONT,
      colour: w >= 0.005 ? pal.foreground : pal.muted,
      align: "left",
    });
  }

  /** The query row and column titles, drawn at the top of whatever is in view. */
  private paintHeader(p: Painter, s: NeuronScene, r: NeuronRow, l: NeuronLayout, lut: Uint8ClampedArray) {
    const pal = s.palette;
    const y0 = p.visible.y0;
    p.rect(0, y0, l.width, l.top - 4, pal.background);
    p.segments([0, y0 + l.top - 4.5, l.width, y0 + l.top - 4.5], pal.grid, 1, 1);
    const qy = y0 + l.queryY;
    const mid = qy + (l.rowH - 2) / 2;
    p.text("query", 8, y0 + 10, { font: SMALL_FONT, colour: pal.muted, align: "left" });
    p.rect(8, qy, l.keysX - 14, l.rowH - 2, pal.highlight);
    p.text(shortLabel(s.queryLabels[r.token] ?? ""), l.keysX - 8, mid, { font: FONT, colour: pal.foreground, align: "right" });
    const rgba = new Uint8ClampedArray(l.d * 4);
    for (let c = 0; c < l.d; c++)
      rgba.set(lut.subarray(signedIndex(r.query[c], this.scales.vectors) * 4, signedIndex(r.query[c], this.scales.vectors) * 4 + 4), c * 4);
    const blocks: [number | null, string][] = [
      [l.keysX, `keys k_j (d = ${l.d})`],
      [l.productsX, "q ⊙ k_j"],
    ];
    for (const [x, title] of blocks) {
      if (x === null) continue;
      p.pixels(rgba, l.d, 1, x, qy, l.d * l.cell, l.rowH - 2);
      p.strokeRect(x - 0.5, qy - 0.5, l.d * l.cell + 1, l.rowH - 1, pal.grid, 1);
      p.text(title, x, y0 + l.top - 12, { font: SMALL_FONT, colour: pal.muted, align: "left" });
    }
    if (l.scoresX !== null) {
      const bias = s.head?.bias ? " + bias" : "";
      p.text(`q·k × ${s.head!.scale.toPrecision(3)}${bias}`, l.scoresX, y0 + l.top - 12, {
        font: SMALL_FONT,
        colour: pal.muted,
        align: "left",
      });
    }
    p.text("softmax", l.weightsX, y0 + l.top - 12, { font: SMALL_FONT, colour: pal.muted, align: "left" });
  }
}
