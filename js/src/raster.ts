// A small software line rasteriser for the head view. Canvas 2D strokes of tens of
// thousands of long, translucent lines take seconds in software-rendered browsers; here
// each line costs a few pixel updates per row it crosses, and the lines are blended in
// one order-independent pass:
//   alpha = 1 - prod(1 - a_i),  colour = sum(a_i * c_i) / sum(a_i)
// which reads like "over" compositing without depending on drawing order.

export interface FieldLine {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  rgb: readonly [number, number, number];
  alpha: number; // 0..1
  width: number; // in output pixels
}

/**
 * Rasterise lines into a width x height RGBA image (non-premultiplied, ready for
 * putImageData). Coordinates are in output pixels; lines are clipped to the image.
 */
export function rasterise(lines: FieldLine[], width: number, height: number): Uint8ClampedArray {
  const size = width * height;
  const trans = new Float32Array(size).fill(1);
  const acc = new Float32Array(size * 4); // r, g, b, sum of alphas

  for (const line of lines) {
    const { x1, y1, x2, y2, alpha, width: lw } = line;
    const [cr, cg, cb] = line.rgb;
    const a = alpha * Math.min(1, lw);
    const dx = x2 - x1;
    const dy = y2 - y1;
    // Walk the major axis one pixel at a time; across it, cover [c - half, c + half].
    const yMajor = Math.abs(dy) >= Math.abs(dx);
    const [sa, sb, ca] = yMajor ? (dy >= 0 ? [y1, y2, x1] : [y2, y1, x2]) : dx >= 0 ? [x1, x2, y1] : [x2, x1, y2];
    const slope = yMajor ? (dy === 0 ? 0 : dx / dy) : dy / dx;
    const half = 0.5 * Math.max(1, lw) * Math.sqrt(1 + slope * slope);
    const majorLimit = yMajor ? height : width;
    const minorLimit = yMajor ? width : height;
    const m0 = Math.max(0, Math.floor(sa));
    const m1 = Math.min(majorLimit - 1, Math.ceil(sb) - 1);
    for (let m = m0; m <= m1; m++) {
      const c = ca + (m + 0.5 - sa) * slope;
      const lo = c - half;
      const hi = c + half;
      const p0 = Math.max(0, Math.floor(lo));
      const p1 = Math.min(minorLimit - 1, Math.floor(hi));
      for (let q = p0; q <= p1; q++) {
        let cover = Math.min(hi, q + 1) - Math.max(lo, q);
        if (cover <= 0) continue;
        if (cover > 1) cover = 1;
        const k = yMajor ? m * width + q : q * width + m;
        const ak = a * cover;
        trans[k] *= 1 - ak;
        const o = k * 4;
        acc[o] += ak * cr;
        acc[o + 1] += ak * cg;
        acc[o + 2] += ak * cb;
        acc[o + 3] += ak;
      }
    }
  }

  const out = new Uint8ClampedArray(size * 4);
  for (let k = 0; k < size; k++) {
    const q = k * 4;
    const s = acc[q + 3];
    if (s <= 0) continue;
    out[q] = acc[q] / s;
    out[q + 1] = acc[q + 1] / s;
    out[q + 2] = acc[q + 2] / s;
    out[q + 3] = (1 - trans[k]) * 255;
  }
  return out;
}
