// One drawing vocabulary, two back ends: the views draw onto a canvas for the
// screen and PNG download, and into an SVG document for SVG download. Text is
// always drawn as text (fillText / escaped <text>), never parsed as markup.

import { hexToRgb } from "./colours";
import { type LineGroup, rasterLines } from "./line_raster";

/** One line of the head view's line field, in drawing coordinates. */
export interface FieldLine {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  rgb: readonly [number, number, number];
  alpha: number; // 0..1
  width: number;
}

/** The lines grouped by key, in order of first appearance: one stroke or path per group. */
function groupLines(lines: FieldLine[], keyOf: (l: FieldLine) => string): { first: FieldLine; xy: number[] }[] {
  const groups = new Map<string, { first: FieldLine; xy: number[] }>();
  for (const l of lines) {
    const key = keyOf(l);
    let g = groups.get(key);
    if (!g) {
      g = { first: l, xy: [] };
      groups.set(key, g);
    }
    g.xy.push(l.x1, l.y1, l.x2, l.y2);
  }
  return [...groups.values()];
}

/** Alpha steps of a canvas line field: 16 are indistinguishable from continuous alpha. */
const ALPHA_STEPS = 16;

/**
 * Pixels of line length (drawing coordinates, within the band y0..y1) above which a
 * canvas line field is rasterised here (draw/line_raster.ts) instead of stroked: below
 * it the canvas is as quick and reading the pixels back is not worth it.
 */
export const PIXEL_FIELD_MIN = 40_000;

/** Summed length of the lines' parts within y0..y1 (what a frame has to rasterise). */
export function fieldLength(lines: FieldLine[], y0: number, y1: number): number {
  let total = 0;
  for (const l of lines) {
    const lo = Math.max(y0, Math.min(l.y1, l.y2));
    const hi = Math.min(y1, Math.max(l.y1, l.y2));
    if (hi < lo) continue;
    const dy = Math.abs(l.y2 - l.y1);
    total += Math.hypot(l.x2 - l.x1, dy) * (dy > 0 ? (hi - lo) / dy : 1);
  }
  return total;
}

export interface TextStyle {
  font: string;
  colour: string;
  align?: "left" | "right" | "center";
  baseline?: "middle" | "alphabetic" | "top" | "bottom";
  rotate?: number; // radians, about (x, y)
}

export interface Painter {
  readonly width: number;
  readonly height: number;
  /** The band of y (drawing coordinates) that will be seen; views may skip the rest. */
  readonly visible: { y0: number; y1: number };
  /** Many translucent lines at once, inside `bounds` (the head view's line field). */
  lineField(lines: FieldLine[]): void;
  fill(colour: string): void;
  rect(x: number, y: number, w: number, h: number, colour: string, alpha?: number): void;
  strokeRect(x: number, y: number, w: number, h: number, colour: string, width?: number): void;
  /** Many straight segments [x1, y1, x2, y2, ...] in one colour/alpha/width. */
  segments(xy: number[], colour: string, alpha: number, width: number, dash?: number[]): void;
  /** Quadratic curves [x1, y1, cx, cy, x2, y2, ...]. */
  curves(pts: number[], colour: string, width: number): void;
  text(s: string, x: number, y: number, style: TextStyle): void;
  measure(s: string, font: string): number;
  /** Pixels (RGBA, w x h) scaled into the rectangle without smoothing. */
  pixels(rgba: Uint8ClampedArray, w: number, h: number, x: number, y: number, dw: number, dh: number): void;
}

let measureCtx: CanvasRenderingContext2D | null = null;
/** Width of `s` in `font`, in CSS pixels. */
export function measureText(s: string, font: string): number {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  if (!measureCtx) return s.length * 7;
  measureCtx.font = font;
  return measureCtx.measureText(s).width;
}

function pixelCanvas(rgba: Uint8ClampedArray, w: number, h: number): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d")!;
  const img = ctx.createImageData(w, h);
  img.data.set(rgba);
  ctx.putImageData(img, 0, 0);
  return c;
}

const alphaStep = (a: number) => Math.max(1, Math.round(a * ALPHA_STEPS));

export class CanvasPainter implements Painter {
  readonly visible: { y0: number; y1: number };

  /**
   * Draws in CSS pixels; `ratio` is the canvas's device-pixel ratio and `offsetY` the
   * first drawing-space row shown (a canvas that shows a window of a tall view).
   */
  constructor(
    readonly ctx: CanvasRenderingContext2D,
    readonly width: number,
    readonly height: number,
    readonly ratio = 1,
    readonly offsetY = 0,
    viewHeight = height,
  ) {
    ctx.setTransform(ratio, 0, 0, ratio, 0, -offsetY * ratio);
    this.visible = { y0: offsetY, y1: offsetY + viewHeight };
  }

  lineField(lines: FieldLine[]) {
    // Batched by colour and alpha step (the width follows the alpha): a few dozen groups.
    const groups: LineGroup[] = groupLines(lines, (l) => `${l.rgb.join(",")}|${alphaStep(l.alpha)}`).map(({ first, xy }) => {
      const alpha = alphaStep(first.alpha) / ALPHA_STEPS;
      return { rgb: first.rgb, alpha, width: 0.8 + 1.8 * alpha, xy };
    });
    if (fieldLength(lines, this.visible.y0, this.visible.y1) < PIXEL_FIELD_MIN) {
      for (const g of groups) this.segments(g.xy, `rgb(${g.rgb.join(",")})`, g.alpha, g.width);
      return;
    }
    this.rasterField(lines, groups);
  }

  /** The field's lines straight into the pixels under them (read back, composited, written). */
  private rasterField(lines: FieldLine[], groups: LineGroup[]) {
    const r = this.ratio;
    const dy = -this.offsetY * r;
    let x0 = Infinity;
    let x1 = -Infinity;
    for (const l of lines) {
      x0 = Math.min(x0, l.x1, l.x2);
      x1 = Math.max(x1, l.x1, l.x2);
    }
    const pad = 3; // the widest line's half-width and its anti-aliased edge
    const { width: cw, height: ch } = this.ctx.canvas;
    const left = Math.max(0, Math.floor((x0 - pad) * r));
    const right = Math.min(cw, Math.ceil((x1 + pad) * r));
    const top = Math.max(0, Math.floor((this.visible.y0 - pad) * r + dy));
    const bottom = Math.min(ch, Math.ceil((this.visible.y1 + pad) * r + dy));
    if (right <= left || bottom <= top) return;
    const px = this.ctx.getImageData(left, top, right - left, bottom - top);
    rasterLines(px, groups, { scale: r, dx: -left, dy: dy - top });
    this.ctx.putImageData(px, left, top);
  }

  fill(colour: string) {
    this.ctx.fillStyle = colour;
    this.ctx.fillRect(0, 0, this.width, this.height);
  }

  rect(x: number, y: number, w: number, h: number, colour: string, alpha = 1) {
    const c = this.ctx;
    c.globalAlpha = alpha;
    c.fillStyle = colour;
    c.fillRect(x, y, w, h);
    c.globalAlpha = 1;
  }

  strokeRect(x: number, y: number, w: number, h: number, colour: string, width = 1) {
    const c = this.ctx;
    c.strokeStyle = colour;
    c.lineWidth = width;
    c.strokeRect(x, y, w, h);
  }

  segments(xy: number[], colour: string, alpha: number, width: number, dash: number[] = []) {
    if (xy.length === 0) return;
    const c = this.ctx;
    c.beginPath();
    for (let k = 0; k < xy.length; k += 4) {
      c.moveTo(xy[k], xy[k + 1]);
      c.lineTo(xy[k + 2], xy[k + 3]);
    }
    c.globalAlpha = alpha;
    c.strokeStyle = colour;
    c.lineWidth = width;
    c.setLineDash(dash);
    c.stroke();
    c.setLineDash([]);
    c.globalAlpha = 1;
  }

  curves(pts: number[], colour: string, width: number) {
    if (pts.length === 0) return;
    const c = this.ctx;
    c.beginPath();
    for (let k = 0; k < pts.length; k += 6) {
      c.moveTo(pts[k], pts[k + 1]);
      c.quadraticCurveTo(pts[k + 2], pts[k + 3], pts[k + 4], pts[k + 5]);
    }
    c.strokeStyle = colour;
    c.lineWidth = width;
    c.stroke();
  }

  text(s: string, x: number, y: number, st: TextStyle) {
    const c = this.ctx;
    c.save();
    c.font = st.font;
    c.fillStyle = st.colour;
    c.textAlign = st.align ?? "left";
    c.textBaseline = st.baseline ?? "middle";
    if (st.rotate) {
      c.translate(x, y);
      c.rotate(st.rotate);
      c.fillText(s, 0, 0);
    } else c.fillText(s, x, y);
    c.restore();
  }

  measure(s: string, font: string) {
    this.ctx.font = font;
    return this.ctx.measureText(s).width;
  }

  pixels(rgba: Uint8ClampedArray, w: number, h: number, x: number, y: number, dw: number, dh: number) {
    const c = this.ctx;
    c.imageSmoothingEnabled = false;
    c.drawImage(pixelCanvas(rgba, w, h), x, y, dw, dh);
  }
}

export { hexToRgb };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]!);
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export class SvgPainter implements Painter {
  private parts: string[] = [];
  readonly visible: { y0: number; y1: number };
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.visible = { y0: 0, y1: height };
  }

  lineField(lines: FieldLine[]) {
    // One <path> per colour, alpha step and width: vector output stays compact.
    const groups = groupLines(lines, (l) => `${l.rgb.join(",")}|${Math.round(l.alpha * 20) / 20}|${Math.round(l.width * 2) / 2}`);
    for (const { first, xy } of groups) {
      this.segments(xy, `rgb(${first.rgb.join(",")})`, Math.round(first.alpha * 20) / 20, Math.round(first.width * 2) / 2);
    }
  }

  fill(colour: string) {
    this.parts.push(`<rect width="${this.width}" height="${this.height}" fill="${colour}"/>`);
  }

  rect(x: number, y: number, w: number, h: number, colour: string, alpha = 1) {
    this.parts.push(`<rect x="${r1(x)}" y="${r1(y)}" width="${r1(w)}" height="${r1(h)}" fill="${colour}" fill-opacity="${alpha}"/>`);
  }

  strokeRect(x: number, y: number, w: number, h: number, colour: string, width = 1) {
    this.parts.push(
      `<rect x="${r1(x)}" y="${r1(y)}" width="${r1(w)}" height="${r1(h)}" fill="none" stroke="${colour}" stroke-width="${width}"/>`,
    );
  }

  segments(xy: number[], colour: string, alpha: number, width: number, dash: number[] = []) {
    if (xy.length === 0) return;
    let d = "";
    for (let k = 0; k < xy.length; k += 4) d += `M${r1(xy[k])} ${r1(xy[k + 1])}L${r1(xy[k + 2])} ${r1(xy[k + 3])}`;
    const dashAttr = dash.length ? ` stroke-dasharray="${dash.join(" ")}"` : "";
    this.parts.push(
      `<path d="${d}" stroke="${colour}" stroke-opacity="${r1(alpha * 100) / 100}" stroke-width="${width}" fill="none"${dashAttr}/>`,
    );
  }

  curves(pts: number[], colour: string, width: number) {
    if (pts.length === 0) return;
    let d = "";
    for (let k = 0; k < pts.length; k += 6) {
      d += `M${r1(pts[k])} ${r1(pts[k + 1])}Q${r1(pts[k + 2])} ${r1(pts[k + 3])} ${r1(pts[k + 4])} ${r1(pts[k + 5])}`;
    }
    this.parts.push(`<path d="${d}" stroke="${colour}" stroke-width="${width}" fill="none"/>`);
  }

  text(s: string, x: number, y: number, st: TextStyle) {
    const anchor = { left: "start", right: "end", center: "middle" }[st.align ?? "left"];
    const baseline = { middle: "central", alphabetic: "alphabetic", top: "hanging", bottom: "text-after-edge" }[st.baseline ?? "middle"];
    const rot = st.rotate ? ` transform="rotate(${(st.rotate * 180) / Math.PI} ${r1(x)} ${r1(y)})"` : "";
    this.parts.push(
      `<text x="${r1(x)}" y="${r1(y)}" fill="${st.colour}" style="font:${escapeXml(st.font)}" text-anchor="${anchor}" dominant-baseline="${baseline}"${rot} xml:space="preserve">${escapeXml(s)}</text>`,
    );
  }

  measure(s: string, font: string) {
    return measureText(s, font);
  }

  pixels(rgba: Uint8ClampedArray, w: number, h: number, x: number, y: number, dw: number, dh: number) {
    const url = pixelCanvas(rgba, w, h).toDataURL("image/png");
    this.parts.push(
      `<image x="${r1(x)}" y="${r1(y)}" width="${r1(dw)}" height="${r1(dh)}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${url}"/>`,
    );
  }

  toString(): string {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}">${this.parts.join("")}</svg>`;
  }
}
