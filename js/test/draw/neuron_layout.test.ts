import { describe, expect, it } from "vitest";
import { hitNeuron, keyRowY, neuronLayout } from "../../src/draw/neuron_layout";

describe("neuron layout", () => {
  it("collapsed: keys then weights; expanded adds products and scores", () => {
    const c = neuronLayout(512, 64, 80, false);
    const e = neuronLayout(512, 64, 80, true);
    expect(c.productsX).toBeNull();
    expect(c.scoresX).toBeNull();
    expect(c.weightsX).toBeGreaterThan(c.keysX + 64 * c.cell);
    expect(e.productsX!).toBeGreaterThanOrEqual(e.keysX + 64 * e.cell);
    expect(e.scoresX!).toBeGreaterThanOrEqual(e.productsX! + 64 * e.cell);
    expect(e.weightsX).toBeGreaterThanOrEqual(e.scoresX! + e.barW);
    expect(e.width).toBeGreaterThan(c.width);
    expect(c.height).toBe(c.top + 512 * c.rowH + 8);
  });

  it("keeps a component at least 3 px and at most 12 px wide", () => {
    expect(neuronLayout(4, 256, 40, false).cell).toBe(3);
    expect(neuronLayout(4, 64, 40, false).cell).toBe(4);
    expect(neuronLayout(4, 8, 40, false).cell).toBe(12);
  });

  it("finds the key row, component and column under the pointer", () => {
    const l = neuronLayout(10, 8, 40, true);
    const y = keyRowY(l, 3) + 2;
    expect(hitNeuron(l, l.keysX + 2 * l.cell + 1, y)).toEqual({ key: 3, part: "key", dim: 2 });
    expect(hitNeuron(l, l.productsX! + 7 * l.cell + 1, y)).toEqual({ key: 3, part: "product", dim: 7 });
    expect(hitNeuron(l, l.scoresX! + 5, y)).toEqual({ key: 3, part: "score", dim: null });
    expect(hitNeuron(l, l.weightsX + 5, y)).toEqual({ key: 3, part: "weight", dim: null });
    expect(hitNeuron(l, 20, y)?.part).toBe("label");
    expect(hitNeuron(l, l.keysX + 1, l.queryY + 2)).toEqual({ key: null, part: "query", dim: 0 });
    expect(hitNeuron(l, l.keysX + 1, keyRowY(l, 10) + 2)).toBeNull();
  });

  it("keeps the header in place when the rows scroll under it", () => {
    const l = neuronLayout(100, 8, 40, false);
    const scroll = 500;
    expect(hitNeuron(l, l.keysX + 1, scroll + l.queryY + 2, scroll)?.part).toBe("query");
    const row = hitNeuron(l, l.keysX + 1, scroll + l.top + 2, scroll);
    expect(row?.key).toBe(Math.floor((scroll + 2) / l.rowH));
  });
});
