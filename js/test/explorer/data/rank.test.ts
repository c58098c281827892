import { describe, expect, it } from "vitest";
import { colourRange, formatValue, rankOf, scaled } from "../../../src/explorer/data/rank";

describe("rank and colour scale", () => {
  it("ranks among finite values, 1 = largest, ties share a rank", () => {
    const v = new Float32Array([0.1, 0.5, NaN, 0.5, 0.2]);
    expect(rankOf(v, 1)).toEqual({ rank: 1, of: 4 });
    expect(rankOf(v, 3)).toEqual({ rank: 1, of: 4 });
    expect(rankOf(v, 0)).toEqual({ rank: 4, of: 4 });
    expect(rankOf(v, 2)).toBeNull();
  });

  it("shares start at 0, other metrics span their range, differences are symmetric", () => {
    const v = [0.2, 0.4, NaN];
    expect(colourRange(v, "share")).toEqual({ lo: 0, hi: 0.4, diverging: false, sqrt: true });
    expect(colourRange([2, 5], "unbounded")).toEqual({ lo: 2, hi: 5, diverging: false, sqrt: false });
    const d = colourRange([-0.1, 0.3], "difference");
    expect(d).toEqual({ lo: -0.3, hi: 0.3, diverging: true, sqrt: true });
    expect(scaled(-0.15, d)).toBeCloseTo(-0.5);
    expect(scaled(3.5, { lo: 2, hi: 5, diverging: false, sqrt: false })).toBeCloseTo(0.5);
  });

  it("formats values for reading", () => {
    expect(formatValue(0.12345)).toBe("0.123");
    expect(formatValue(3.456)).toBe("3.46");
    expect(formatValue(NaN)).toBe("–");
  });
});
