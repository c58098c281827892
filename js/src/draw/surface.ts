// A canvas sized in CSS pixels with a device-pixel ratio capped so that very
// tall views (512 tokens) stay within a sane pixel budget.

import { CanvasPainter } from "./painter";

const MAX_PIXELS = 24_000_000;

export class Surface {
  readonly canvas: HTMLCanvasElement;
  private options: CanvasRenderingContext2DSettings | undefined;
  width = 0;
  height = 0;
  ratio = 1;

  /**
   * `readsPixels`: the view draws into the canvas's pixels (draw/line_raster.ts reads them
   * back every frame), so the browser keeps this canvas in memory rather than on the GPU.
   */
  constructor(parent: HTMLElement, className: string, label = "", readsPixels = false) {
    this.options = readsPixels ? { willReadFrequently: true } : undefined;
    this.canvas = parent.ownerDocument.createElement("canvas");
    this.canvas.className = className;
    this.canvas.setAttribute("role", "img");
    if (label) this.canvas.setAttribute("aria-label", label);
    parent.appendChild(this.canvas);
  }

  /**
   * Resize (clearing) and return a painter in CSS-pixel coordinates. With `window`, the
   * canvas shows only rows offsetY..offsetY+height of a drawing `fullHeight` tall.
   */
  painter(width: number, height: number, window?: { offsetY: number; fullHeight: number }): CanvasPainter {
    const dpr = globalThis.devicePixelRatio || 1;
    const ratio = Math.max(1, Math.min(dpr, Math.sqrt(MAX_PIXELS / Math.max(1, width * height))));
    if (width !== this.width || height !== this.height || ratio !== this.ratio) {
      this.width = width;
      this.height = height;
      this.ratio = ratio;
      this.canvas.width = Math.ceil(width * ratio);
      this.canvas.height = Math.ceil(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext("2d", this.options)!;
    if (window) return new CanvasPainter(ctx, width, window.fullHeight, ratio, window.offsetY, height);
    return new CanvasPainter(ctx, width, height, ratio);
  }

  /** Pointer position in CSS pixels relative to the canvas. */
  local(ev: MouseEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
}

/** An offscreen copy of a finished drawing, reused while its key stays the same. */
export class Snapshot {
  private canvas: HTMLCanvasElement | null = null;
  key = "";

  /** `inMemory`: the copied canvas lives in memory (Surface's `readsPixels`): so does the copy. */
  constructor(private inMemory = false) {}

  store(key: string, source: HTMLCanvasElement) {
    if (!this.canvas) this.canvas = source.ownerDocument.createElement("canvas");
    this.canvas.width = source.width;
    this.canvas.height = source.height;
    this.canvas.getContext("2d", this.inMemory ? { willReadFrequently: true } : undefined)!.drawImage(source, 0, 0);
    this.key = key;
  }

  /** Copy the snapshot back if it matches `key`; false when it does not. */
  restore(key: string, target: HTMLCanvasElement): boolean {
    if (!this.canvas || key !== this.key || this.canvas.width !== target.width || this.canvas.height !== target.height) {
      return false;
    }
    const ctx = target.getContext("2d")!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.canvas, 0, 0);
    return true;
  }
}
