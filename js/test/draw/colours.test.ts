import { describe, expect, it } from "vitest";
import { hexToRgb, SIGNED_ENDS, signedIndex, signedRamp } from "../../src/draw/colours";

const rgbAt = (lut: Uint8ClampedArray, k: number) => Array.from(lut.subarray(k * 4, k * 4 + 3));

describe("signed colour scale", () => {
  const bg = "#ffffff";
  const { negative, positive } = SIGNED_ENDS.light;
  const lut = signedRamp(bg, negative, positive);

  it("is the background at zero and full colour at ±max", () => {
    expect(lut.length).toBe(511 * 4);
    expect(rgbAt(lut, signedIndex(0, 2))).toEqual(hexToRgb(bg));
    expect(rgbAt(lut, signedIndex(-2, 2))).toEqual(hexToRgb(negative));
    expect(rgbAt(lut, signedIndex(2, 2))).toEqual(hexToRgb(positive));
    expect(signedIndex(-50, 2)).toBe(0); // beyond the range: clamped
    expect(signedIndex(50, 2)).toBe(510);
  });

  it("gives sign by hue and magnitude by strength, symmetrically", () => {
    const away = (k: number) => {
      const [r, g, b] = rgbAt(lut, k);
      return Math.abs(255 - r) + Math.abs(255 - g) + Math.abs(255 - b);
    };
    const small = signedIndex(0.2, 1);
    const large = signedIndex(0.8, 1);
    expect(away(large)).toBeGreaterThan(away(small));
    expect(signedIndex(0.5, 1) - 255).toBe(255 - signedIndex(-0.5, 1));
    const [nr, , nb] = rgbAt(lut, signedIndex(-1, 1));
    const [pr, , pb] = rgbAt(lut, signedIndex(1, 1));
    expect(nb).toBeGreaterThan(nr); // negative is blue
    expect(pr).toBeGreaterThan(pb); // positive is orange
  });
});
