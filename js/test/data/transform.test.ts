import { describe, expect, it } from "vitest";
import { hideFirst, type LayerMatrix, meanOfHeads, mergeUnits, weight } from "../../src/data/transform";

// one head, 3 tokens
const m: LayerMatrix = { heads: 1, n: 3, data: new Float32Array([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5]) };

describe("hideFirst", () => {
  it("drops column 0 and leaves the rest without renormalising", () => {
    const h = hideFirst(m, false);
    expect(Array.from(h.data)).toEqual(Array.from(new Float32Array([0, 0, 0, 0, 0.5, 0, 0, 0.3, 0.5])));
    expect(m.data[0]).toBe(1); // input untouched
  });
  it("renormalises rows to sum to 1, and leaves all-first rows at zero", () => {
    const h = hideFirst(m, true);
    expect(weight(h, 0, 1, 1)).toBeCloseTo(1);
    expect(weight(h, 0, 2, 1)).toBeCloseTo(0.375);
    expect(weight(h, 0, 2, 2)).toBeCloseTo(0.625);
    expect(weight(h, 0, 0, 1) + weight(h, 0, 0, 2)).toBe(0);
  });
});

describe("mergeUnits", () => {
  it("sums attention to a word and averages attention from it", () => {
    // tokens 1 and 2 form one word
    const w = mergeUnits(m, [0, 1, 1], 2);
    expect(w.n).toBe(2);
    expect(weight(w, 0, 0, 0)).toBeCloseTo(1);
    expect(weight(w, 0, 1, 0)).toBeCloseTo((0.5 + 0.2) / 2);
    expect(weight(w, 0, 1, 1)).toBeCloseTo((0.5 + 0 + 0.3 + 0.5) / 2);
    // rows still sum to 1
    expect(weight(w, 0, 1, 0) + weight(w, 0, 1, 1)).toBeCloseTo(1);
  });
});

describe("meanOfHeads", () => {
  it("averages the selected heads only", () => {
    const two: LayerMatrix = { heads: 3, n: 1, data: new Float32Array([0.2, 0.4, 0.9]) };
    expect(meanOfHeads(two, [0, 1])[0]).toBeCloseTo(0.3);
    expect(meanOfHeads(two, [])[0]).toBe(0);
  });
});
