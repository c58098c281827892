import { describe, expect, it } from "vitest";
import { quantiseSqrt, SQRT_LUT } from "../../src/data/codec";
import { bytesOf, hideFirst, type LayerMatrix, meanOfHeads, mergeUnits, rowOf, weight } from "../../src/data/transform";

// one head, 3 tokens
const m: LayerMatrix = { heads: 1, n: 3, data: new Float32Array([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5]) };

describe("hideFirst", () => {
  it("drops column 0 and leaves the rest without renormalising", () => {
    const h = hideFirst(m, false);
    const rows = [0, 1, 2].flatMap((i) => Array.from(rowOf(h, 0, i, new Float32Array(3))));
    expect(rows).toEqual(Array.from(new Float32Array([0, 0, 0, 0, 0.5, 0, 0, 0.3, 0.5])));
    expect(m.data[0]).toBe(1); // input untouched
    expect(h.data).toBe(m.data); // and not copied: the row is transformed as it is read
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

describe("a layer kept as uint8 planes", () => {
  // the same head, sqrt-quantised as the kernel sends it
  const q: LayerMatrix = { heads: 1, n: 3, data: Uint8Array.from(m.data, quantiseSqrt) };

  it("reads weights through the sqrt table, a quarter of float32's bytes", () => {
    expect(bytesOf(q)).toBe(9);
    expect(weight(q, 0, 2, 1)).toBe(SQRT_LUT[quantiseSqrt(0.3)]);
    expect(weight(q, 0, 2, 1)).toBeCloseTo(0.3, 2);
    expect(Array.from(rowOf(q, 0, 1, new Float32Array(4)))).toEqual([SQRT_LUT[quantiseSqrt(0.5)], SQRT_LUT[quantiseSqrt(0.5)], 0]);
  });

  it("hides the first token per row, renormalising from the dequantised weight", () => {
    const h = hideFirst(q, true);
    const first = SQRT_LUT[q.data[6]];
    expect(weight(h, 0, 2, 0)).toBe(0);
    expect(weight(h, 0, 2, 2)).toBeCloseTo(SQRT_LUT[q.data[8]] / (1 - first), 6);
    expect(rowOf(h, 0, 2, new Float32Array(3))[1]).toBeCloseTo(weight(h, 0, 2, 1), 6);
    expect(bytesOf(h)).toBe(9 + 3 * 4); // the planes plus one scale per row
  });

  it("merges words and averages heads from the planes", () => {
    expect(weight(mergeUnits(q, [0, 1, 1], 2), 0, 1, 1)).toBeCloseTo((0.5 + 0.3 + 0.5) / 2, 2);
    expect(meanOfHeads(q, [0])[8]).toBe(SQRT_LUT[q.data[8]]);
  });
});
