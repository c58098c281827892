import { describe, expect, it } from "vitest";
import {
  type Drawn,
  drawnUnits,
  fullAxis,
  isShown,
  makeAxis,
  originalUnit,
  pairBlock,
  shownArcs,
  splitUnit,
  stepBlock,
  thumbWindow,
} from "../../src/data/filters";
import type { Meta } from "../../src/data/meta";
import { linesToDraw, pruneLayer } from "../../src/data/prune";
import { hideFirst, type LayerMatrix, meanOfHeads, weight } from "../../src/data/transform";
import { headLayout, hitHead, hitMatrix, matrixLayout, rowY } from "../../src/draw/layout";
import { type StaticBundle, StaticWidgetModel } from "../../src/host/static_widget_model";
import { fx, thumbnails } from "../fixtures/bundles";

function meta(split: Meta["split"], n = 6, extra: Partial<Meta> = {}): Meta {
  const labels = Array.from({ length: n }, (_, i) => `t${i}`);
  return {
    model: "m",
    num_layers: 1,
    num_heads: 1,
    num_tokens: n,
    is_causal: false,
    packing: "full",
    tokens: labels,
    syntax: null,
    levels: { token: { labels, word: labels.map(() => -1), of_token: labels.map((_, i) => i) } },
    split,
    ...extra,
  };
}

describe("pair filter", () => {
  it("A->B draws A's rows and B's columns", () => {
    const { rows, cols } = pairBlock("A->B", 3, 6, 6);
    expect(Array.from(rows!)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(Array.from(cols!)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(pairBlock("all", 3, 6, 6)).toEqual({ rows: null, cols: null });
    const bb = pairBlock("B->B", 3, 6, 6);
    expect(Array.from(bb.rows!)).toEqual(Array.from(bb.cols!));
  });

  it("applies only to sentence pairs, and keeps the divider either way", () => {
    const pair = meta({ at: 3, names: ["A", "B"] });
    const m = pair.levels.token;
    expect(drawnUnits(pair, m, "B->A", null, 6).split).toBe(3);
    expect(Array.from(drawnUnits(pair, m, "B->A", null, 6).rows!)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(drawnUnits(pair, m, "all", null, 6).rows).toBeNull();
    const single = meta(null);
    expect(drawnUnits(single, single.levels.token, "A->B", null, 6)).toMatchObject({ rows: null, cols: null, split: null, stepRow: null });
    expect(drawnUnits(single, single.levels.token, "A->B", null, 6).rowAxis.full).toBe(true);
  });

  it("maps the split token to its word at word level", () => {
    const m = meta({ at: 3, names: ["A", "B"] });
    const words = { labels: ["w0", "w1", "w2", "w3"], word: [0, 1, 2, 3], of_token: [0, 0, 1, 2, 3, 3] };
    expect(splitUnit(m, words)).toBe(2);
  });

  it("leaves out the rows and columns outside the block when choosing lines", () => {
    const m: LayerMatrix = { heads: 1, n: 4, data: new Float32Array(16).fill(0.25) };
    const p = pruneLayer(m, [0], 1, 0);
    const all = linesToDraw(m, p, null);
    expect(all.lines.length).toBe(16);
    const block = pairBlock("A->B", 2, 4, 4);
    const some = linesToDraw(m, p, null, undefined, block);
    expect(some.lines.map((l) => [l.from, l.to])).toEqual([
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
    ]);
  });
});

const list = (a: ArrayLike<number>) => Array.from(a);

describe("axes: shown position <-> original unit", () => {
  it("an axis maps both ways and marks the divider only when both parts are shown", () => {
    const a = makeAxis([3, 4, 5], 6, 3);
    expect(list(a.units)).toEqual([3, 4, 5]);
    expect(list(a.pos)).toEqual([-1, -1, -1, 0, 1, 2]);
    expect(a.split).toBeNull();
    expect(a.full).toBe(false);
    const all = fullAxis(6, 3);
    expect(list(all.units)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(all.split).toBe(3);
    expect(all.full).toBe(true);
    expect(fullAxis(6).split).toBeNull();
    expect(makeAxis([1, 2, 4], 6, 3).split).toBe(2); // both parts, not in place
  });

  const pair = meta({ at: 3, names: ["A", "B"] });
  const units = pair.levels.token;
  const cases: [Parameters<typeof drawnUnits>[2], number[], number[]][] = [
    ["A->B", [0, 1, 2], [3, 4, 5]],
    ["B->A", [3, 4, 5], [0, 1, 2]],
    ["A->A", [0, 1, 2], [0, 1, 2]],
    ["B->B", [3, 4, 5], [3, 4, 5]],
  ];
  it.each(cases)("%s lays out only the block's queries and keys", (which, rows, cols) => {
    const d = drawnUnits(pair, units, which, null, 6);
    expect(list(d.rowAxis.units)).toEqual(rows);
    expect(list(d.colAxis.units)).toEqual(cols);
    expect(d.rowAxis.split).toBeNull(); // one side per column: no divider
    expect(d.colAxis.split).toBeNull();
    expect(d.split).toBe(3); // still known, for B's colour
    // The masks (line filter) and the axes agree: exactly the shown units are on.
    expect(list(d.rows!).flatMap((on, u) => (on ? [u] : []))).toEqual(rows);
    expect(list(d.cols!).flatMap((on, u) => (on ? [u] : []))).toEqual(cols);
  });

  it('"all" keeps every unit in place, with the A|B divider on both axes', () => {
    const d = drawnUnits(pair, units, "all", null, 6);
    expect(d.rowAxis.full && d.colAxis.full).toBe(true);
    expect(d.rowAxis.split).toBe(3);
    expect(d.colAxis.split).toBe(3);
  });

  it("at word level the block is the words of each sentence", () => {
    const m = meta({ at: 3, names: ["A", "B"] });
    const words = { labels: ["w0", "w1", "w2", "w3"], word: [0, 1, 2, 3], of_token: [0, 0, 1, 2, 3, 3] };
    const d = drawnUnits(m, words, "A->B", null, 4);
    expect(list(d.rowAxis.units)).toEqual([0, 1]);
    expect(list(d.colAxis.units)).toEqual([2, 3]);
  });

  it("a generation step keeps every unit in place and only mutes", () => {
    const gen = meta({ at: 4, names: ["prompt", "generated"] }, 7, { is_causal: true });
    const d = drawnUnits(gen, gen.levels.token, "A->B", 1, 7); // pair_filter means nothing here
    expect(d.rowAxis.full && d.colAxis.full).toBe(true);
    expect(d.rowAxis.split).toBe(4);
    expect(list(d.rows!)).toEqual([0, 0, 0, 0, 1, 0, 0]);
  });

  it("cross-attention: no split, keys on their own axis", () => {
    const cross = meta({ at: 3, names: ["A", "B"] }, 6, { kind: "cross" });
    const d = drawnUnits(cross, cross.levels.token, "A->B", null, 4);
    expect(d.split).toBeNull();
    expect(list(d.colAxis.units)).toEqual([0, 1, 2, 3]);
  });

  it("hits on the compacted head view report original units", () => {
    const d = drawnUnits(pair, units, "A->B", null, 6);
    const l = headLayout(d.rowAxis.units.length, 40, false, 260, d.colAxis.units.length);
    expect(l.n).toBe(3);
    expect(l.nKeys).toBe(3);
    expect(l.height).toBe(8 * 2 + 3 * 18); // the block fills the view: 3 rows, not 6
    const key = hitHead(l, l.keyLeft + 5, rowY(l, 0))!;
    expect(key).toEqual({ unit: 0, role: "key" });
    expect(originalUnit(d, key.unit, key.role)).toBe(3); // the first key shown is B's first token
    const query = hitHead(l, l.queryRight - 5, rowY(l, 2))!;
    expect(originalUnit(d, query.unit, query.role)).toBe(2);
    expect(hitHead(l, l.queryRight - 5, rowY(l, 4))).toBeNull(); // nothing below the block
  });

  it("hits on the compacted matrix report original units", () => {
    const d = drawnUnits(pair, units, "B->A", null, 6);
    const l = matrixLayout(d.rowAxis.units.length, 40, false, 640, d.colAxis.units.length);
    const cell = hitMatrix(l, l.left + 1.5 * l.cell, l.top + 0.5 * l.cell)!;
    expect(cell).toEqual({ row: 0, col: 1 });
    expect([originalUnit(d, cell.row, "query"), originalUnit(d, cell.col, "key")]).toEqual([3, 1]);
  });

  it("a locked token is shown only on its own axis within the block", () => {
    const d: Drawn = drawnUnits(pair, units, "A->B", null, 6);
    expect(isShown(d, { unit: 1, role: "query" })).toBe(true);
    expect(isShown(d, { unit: 1, role: "key" })).toBe(false);
    expect(isShown(d, { unit: 4, role: "key" })).toBe(true);
    expect(isShown(d, { unit: 9, role: "key" })).toBe(false);
  });

  it("keeps only the arcs whose ends are both shown, at shown positions", () => {
    const arcs = [
      { dependent: 4, head: 5, label: "det" },
      { dependent: 1, head: 4, label: "nsubj" }, // one end outside the block
      { dependent: 5, head: 3, label: "obj" },
    ];
    const axis = makeAxis([3, 4, 5], 6, 3);
    expect(shownArcs(arcs, axis)).toEqual([
      { dependent: 1, head: 2, label: "det" },
      { dependent: 2, head: 0, label: "obj" },
    ]);
    expect(shownArcs(arcs, fullAxis(6))).toBe(arcs);
  });
});

describe("model view window", () => {
  const pair = meta({ at: 3, names: ["A", "B"] });

  it("crops each thumbnail to the block's token cells", () => {
    expect(thumbWindow(pair, "all", 1)).toBeNull();
    expect(thumbWindow(pair, "A->B", 1)).toEqual({ r0: 0, r1: 3, c0: 3, c1: 6 });
    expect(thumbWindow(pair, "B->B", 1)).toEqual({ r0: 3, r1: 6, c0: 3, c1: 6 });
    // two tokens per cell: the cell holding the split belongs to both sides
    expect(thumbWindow(pair, "A->B", 2)).toEqual({ r0: 0, r1: 2, c0: 1, c1: 3 });
    expect(thumbWindow(meta(null), "A->B", 1)).toBeNull();
    expect(thumbWindow(meta({ at: 3, names: ["prompt", "generated"] }), "A->B", 1)).toBeNull();
  });
});

describe("generation step", () => {
  const gen = meta({ at: 4, names: ["prompt", "generated"] }, 7, { is_causal: true });

  it("step k shows the row that wrote generated token k, over what it could see", () => {
    const b = stepBlock(0, gen, gen.levels.token);
    expect(b.stepRow).toBe(3); // generated token 0 (token 4) was written from token 3
    expect(Array.from(b.rows!)).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(b.cols!)).toEqual([1, 1, 1, 1, 0, 0, 0]);
    expect(stepBlock(2, gen, gen.levels.token).stepRow).toBe(5);
  });

  it("all steps: every row, the boundary still marked", () => {
    expect(drawnUnits(gen, gen.levels.token, "all", null, 7)).toMatchObject({ rows: null, cols: null, split: 4, stepRow: null });
    expect(drawnUnits(gen, gen.levels.token, "all", 1, 7).stepRow).toBe(4);
  });
});

describe("rectangular (cross-attention) layers", () => {
  const m: LayerMatrix = { heads: 2, n: 2, cols: 3, data: Float32Array.from([0.5, 0.25, 0.25, 0.2, 0.3, 0.5, 1, 0, 0, 0, 0, 1]) };

  it("index, average, prune and hide the first column by columns", () => {
    expect(weight(m, 1, 1, 2)).toBe(1);
    const mean = meanOfHeads(m, [0, 1]);
    [0.75, 0.125, 0.125, 0.1, 0.15, 0.75].forEach((v, k) => {
      expect(mean[k]).toBeCloseTo(v, 6);
    });
    const p = pruneLayer(m, [0], 1, 0);
    expect(Array.from(p.rows[0][1])).toEqual([2, 1, 0]);
    const hidden = hideFirst(m, true);
    expect(hidden.cols).toBe(3);
    expect(weight(hidden, 0, 0, 1)).toBeCloseTo(0.5, 6);
  });
});

describe("StaticWidgetModel with encoder-decoder kinds", () => {
  it("switching the kind brings that kind's tokens and layer together", () => {
    const crossMeta = { ...fx.meta, kind: "cross", key_tokens: ["x", "y", "z", "w"] };
    const crossLayer = { ...fx.full, kind: "cross" };
    const thumbs = thumbnails(1);
    const bundle: StaticBundle = {
      state: {
        layer: 0,
        heads: [0],
        view: "head",
        token: 2,
        level: "token",
        attention_kind: "encoder",
        _meta: { ...fx.meta, kind: "encoder" },
      },
      layers: [{ ...fx.tril, layer: 0, kind: "encoder" }],
      thumbnails: thumbs,
      kinds: { cross: { meta: crossMeta, layers: [crossLayer], thumbnails: thumbs } },
    };
    const model = new StaticWidgetModel(bundle);
    const seen: string[] = [];
    model.on("change:_meta", () => seen.push(`meta:${model.get("_layer_data").kind}`));
    model.set("attention_kind", "cross");
    expect(seen).toEqual(["meta:cross"]); // the layer is already there when the tokens change
    expect(model.get("token")).toBeNull();
    expect(model.get("_meta").key_tokens).toEqual(["x", "y", "z", "w"]);
    model.set("attention_kind", "encoder");
    expect(model.get("_layer_data").kind).toBe("encoder");
  });
});
