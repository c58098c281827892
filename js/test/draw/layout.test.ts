import { describe, expect, it } from "vitest";
import { gridLayout, headLayout, hitGrid, hitHead, hitMatrix, matrixLayout, rowY, shortLabel, thumbOrigin } from "../../src/draw/layout";

describe("head layout", () => {
  const l = headLayout(10, 80, true);
  it("puts queries left of keys and grows with the number of tokens", () => {
    expect(l.queryRight).toBeLessThan(l.keyLeft);
    expect(headLayout(20, 80, true).height).toBeGreaterThan(l.height);
  });
  it("maps pointer positions back to the token and side", () => {
    expect(hitHead(l, l.queryRight - 10, rowY(l, 3))).toEqual({ unit: 3, role: "query" });
    expect(hitHead(l, l.keyLeft + 10, rowY(l, 9))).toEqual({ unit: 9, role: "key" });
    expect(hitHead(l, (l.queryRight + l.keyLeft) / 2, rowY(l, 3))).toBeNull();
    expect(hitHead(l, l.keyLeft + 10, rowY(l, 10))).toBeNull();
  });
});

describe("matrix layout", () => {
  it("shrinks cells for long inputs and thins labels", () => {
    const short = matrixLayout(10, 60, false);
    const long = matrixLayout(512, 60, false);
    expect(short.cell).toBeGreaterThan(long.cell);
    expect(long.cell).toBeGreaterThanOrEqual(2);
    expect(long.labelStep).toBeGreaterThan(1);
    expect(short.labelStep).toBe(1);
  });
  it("hits cells", () => {
    const l = matrixLayout(10, 60, true);
    expect(hitMatrix(l, l.left + 2.5 * l.cell, l.top + 7.5 * l.cell)).toEqual({ row: 7, col: 2 });
    expect(hitMatrix(l, l.left - 1, l.top + 1)).toBeNull();
  });
});

describe("model grid", () => {
  it("hits thumbnails and not the gaps", () => {
    const g = gridLayout(12, 12);
    const [x, y] = thumbOrigin(g, 4, 7);
    expect(hitGrid(g, x + 1, y + 1)).toEqual({ layer: 4, head: 7 });
    expect(hitGrid(g, x + g.thumb + g.gap / 2, y + 1)).toBeNull();
  });
});

describe("shortLabel", () => {
  it("keeps text as text, shows newlines, cuts long tokens", () => {
    expect(shortLabel("<b>")).toBe("<b>");
    expect(shortLabel("a\nb")).toBe("a⏎b");
    expect(shortLabel("x".repeat(40)).length).toBe(16);
  });
});
