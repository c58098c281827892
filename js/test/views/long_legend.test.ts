import { describe, expect, it } from "vitest";
import { PALETTES } from "../../src/draw/theme";
import { legendItems } from "../../src/views/legend";
import { type LongLegendInput, longLegendItems } from "../../src/views/long_legend";

const base: LongLegendInput = {
  view: "head",
  palette: PALETTES.light,
  heads: [1, 3],
  hasSyntax: true,
  syntaxSource: "spacy",
  causal: true,
  locked: false,
  hiddenArcLabels: 0,
};
const keys = (s: Partial<LongLegendInput>) => longLegendItems({ ...base, ...s }).map((i) => i.key);

describe("long views' legend", () => {
  it("head view: the short view's syntax marks, the same dashed sample, and the long view's own notes", () => {
    expect(keys({})).toEqual(["head-colour", "weight", "related", "arc", "upos", "head-found", "coverage", "edge"]);
    const short = legendItems({ ...base, parts: null, outside: false, level: "token" }).find((i) => i.key === "related");
    expect(longLegendItems(base).find((i) => i.key === "related")).toEqual(short);
    expect(keys({ hasSyntax: false })).toEqual(["head-colour", "weight", "coverage", "edge"]);
  });
  it("head view: the locked row is outlined, and hidden arc labels are counted", () => {
    expect(longLegendItems({ ...base, locked: true }).find((i) => i.key === "locked")?.mark.kind).toBe("outline");
    expect(keys({ hiddenArcLabels: 3 })).toContain("hidden-labels");
  });
  it("matrix view: outlined dependency cells and tags, no arcs", () => {
    const items = longLegendItems({ ...base, view: "matrix" });
    expect(items.map((i) => i.key)).toEqual(["scale", "related", "upos", "mask"]);
    expect(items[1].mark).toEqual({ kind: "outline", colour: PALETTES.light.foreground, width: 1 });
    expect(items[1].label).toContain("from 4 px a cell");
    expect(keys({ view: "matrix", hasSyntax: false, locked: true })).toEqual(["scale", "mask"]);
  });
});
