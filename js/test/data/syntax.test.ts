import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Meta } from "../../src/data/meta";
import { LabelPlacer, unitSyntax } from "../../src/data/syntax";

// "[CLS] The cat s ##at [SEP]": words The(0) cat(1) sat(2); The->cat (det), cat->sat (nsubj)
const meta: Meta = {
  model: "m",
  num_layers: 1,
  num_heads: 1,
  num_tokens: 6,
  is_causal: false,
  packing: "full",
  tokens: ["[CLS]", "The", "cat", "s", "##at", "[SEP]"],
  syntax: {
    source: "gold",
    words: ["The", "cat", "sat"],
    upos: ["DET", "NOUN", "VERB"],
    head: [1, 2, -1],
    deprel: ["det", "nsubj", "root"],
  },
  levels: {
    token: { labels: ["[CLS]", "The", "cat", "s", "##at", "[SEP]"], word: [-1, 0, 1, 2, 2, -1], of_token: [0, 1, 2, 3, 4, 5] },
    word: { labels: ["[CLS]", "The", "cat", "sat", "[SEP]"], word: [-1, 0, 1, 2, -1], of_token: [0, 1, 2, 3, 3, 4] },
  },
};

describe("unitSyntax", () => {
  it("gives every piece its word's UPOS and attaches arcs to first pieces", () => {
    const s = unitSyntax(meta, "token");
    expect(s.upos).toEqual([null, "DET", "NOUN", "VERB", "VERB", null]);
    expect(s.arcs).toEqual([
      { dependent: 1, head: 2, label: "det" },
      { dependent: 2, head: 3, label: "nsubj" },
    ]);
  });
  it("relates dependents and heads in both directions, never pieces of one word", () => {
    const s = unitSyntax(meta, "token");
    expect(s.related(2, 4)).toBe(true); // cat -> ##at (piece of sat)
    expect(s.related(4, 2)).toBe(true);
    expect(s.related(3, 4)).toBe(false); // same word
    expect(s.related(1, 3)).toBe(false); // The - sat: no relation
    expect(s.related(0, 1)).toBe(false); // special token
  });
  it("works on word units", () => {
    const s = unitSyntax(meta, "word");
    expect(s.labels).toEqual(["[CLS]", "The", "cat", "sat", "[SEP]"]);
    expect(s.related(2, 3)).toBe(true);
  });
  it("has no syntax without annotations", () => {
    const s = unitSyntax({ ...meta, syntax: null }, "token");
    expect(s.hasSyntax).toBe(false);
    expect(s.arcs).toEqual([]);
  });
  it("reads the meta that payload.py writes", () => {
    const fx = JSON.parse(readFileSync(new URL("../fixtures/payloads.json", import.meta.url), "utf8"));
    expect(unitSyntax(fx.meta, "token").labels).toEqual(["a", "b", "c", "d"]);
  });
});

describe("LabelPlacer", () => {
  it("moves a colliding label along its axis and drops it when no spot is free", () => {
    const lp = new LabelPlacer("y", 10);
    expect(lp.place(0, 0, 20, 10)).toBe(0);
    expect(lp.place(5, 0, 20, 10)).toBe(-10);
    expect(lp.place(5, 0, 20, 10)).toBe(10);
    expect(lp.place(100, 0, 20, 10)).toBe(0); // elsewhere: free
    lp.place(5, -20, 20, 10);
    lp.place(5, 20, 20, 10);
    expect(lp.place(5, 0, 20, 10)).toBeNull();
  });
});
