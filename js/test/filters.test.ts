import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { drawnUnits, pairBlock, splitUnit, stepBlock } from "../src/filters";
import type { Meta } from "../src/meta";
import { linesToDraw, pruneLayer } from "../src/prune";
import { StaticModel, type StaticBundle } from "../src/staticmodel";
import { hideFirst, meanOfHeads, weight, type LayerMatrix } from "../src/transform";

const fx = JSON.parse(readFileSync(new URL("./fixtures/payloads.json", import.meta.url), "utf8"));

function meta(split: Meta["split"], n = 6, extra: Partial<Meta> = {}): Meta {
  const labels = Array.from({ length: n }, (_, i) => `t${i}`);
  return {
    model: "m", num_layers: 1, num_heads: 1, num_tokens: n, is_causal: false, packing: "full", tokens: labels,
    syntax: null, levels: { token: { labels, word: labels.map(() => -1), of_token: labels.map((_, i) => i) } },
    split, ...extra,
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
    expect(drawnUnits(single, single.levels.token, "A->B", null, 6)).toEqual({ rows: null, cols: null, split: null, stepRow: null });
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
    expect(some.lines.map((l) => [l.from, l.to])).toEqual([[0, 2], [0, 3], [1, 2], [1, 3]]);
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
    expect(drawnUnits(gen, gen.levels.token, "all", null, 7)).toEqual({ rows: null, cols: null, split: 4, stepRow: null });
    expect(drawnUnits(gen, gen.levels.token, "all", 1, 7).stepRow).toBe(4);
  });
});

describe("rectangular (cross-attention) layers", () => {
  const m: LayerMatrix = { heads: 2, n: 2, cols: 3, data: Float32Array.from([0.5, 0.25, 0.25, 0.2, 0.3, 0.5, 1, 0, 0, 0, 0, 1]) };

  it("index, average, prune and hide the first column by columns", () => {
    expect(weight(m, 1, 1, 2)).toBe(1);
    const mean = meanOfHeads(m, [0, 1]);
    [0.75, 0.125, 0.125, 0.1, 0.15, 0.75].forEach((v, k) => expect(mean[k]).toBeCloseTo(v, 6));
    const p = pruneLayer(m, [0], 1, 0);
    expect(Array.from(p.rows[0][1])).toEqual([2, 1, 0]);
    const hidden = hideFirst(m, true);
    expect(hidden.cols).toBe(3);
    expect(weight(hidden, 0, 0, 1)).toBeCloseTo(0.5, 6);
  });
});

describe("StaticModel with encoder-decoder kinds", () => {
  it("switching the kind brings that kind's tokens and layer together", () => {
    const crossMeta = { ...fx.meta, kind: "cross", key_tokens: ["x", "y", "z", "w"] };
    const crossLayer = { ...fx.full, kind: "cross" };
    const thumb = { layers: 1, heads: 2, size: 4, blocks: 1, data: { buffer: "AAECAw==", dtype: "uint8", shape: [4], compression: null } };
    const bundle: StaticBundle = {
      state: { layer: 0, heads: [0], view: "head", token: 2, level: "token", attention_kind: "encoder", _meta: { ...fx.meta, kind: "encoder" } },
      layers: [{ ...fx.tril, layer: 0, kind: "encoder" }],
      thumbnails: { plain: thumb, hide_first: thumb },
      kinds: { cross: { meta: crossMeta, layers: [crossLayer], thumbnails: { plain: thumb, hide_first: thumb } } },
    };
    const model = new StaticModel(bundle);
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
