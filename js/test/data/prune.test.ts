import { describe, expect, it } from "vitest";
import { quantiseSqrt, SQRT_LUT } from "../../src/data/codec";
import { INVISIBLE, linesToDraw, PruneScratch, pruneBytes, pruneLayer, pruneRow } from "../../src/data/prune";
import { hideFirst, type LayerMatrix, weight } from "../../src/data/transform";

describe("pruneRow", () => {
  const row = [0.05, 0.5, 0.3, 0.15, 0];
  it("keeps the strongest entries until the share of mass is covered", () => {
    expect(Array.from(pruneRow(row, 0.5))).toEqual([1]);
    expect(Array.from(pruneRow(row, 0.8))).toEqual([1, 2]);
    expect(Array.from(pruneRow(row, 0.81))).toEqual([1, 2, 3]);
    expect(Array.from(pruneRow(row, 1))).toEqual([1, 2, 3, 0]);
  });
  it("drops weights below the threshold and invisible ones", () => {
    expect(Array.from(pruneRow(row, 1, 0.2))).toEqual([1, 2]);
    expect(Array.from(pruneRow([INVISIBLE / 2, 1 - INVISIBLE / 2], 1))).toEqual([1]);
  });
  it("orders ties by column", () => {
    expect(Array.from(pruneRow([0.25, 0.25, 0.25, 0.25], 1))).toEqual([0, 1, 2, 3]);
  });
});

describe("linesToDraw", () => {
  // 2 heads x 3 x 3, causal
  const m: LayerMatrix = {
    heads: 2,
    n: 3,
    data: new Float32Array([1, 0, 0, 0.6, 0.4, 0, 0.1, 0.2, 0.7, 1, 0, 0, 0.9, 0.1, 0, 0.3, 0.3, 0.4]),
  };
  const p = pruneLayer(m, [0, 1], 1, 0);
  it("draws every kept line without focus", () => {
    const r = linesToDraw(m, p, null);
    expect(r.lines.length).toBe(12);
    expect(r.total).toBe(12);
    expect(r.capped).toBe(false);
  });
  it("isolates a query's outgoing lines and a key's incoming lines", () => {
    const q = linesToDraw(m, p, { unit: 2, role: "query" });
    expect(q.lines.every((l) => l.from === 2)).toBe(true);
    expect(q.lines.length).toBe(6);
    const k = linesToDraw(m, p, { unit: 0, role: "key" });
    expect(k.lines.map((l) => [l.head, l.from])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
  });
  it("caps rows under a budget and says so", () => {
    const r = linesToDraw(m, p, null, 6); // 2 lines per row
    expect(r.lines.length).toBe(10);
    expect(r.capped).toBe(true);
    // the strongest line of each row survives the cap
    expect(r.lines.some((l) => l.head === 0 && l.from === 2 && l.to === 2)).toBe(true);
  });
  it("keeps only the selected heads", () => {
    const one = pruneLayer(m, [1], 1, 0);
    expect(linesToDraw(m, one, null).lines.every((l) => l.head === 1)).toBe(true);
  });
});

describe("pruneLayer on uint8 planes", () => {
  it("keeps what the same weights as float32 keep, hidden first token or not", () => {
    const n = 40;
    const q = new Uint8Array(2 * n * n);
    let seed = 7;
    for (let k = 0; k < q.length; k++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      q[k] = seed % 97 < 60 ? 0 : seed % 256; // sparse rows with many ties, as quantised rows have
    }
    const planes: LayerMatrix = { heads: 2, n, data: q };
    const floats: LayerMatrix = { heads: 2, n, data: Float32Array.from(q, (_v, k) => weight(planes, 0, 0, k)) };
    for (const [a, b] of [
      [planes, floats],
      [hideFirst(planes, false), hideFirst(floats, false)],
      [hideFirst(planes, true), hideFirst(floats, true)],
    ]) {
      for (const [share, threshold] of [
        [1, 0],
        [0.5, 0],
        [0.9, 0.01],
      ]) {
        expect(pruneLayer(a, [0, 1], share, threshold)).toEqual(pruneLayer(b, [0, 1], share, threshold));
      }
    }
    expect(quantiseSqrt(weight(planes, 1, 3, 5))).toBe(q[(n + 3) * n + 5]);
  });
});

describe("pruneBytes", () => {
  it("keeps exactly what pruneRow keeps of the same weights, ties cut at the share", () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
    const scratch = new PruneScratch(64);
    for (let r = 0; r < 300; r++) {
      // few distinct levels: many ties, so the share often ends inside a level
      const q = Uint8Array.from({ length: 64 }, () => (next() % 3 === 0 ? 0 : [1, 2, 40, 41, 200, 255][next() % 6]));
      const w = Float32Array.from(q, (v) => SQRT_LUT[v]);
      for (const [share, threshold] of [
        [1, 0],
        [0.5, 0],
        [0.73, 0],
        [0.9, 0.01],
        [0, 0],
      ]) {
        const want = Array.from(pruneRow(w, share, threshold));
        expect(Array.from(pruneBytes(q, share, threshold, scratch))).toEqual(want);
        // from = 1: the first column read as 0 (hide_first)
        const w1 = w.slice();
        w1[0] = 0;
        expect(Array.from(pruneBytes(q, share, threshold, scratch, 1))).toEqual(Array.from(pruneRow(w1, share, threshold)));
      }
    }
  });
});
