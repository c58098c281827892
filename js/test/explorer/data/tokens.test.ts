import { describe, expect, it } from "vitest";
import { layoutTokens } from "../../../src/explorer/data/tokens";

describe("layoutTokens", () => {
  it("puts tokens back into the text with its spacing, specials apart", () => {
    const segs = layoutTokens("Don't panic.", ["[CLS]", "Don", "'", "t", "panic", ".", "[SEP]"]);
    expect(segs).toEqual([
      { kind: "extra", text: "[CLS]", index: 0 },
      { kind: "token", text: "Don", index: 1 },
      { kind: "token", text: "'", index: 2 },
      { kind: "token", text: "t", index: 3 },
      { kind: "gap", text: " " },
      { kind: "token", text: "panic", index: 4 },
      { kind: "token", text: ".", index: 5 },
      { kind: "extra", text: "[SEP]", index: 6 },
    ]);
  });

  it("moves a byte-level token's leading space into the gap", () => {
    const segs = layoutTokens("a cat", ["a", " cat"]);
    expect(segs.map((s) => s.text)).toEqual(["a", " ", "cat"]);
  });

  it("keeps the untokenised tail of a truncated sentence as text", () => {
    const segs = layoutTokens("one two three", ["one", "two"]);
    expect(segs[segs.length - 1]).toEqual({ kind: "gap", text: " three" });
  });

  it("shows a piece that is not the next slice of the text apart", () => {
    // "…" continuation pieces are not slices of the text: shown apart, the text stays in order
    const segs = layoutTokens("x … y", ["x", "…", "…", "y"]);
    expect(segs.filter((s) => s.kind === "extra").map((s) => (s as { index: number }).index)).toEqual([2]);
  });
});
