import { describe, expect, it } from "vitest";
import { difference, type ExemplarsPayload, exemplarsOf, Grids, type MetricInfo, metricTitle } from "../../../src/explorer/data/grids";
import { keyFor } from "../../../src/explorer/views/explorer_controls";

const METRICS: MetricInfo[] = [
  {
    name: "dep_align",
    title: "Attention aligned",
    keys: ["child_to_parent", "either"],
    default: "either",
    bounded: true,
    baseline: [0.1, 0.2],
  },
  { name: "entropy", title: "Entropy", keys: [""], default: "", bounded: false, baseline: [null] },
  { name: "pos_to", title: "Attention to {key}", keys: ["DET", "NOUN"], default: "NOUN", bounded: true, baseline: [0.3, 0.2] },
];

describe("Grids", () => {
  // 2 layers x 2 heads; grid g holds g*10 + cell
  const grids = new Float32Array(5 * 4).map((_, k) => Math.floor(k / 4) * 10 + (k % 4));
  const lines = new Float32Array(5 * 2).map((_, k) => k);
  const g = new Grids(2, 2, METRICS, grids, lines);

  it("finds each metric and key's grid, line and baseline", () => {
    expect(Array.from(g.grid("dep_align", "either")!)).toEqual([10, 11, 12, 13]);
    expect(Array.from(g.grid("pos_to", "DET")!)).toEqual([30, 31, 32, 33]);
    expect(Array.from(g.line("entropy", "")!)).toEqual([4, 5]);
    expect(g.baseline("dep_align", "either")).toBe(0.2);
    expect(g.baseline("entropy", "")).toBeNull();
    expect(Array.from(g.grid("pos_to", "NOUN")!)).toEqual([40, 41, 42, 43]);
    expect(g.grid("pos_to", "VERB")).toBeNull();
  });

  it("subtracts grids, NaN where the other source lacks the key", () => {
    expect(Array.from(difference(new Float32Array([3, 1]), new Float32Array([1, 2])))).toEqual([2, -1]);
    expect(Number.isNaN(difference(new Float32Array([3]), null)[0])).toBe(true);
  });

  it("titles name the key", () => {
    expect(metricTitle(METRICS[2], "DET")).toBe("Attention to DET");
    expect(metricTitle(METRICS[1], "")).toBe("Entropy");
  });

  it("a metric opens on its headline key, or keeps one it has", () => {
    expect(keyFor(METRICS[0], "DET")).toBe("either");
    expect(keyFor(METRICS[0], "child_to_parent")).toBe("child_to_parent");
    expect(keyFor(METRICS[2], "either")).toBe("NOUN");
  });
});

describe("exemplarsOf", () => {
  const p: ExemplarsPayload = {
    rows: [
      [0, 1, 1, 5, 2, 1, 0.4],
      [0, 1, 0, 7, 1, 2, 0.9],
      [1, 1, 0, 5, 2, 3, 0.8],
    ],
    texts: { "5": ["a b c d", ["a", "b", "c", "d"]], "7": ["x y z", ["x", "y", "z"]] },
  };
  it("lists one head's exemplars best first with their text", () => {
    const list = exemplarsOf(p, 0, 1);
    expect(list.map((e) => [e.rank, e.sentence, e.text])).toEqual([
      [0, 7, "x y z"],
      [1, 5, "a b c d"],
    ]);
    expect(list[1].tokens[list[1].i]).toBe("c");
  });
});
