// The head view's line field drawn straight into canvas pixels. Thousands of long
// translucent strokes cost a software-rendered canvas (Skia filling each batched path
// with anti-aliasing) about 0.2 µs per pixel of line length: a 512-token layer's field
// took 100-400 ms to rasterise. Here each line touches only the few pixels across it,
// and the picture is the canvas's: per group (head colour x alpha step) the union of its
// lines, anti-aliased, composited source-over in order at the group's alpha.

/** RGBA pixels, row-major, as in an ImageData. */
export interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Lines [x1, y1, x2, y2, …] of one colour, alpha and width, in drawing coordinates. */
export interface LineGroup {
  rgb: readonly [number, number, number];
  alpha: number;
  width: number;
  xy: number[];
}

/** Drawing coordinates to the pixels' own: (x * scale + dx, y * scale + dy). */
export interface ToPixels {
  scale: number;
  dx: number;
  dy: number;
}

// Scratch buffers kept between frames (one field is drawn at a time): coverage of the
// group being drawn, and which pixels it touched. A PNG download's tall canvas gets its
// own, dropped after it.
const KEEP_PIXELS = 4_000_000;
let coverage = new Float32Array(0);
let touched = new Int32Array(0);

/** Composite `groups`, in order, onto `px`. */
export function rasterLines(px: Pixels, groups: Iterable<LineGroup>, to: ToPixels): void {
  const { width: W, height: H, data } = px;
  let cov = coverage;
  let list = touched;
  if (cov.length < W * H) {
    cov = new Float32Array(W * H);
    list = new Int32Array(W * H);
    if (W * H <= KEEP_PIXELS) [coverage, touched] = [cov, list];
  }
  const words = new Uint32Array(data.buffer, data.byteOffset, W * H); // little-endian, as every browser
  for (const g of groups) {
    const half = (g.width * to.scale) / 2;
    let n = 0;
    const xy = g.xy;
    for (let k = 0; k + 3 < xy.length; k += 4) {
      n = stroke(
        cov,
        list,
        n,
        W,
        H,
        xy[k] * to.scale + to.dx,
        xy[k + 1] * to.scale + to.dy,
        xy[k + 2] * to.scale + to.dx,
        xy[k + 3] * to.scale + to.dy,
        half,
      );
    }
    // Source-over at the group's alpha: dst += (colour - dst) * alpha * coverage, a pixel
    // read and written as one 32-bit word (RGBA bytes, little-endian) in 8-bit fixed point.
    const [r, gr, b] = g.rgb;
    const a = g.alpha * 256;
    for (let k = 0; k < n; k++) {
      const i = list[k];
      const c = (cov[i] * a + 0.5) | 0;
      cov[i] = 0;
      const v = words[i];
      const r0 = v & 255;
      const g0 = (v >>> 8) & 255;
      const b0 = (v >>> 16) & 255;
      const a0 = v >>> 24;
      words[i] =
        ((r0 + (((r - r0) * c + 128) >> 8)) |
          ((g0 + (((gr - g0) * c + 128) >> 8)) << 8) |
          ((b0 + (((b - b0) * c + 128) >> 8)) << 16) |
          ((a0 + (((255 - a0) * c + 128) >> 8)) << 24)) >>>
        0;
    }
  }
}

/**
 * One butt-capped line of half-width `half` (pixels) from (x0, y0) to (x1, y1): each
 * pixel's coverage (a box filter across and along the line) joins the group's by max.
 * Walks the line's major axis and, on each step, the few pixels across it; the distance
 * from the line (d) and the position along it (t) move by constant steps.
 * Returns the new count of touched pixels.
 */
function stroke(
  cov: Float32Array,
  list: Int32Array,
  n: number,
  W: number,
  H: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  half: number,
): number {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len = Math.hypot(dx, dy);
  if (len < 1e-6) return n;
  const ux = dx / len;
  const uy = dy / len;
  const steep = Math.abs(dy) >= Math.abs(dx);
  // Major axis m (y when steep), minor axis c (x): the line is c = cStart + (m - mStart) * slope.
  const mStart = steep ? y0 : x0;
  const mEnd = steep ? y1 : x1;
  const cStart = steep ? x0 : y0;
  const slope = steep ? dx / dy : dy / dx;
  const along = Math.abs(steep ? uy : ux);
  const across = Math.abs(steep ? ux : uy);
  const mStride = steep ? W : 1;
  const cStride = steep ? 1 : W;
  // d = ry * ux - rx * uy and t = rx * ux + ry * uy, per unit step of m and of c.
  const dM = steep ? ux : -uy;
  const tM = steep ? uy : ux;
  const dC = steep ? -uy : ux;
  const tC = steep ? ux : uy;
  const capReach = half * across + 1; // the butt ends' corners stick out this far along m
  const from = Math.max(0, Math.floor(Math.min(mStart, mEnd) - capReach));
  const to = Math.min((steep ? H : W) - 1, Math.ceil(Math.max(mStart, mEnd) + capReach));
  const cLast = (steep ? W : H) - 1;
  const hiD = half + 0.5; // a pixel centre this far from the line or farther gets nothing
  const span = hiD / along; // the same, along the minor axis
  for (let m = from; m <= to; m++) {
    const cc = cStart + (m + 0.5 - mStart) * slope - 0.5;
    const lo = Math.max(0, Math.ceil(cc - span));
    const hi = Math.min(cLast, Math.floor(cc + span));
    if (lo > hi) continue;
    // Pixel (m, lo)'s centre relative to the line's start.
    const rm = m + 0.5 - mStart;
    const rc = lo + 0.5 - cStart;
    let d = rm * dM + rc * dC;
    let t = rm * tM + rc * tC;
    let i = m * mStride + lo * cStride;
    for (let c = lo; c <= hi; c++, d += dC, t += tC, i += cStride) {
      const ad = Math.abs(d);
      if (ad >= hiD) continue;
      // Box-filter overlaps: across, [d - half, d + half]; along, [t - len, t]; each with [-0.5, 0.5].
      const side = Math.min(1, Math.min(ad + half, 0.5) - Math.max(ad - half, -0.5));
      const end = Math.min(t, 0.5) - Math.max(t - len, -0.5);
      if (end <= 0) continue;
      const v = side * Math.min(1, end);
      const old = cov[i];
      if (old === 0) list[n++] = i;
      if (v > old) cov[i] = v;
    }
  }
  return n;
}
