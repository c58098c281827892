// Per-layer summary beside a grid: each layer's value with its heads pooled
// (the paper's Figs 8-9), one row per grid row, and the corpus baseline as a
// dashed line where docs/metrics.md defines one. Drawn as a small SVG; labels are text.

import type { Palette } from "../../draw/theme";
import { formatValue } from "../data/rank";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 150;

export interface Series {
  label: string;
  values: Float32Array;
  colour: string;
}

export interface LinesScene {
  palette: Palette;
  series: Series[];
  baseline: number | null;
  top: number; // y of the first row's top edge
  cell: number; // row height
  height: number;
  selectedLayer: number | null;
}

export class LayerLines {
  readonly svg: SVGSVGElement;

  constructor(host: HTMLElement) {
    this.svg = host.ownerDocument.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "ax-lines");
    this.svg.setAttribute("aria-label", "per-layer values");
    host.appendChild(this.svg);
  }

  render(s: LinesScene) {
    const doc = this.svg.ownerDocument;
    const node = (tag: string, attrs: Record<string, string | number>, text?: string) => {
      const e = doc.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const legend = s.series.length > 1;
    const height = s.height + (legend ? 28 : 14);
    this.svg.setAttribute("width", String(WIDTH));
    this.svg.setAttribute("height", String(height));
    this.svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    const finite = s.series.flatMap((x) => Array.from(x.values).filter(Number.isFinite));
    if (s.baseline !== null) finite.push(s.baseline);
    const lo = Math.min(0, ...finite);
    const hi = Math.max(1e-9, ...finite);
    const x0 = 6;
    const x1 = WIDTH - 8;
    const x = (v: number) => x0 + ((v - lo) / (hi - lo)) * (x1 - x0);
    const y = (l: number) => s.top + (l + 0.5) * s.cell;
    const parts: Element[] = [];
    parts.push(node("line", { x1: x0, x2: x0, y1: s.top, y2: s.height, stroke: s.palette.grid }));
    if (s.selectedLayer !== null) {
      parts.push(
        node("rect", { x: 0, y: s.top + s.selectedLayer * s.cell, width: WIDTH, height: s.cell, fill: s.palette.highlight, opacity: 0.5 }),
      );
    }
    if (s.baseline !== null) {
      parts.push(
        node("line", {
          x1: x(s.baseline),
          x2: x(s.baseline),
          y1: s.top,
          y2: s.height,
          stroke: s.palette.muted,
          "stroke-dasharray": "4 3",
          class: "ax-baseline",
        }),
      );
      parts.push(
        node(
          "text",
          { x: Math.min(x(s.baseline) + 3, x1 - 40), y: s.top - 4, fill: s.palette.muted, "font-size": 10 },
          `baseline ${formatValue(s.baseline)}`,
        ),
      );
    }
    s.series.forEach((series, k) => {
      const points: string[] = [];
      series.values.forEach((v, l) => {
        if (!Number.isFinite(v)) return;
        points.push(`${x(v).toFixed(1)},${y(l).toFixed(1)}`);
        const dot = node("circle", { cx: x(v), cy: y(l), r: 2.5, fill: series.colour });
        dot.appendChild(node("title", {}, `${series.label}, layer ${l}: ${formatValue(v)}`));
        parts.push(dot);
      });
      parts.push(node("polyline", { points: points.join(" "), fill: "none", stroke: series.colour, "stroke-width": 1.5 }));
      if (legend)
        parts.push(
          node("text", { x: x0 + k * 72, y: s.height + 25, fill: series.colour, "font-size": 10 }, `— ${series.label.slice(0, 10)}`),
        );
    });
    parts.push(node("text", { x: x0, y: s.height + 11, fill: s.palette.muted, "font-size": 10 }, formatValue(lo)));
    parts.push(node("text", { x: x1, y: s.height + 11, fill: s.palette.muted, "font-size": 10, "text-anchor": "end" }, formatValue(hi)));
    this.svg.replaceChildren(...parts);
  }
}
