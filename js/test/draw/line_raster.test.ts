import { describe, expect, it } from "vitest";
import { type LineGroup, rasterLines } from "../../src/draw/line_raster";

/** A white W x H picture. */
function white(W: number, H: number) {
  return { data: new Uint8ClampedArray(W * H * 4).fill(255), width: W, height: H };
}
const at = (px: ReturnType<typeof white>, x: number, y: number) =>
  Array.from(px.data.subarray((y * px.width + x) * 4, (y * px.width + x) * 4 + 4));
const black = (xy: number[], alpha = 1, width = 2): LineGroup => ({ rgb: [0, 0, 0], alpha, width, xy });
const same = { scale: 1, dx: 0, dy: 0 };
const INK = [0, 0, 0, 255];
const PAPER = [255, 255, 255, 255];
/** Each [x, y, colour]: that pixel is that colour. */
function expectPixels(px: ReturnType<typeof white>, want: [number, number, number[]][]) {
  for (const [x, y, colour] of want) expect(at(px, x, y), `pixel ${x}, ${y}`).toEqual(colour);
}

describe("rasterLines", () => {
  it("covers the pixels a 2 px line covers, and none past its butt ends", () => {
    const px = white(20, 10);
    rasterLines(px, [black([5, 5, 15, 5])], same);
    expectPixels(px, [
      [10, 4, INK],
      [10, 5, INK],
      [10, 3, PAPER],
      [10, 6, PAPER],
      [4, 5, PAPER],
      [15, 5, PAPER],
      [14, 5, INK],
    ]);
  });

  it("draws a group's overlapping lines once (as one canvas stroke), separate groups over each other", () => {
    const one = white(20, 10);
    rasterLines(one, [black([5, 5, 15, 5], 0.5)], same);
    const twice = white(20, 10);
    rasterLines(twice, [black([5, 5, 15, 5, 5, 5, 15, 5], 0.5)], same);
    expect(twice.data).toEqual(one.data);
    expect(at(one, 10, 5)).toEqual([128, 128, 128, 255]);
    const stacked = white(20, 10);
    rasterLines(stacked, [black([5, 5, 15, 5], 0.5), black([5, 5, 15, 5], 0.5)], same);
    expect(at(stacked, 10, 5)).toEqual([64, 64, 64, 255]);
  });

  it("puts a slanted line's area where it belongs, anti-aliased", () => {
    const px = white(100, 300);
    const width = 1.6;
    rasterLines(px, [black([10, 20, 60, 280], 1, width)], same);
    let ink = 0;
    let partial = 0;
    for (let i = 0; i < px.data.length; i += 4) {
      const v = (255 - px.data[i]) / 255;
      ink += v;
      if (v > 0.05 && v < 0.95) partial++;
    }
    expect(ink / (Math.hypot(50, 260) * width)).toBeCloseTo(1, 1);
    expect(partial).toBeGreaterThan(200); // soft edges, not a staircase
    expect(at(px, 35, 150)[0]).toBeLessThan(60); // on the line: x = 10 + 50 * (150.5 - 20) / 260
    expect(at(px, 45, 150)[0]).toBe(255);
  });

  it("maps drawing coordinates through the device ratio and the window shown", () => {
    const px = white(40, 20);
    // ratio 2, the window starting at y = 100: the line at y = 105 lands on device row 10
    rasterLines(px, [black([2, 105, 18, 105], 1, 1)], { scale: 2, dx: 0, dy: -200 });
    expectPixels(px, [
      [20, 9, INK],
      [20, 10, INK],
      [20, 8, PAPER],
      [35, 9, INK],
      [4, 9, INK],
      [3, 9, PAPER],
      [36, 9, PAPER],
    ]);
  });

  it("leaves lines outside the pixels alone", () => {
    const px = white(10, 10);
    rasterLines(px, [black([-50, -40, -5, -30, 2, 500, 8, 900])], same);
    expect(px.data.every((v) => v === 255)).toBe(true);
  });
});
