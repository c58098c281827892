import { describe, expect, it } from "vitest";
import { lineAlpha } from "../../src/data/prune";
import { headColour } from "../../src/draw/colours";
import { PALETTES } from "../../src/draw/theme";
import { defaultHeadsNote, type LegendInput, legendItems, rampPosition, WEIGHT_TICKS } from "../../src/views/legend";

const base: LegendInput = {
  view: "head",
  palette: PALETTES.light,
  heads: [2, 4, 5],
  hasSyntax: true,
  syntaxSource: "spacy",
  causal: false,
  parts: null,
  outside: false,
  locked: false,
  hiddenArcLabels: 0,
  level: "token",
};
const keys = (s: Partial<LegendInput>) => legendItems({ ...base, ...s }).map((i) => i.key);
const item = (s: Partial<LegendInput>, key: string) => legendItems({ ...base, ...s }).find((i) => i.key === key);

describe("head view legend", () => {
  it("names every mark the view draws: head colours, weights, dashed relations, arcs, UPOS tags", () => {
    expect(keys({})).toEqual(["head-colour", "weight", "related", "arc", "upos"]);
    const colours = item({}, "head-colour")!.mark;
    expect(colours).toEqual({ kind: "lines", colours: [2, 4, 5].map(headColour) });
    const related = item({}, "related")!;
    expect(related.mark.kind).toBe("dashed");
    expect(related.label).toContain("syntactic head or dependent");
    expect(item({}, "arc")!.label).toContain("spaCy's parse");
    expect(item({ syntaxSource: "gold" }, "arc")!.label).toContain("gold (treebank)");
  });
  it("draws its weight samples as the view draws lines", () => {
    const mark = item({}, "weight")!.mark;
    if (mark.kind !== "weights") throw new Error(mark.kind);
    for (const s of mark.samples) {
      expect(s.alpha).toBe(lineAlpha(s.weight));
      expect(s.width).toBeCloseTo(0.8 + 1.8 * lineAlpha(s.weight));
    }
  });
  it("leaves out syntax marks without syntax, and adds the marks a state brings", () => {
    expect(keys({ hasSyntax: false })).toEqual(["head-colour", "weight"]);
    expect(keys({ hasSyntax: false, locked: true, parts: ["A", "B"], outside: true })).toEqual([
      "head-colour",
      "weight",
      "locked",
      "part",
      "divider",
      "outside",
    ]);
    expect(item({ parts: ["A", "B"] }, "part")!.label).toContain("sentence B");
    expect(item({ parts: ["prompt", "generated"] }, "part")!.label).toContain("generated tokens");
  });
  it("says how many relation labels were left out, and where to read them", () => {
    expect(keys({ hiddenArcLabels: 0 })).not.toContain("hidden-labels");
    expect(item({ hiddenArcLabels: 1 }, "hidden-labels")!.label).toMatch(/^1 relation label left out .* hover a token/);
    expect(item({ hiddenArcLabels: 3 }, "hidden-labels")!.label).toMatch(/^3 relation labels left out where they/);
  });
  it("samples at most 8 head colours and says how many heads are shown", () => {
    const many = item({ heads: Array.from({ length: 12 }, (_, h) => h) }, "head-colour")!;
    expect(many.mark.kind === "lines" && many.mark.colours.length).toBe(8);
    expect(many.label).toContain("12 heads shown");
  });
});

describe("matrix legend", () => {
  it("has a colour scale from the background to the head's colour, ticks where sqrt puts them", () => {
    const scale = item({ view: "matrix", heads: [4] }, "scale")!;
    if (scale.mark.kind !== "ramp") throw new Error(scale.mark.kind);
    expect(scale.mark.from).toBe(PALETTES.light.background);
    expect(scale.mark.to).toBe(headColour(4));
    expect(scale.mark.ticks.map((t) => t.label)).toEqual(["0", ".05", ".25", ".5", "1"]);
    expect(scale.mark.ticks.map((t) => t.at)).toEqual(WEIGHT_TICKS.map(Math.sqrt));
    expect(scale.label).toContain("head 4");
    const mean = item({ view: "matrix" }, "scale")!;
    expect(mean.mark.kind === "ramp" && mean.mark.to).toBe(PALETTES.light.accentFont);
    expect(mean.label).toContain("mean of 3 heads");
  });
  it("explains boxed cells, arcs, the mask and the locked row", () => {
    expect(keys({ view: "matrix" })).toEqual(["scale", "related", "arc", "upos"]);
    expect(item({ view: "matrix" }, "related")!.mark).toEqual({ kind: "outline", colour: PALETTES.light.foreground, width: 1 });
    expect(item({ view: "matrix", causal: true }, "mask")!.label).toContain("causal mask");
    expect(item({ view: "matrix", outside: true }, "mask")!.label).toContain("generation step");
    expect(keys({ view: "matrix", hasSyntax: false, locked: true })).toEqual(["scale", "locked"]);
  });
  it("maps weights to ramp positions by square root, clamped", () => {
    expect(rampPosition(0.25)).toBe(0.5);
    expect(rampPosition(-1)).toBe(0);
    expect(rampPosition(4)).toBe(1);
  });
});

describe("model view legend", () => {
  it("explains the squares, the outlines and the grid's axes", () => {
    expect(keys({ view: "model" })).toEqual(["thumbnail", "current"]);
    expect(keys({ view: "model", causal: true })).toEqual(["thumbnail", "current", "mask"]);
    expect(item({ view: "model" }, "thumbnail")!.label).toContain("grid rows: layers");
  });
});

describe("default heads note", () => {
  const meta = { default_heads: { layer: 0, heads: [2, 4, 5], of: 12, rule: "attend most sharply to one token other than the first" } };
  it("says which rule chose the heads while they are shown", () => {
    expect(defaultHeadsNote(meta, [2, 4, 5], "head")).toBe(
      "showing heads 2, 4, 5 of 12: the 3 heads of layer 0 that attend most sharply to one token other than the first · “all” shows every head",
    );
    expect(defaultHeadsNote(meta, [5, 2, 4], "matrix")).not.toBeNull();
  });
  it("goes once other heads are picked, in the neuron view, or when the caller chose the heads", () => {
    expect(defaultHeadsNote(meta, [2, 4], "head")).toBeNull();
    expect(defaultHeadsNote(meta, [2, 4, 5, 6], "head")).toBeNull();
    expect(defaultHeadsNote(meta, [2, 4, 5], "neuron")).toBeNull();
    expect(defaultHeadsNote({ default_heads: null }, [2, 4, 5], "head")).toBeNull();
    expect(defaultHeadsNote({}, [2, 4, 5], "head")).toBeNull();
  });
  it("writes a run of heads as a range and one head in the singular", () => {
    const run = { default_heads: { ...meta.default_heads, heads: [0, 1, 2] } };
    expect(defaultHeadsNote(run, [0, 1, 2], "head")).toContain("showing heads 0–2 of 12");
    const one = { default_heads: { ...meta.default_heads, heads: [7] } };
    expect(defaultHeadsNote(one, [7], "head")).toContain("showing head 7 of 12: the head of layer 0 that attends most sharply");
  });
});
