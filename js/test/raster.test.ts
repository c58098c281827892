import { describe, expect, it } from "vitest";
import { rasterise, type FieldLine } from "../src/raster";

const red = [255, 0, 0] as const;
const blue = [0, 0, 255] as const;
const px = (img: Uint8ClampedArray, w: number, x: number, y: number) => Array.from(img.slice((y * w + x) * 4, (y * w + x) * 4 + 4));

describe("rasterise", () => {
  it("draws a vertical line with its colour and alpha, and nothing elsewhere", () => {
    const line: FieldLine = { x1: 2.5, y1: 0, x2: 2.5, y2: 10, rgb: red, alpha: 0.5, width: 1 };
    const img = rasterise([line], 5, 10);
    expect(px(img, 5, 2, 4)).toEqual([255, 0, 0, 128]);
    expect(px(img, 5, 0, 4)[3]).toBe(0);
    expect(px(img, 5, 4, 9)[3]).toBe(0);
  });

  it("blends crossing lines independently of order", () => {
    const a: FieldLine = { x1: 0, y1: 2.5, x2: 5, y2: 2.5, rgb: red, alpha: 0.5, width: 1 };
    const b: FieldLine = { x1: 2.5, y1: 0, x2: 2.5, y2: 5, rgb: blue, alpha: 0.5, width: 1 };
    const ab = rasterise([a, b], 5, 5);
    const ba = rasterise([b, a], 5, 5);
    expect(Array.from(ab)).toEqual(Array.from(ba));
    expect(px(ab, 5, 2, 2)).toEqual([128, 0, 128, 191]); // 1 - 0.5 * 0.5 = 0.75
  });

  it("clips lines that leave the image", () => {
    const img = rasterise([{ x1: -50, y1: -100, x2: 60, y2: 120, rgb: red, alpha: 1, width: 2 }], 10, 10);
    const covered = Array.from({ length: 100 }, (_, k) => img[k * 4 + 3]).filter((a) => a > 0).length;
    expect(covered).toBeGreaterThan(5);
  });

  it("gives a diagonal line anti-aliased edges", () => {
    const img = rasterise([{ x1: 0, y1: 0, x2: 20, y2: 10, rgb: red, alpha: 1, width: 1 }], 20, 10);
    const alphas = new Set(Array.from({ length: 200 }, (_, k) => img[k * 4 + 3]));
    expect([...alphas].some((a) => a > 0 && a < 255)).toBe(true);
  });
});
