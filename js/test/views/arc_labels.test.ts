import { describe, expect, it } from "vitest";
import { LabelPlacer } from "../../src/data/syntax";
import { SvgPainter } from "../../src/draw/painter";
import { PALETTES } from "../../src/draw/theme";
import { ArcLabels, LABEL_GAP } from "../../src/views/arc_labels";

/** A small deterministic generator (mulberry32). */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("ArcLabels", () => {
  it("never lets two placed labels overlap or come closer than the gap, and counts the rest", () => {
    for (const axis of ["x", "y"] as const) {
      const next = random(axis === "x" ? 1 : 2);
      const labels = new ArcLabels(axis, 11);
      const offered = 300;
      for (let k = 0; k < offered; k++) labels.add(`rel${k}`, next() * 200, next() * 400, 15 + next() * 25, 12);
      const boxes = labels.boxes;
      expect(boxes.length + labels.hidden).toBe(offered);
      expect(boxes.length).toBeGreaterThan(20);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i];
          const b = boxes[j];
          const apart =
            a.x + a.w + LABEL_GAP <= b.x || b.x + b.w + LABEL_GAP <= a.x || a.y + a.h + LABEL_GAP <= b.y || b.y + b.h + LABEL_GAP <= a.y;
          expect(apart, `${a.text} and ${b.text}`).toBe(true);
        }
      }
    }
  });
  it("moves a colliding label along its axis by whole steps", () => {
    const labels = new ArcLabels("y", 11);
    expect(labels.add("det", 0, 0, 20, 12)).toBe(true);
    expect(labels.add("amod", 5, 2, 20, 12)).toBe(true);
    expect(labels.boxes.map((b) => [b.x, b.y])).toEqual([
      [0, 0],
      [5, 2 - 11 - 11], // one step up (-9) still touches within the gap: two steps
    ]);
  });
  it("paints a halo of the background under each label's text", () => {
    const labels = new ArcLabels("y", 11);
    labels.add("nsubj", 10, 20, 30, 12);
    const p = new SvgPainter(100, 60);
    labels.paint(p, PALETTES.light, "10px sans-serif");
    const svg = p.toString();
    expect(svg.indexOf("<rect")).toBeGreaterThan(-1);
    expect(svg.indexOf("<rect")).toBeLessThan(svg.indexOf("nsubj"));
    expect(svg).toContain(PALETTES.light.background);
  });
});

describe("LabelPlacer with a gap", () => {
  it("treats labels closer than the gap as colliding", () => {
    const tight = new LabelPlacer("x", 30);
    tight.place(0, 0, 20, 10);
    expect(tight.place(21, 0, 20, 10)).toBe(0); // 1 px apart: fine without a gap
    const spaced = new LabelPlacer("x", 30, 3);
    spaced.place(0, 0, 20, 10);
    expect(spaced.place(21, 0, 20, 10)).toBe(30);
    expect(spaced.hidden).toBe(0);
  });
});
