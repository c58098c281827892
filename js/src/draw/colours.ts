// One colour per head. 24 hues picked to stay distinct on light and dark
// backgrounds (Tableau 10 + Tableau 20 light variants + a few extras); heads
// beyond 24 reuse the cycle.

export const HEAD_COLOURS: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#8c8cff",
  "#17becf",
  "#bcbd22",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#1f77b4",
  "#ff7f0e",
  "#7f7f7f",
  "#aec7e8",
  "#98df8a",
  "#c5b0d5",
  "#c49c94",
];

export function headColour(h: number): string {
  return HEAD_COLOURS[h % HEAD_COLOURS.length];
}

export function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/**
 * Heatmap ramp from the background colour to `hex`, as a 256-entry RGBA table
 * indexed by sqrt-scaled weight (so the ramp matches the line alphas).
 */
export function ramp(background: string, hex: string): Uint8ClampedArray {
  const [br, bg, bb] = hexToRgb(background);
  const [r, g, b] = hexToRgb(hex);
  const lut = new Uint8ClampedArray(256 * 4);
  for (let k = 0; k < 256; k++) {
    const t = k / 255;
    lut[k * 4] = br + (r - br) * t;
    lut[k * 4 + 1] = bg + (g - bg) * t;
    lut[k * 4 + 2] = bb + (b - bb) * t;
    lut[k * 4 + 3] = 255;
  }
  return lut;
}

/** Negative and positive ends of the signed scale (colour-blind safe blue / orange). */
export const SIGNED_ENDS = {
  light: { negative: "#2166ac", positive: "#d95f02" },
  dark: { negative: "#6baed6", positive: "#fd8d3c" },
} as const;

/**
 * Signed scale for vector components: 511 RGBA entries, index 255 + round(255 · v / max)
 * (see signedIndex); blue below zero, orange above, the background at zero, so the
 * colour gives the sign and its strength the magnitude.
 */
export function signedRamp(background: string, negative: string, positive: string): Uint8ClampedArray {
  const neg = ramp(background, negative);
  const pos = ramp(background, positive);
  const lut = new Uint8ClampedArray(511 * 4);
  for (let k = 0; k < 511; k++) {
    const src = k < 255 ? neg : pos;
    const step = Math.abs(k - 255);
    lut.set(src.subarray(step * 4, step * 4 + 4), k * 4);
  }
  return lut;
}

/** Index of value `v` in a signedRamp scaled so that ±max is full colour. */
export function signedIndex(v: number, max: number): number {
  const t = Math.max(-1, Math.min(1, v / max));
  return 255 + Math.sign(t) * Math.round(Math.abs(t) * 255); // rounds ±x alike
}
