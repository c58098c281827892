import { describe, expect, it } from "vitest";
import { type EdgeKey, type EdgeLabel, placeEdgeLabels } from "../../src/views/edge_labels";

const band = { left: 100, right: 260, top: 10, bottom: 590, rows: 3, rowH: 12, gap: 8 };
const label = (key: number, up: boolean) => `${up ? "↑" : "↓"} ${key} tok${key}`;
const measure = (text: string) => 6 * text.length; // a 10 px font's width, near enough
const place = (keys: EdgeKey[]) => placeEdgeLabels(keys, band, label, measure, "grey");

/** Keys 0..n-1 above the window and 1000.. below, weights falling with the index. */
function offScreen(above: number, below: number): EdgeKey[] {
  const keys: EdgeKey[] = [];
  for (let k = 0; k < above; k++) keys.push({ key: k, up: true, colour: "red", weight: 1 / (k + 1) });
  for (let k = 0; k < below; k++) keys.push({ key: 1000 + k, up: false, colour: "blue", weight: 1 / (k + 2) });
  return keys;
}

function overlaps(a: EdgeLabel, b: EdgeLabel): boolean {
  const apart =
    a.x + a.w + band.gap <= b.x || b.x + b.w + band.gap <= a.x || a.y + a.h / 2 <= b.y - b.h / 2 || b.y + b.h / 2 <= a.y - a.h / 2;
  return !apart;
}

describe("placeEdgeLabels", () => {
  it("never lets two labels overlap, however many keys are off screen, and says how many were merged", () => {
    for (const [above, below] of [
      [1, 0],
      [4, 2],
      [40, 7],
      [500, 300],
    ]) {
      const { labels, merged } = place(offScreen(above, below));
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++)
          expect(overlaps(labels[i], labels[j]), `${labels[i].text} / ${labels[j].text}`).toBe(false);
        expect(labels[i].x + labels[i].w).toBeLessThanOrEqual(band.right);
      }
      // Every key is named once: by a label of its own or inside a "+N more" label whose N says how many.
      const own = labels.filter((l) => !l.text.startsWith("+"));
      const more = labels.filter((l) => l.text.startsWith("+"));
      expect(own.length + merged).toBe(above + below);
      expect(more.reduce((s, l) => s + l.keys.length, 0)).toBe(merged);
      for (const l of more) expect(l.text).toBe(`+${l.keys.length} more ${l.y < 300 ? "↑" : "↓"}`);
      expect(new Set(labels.flatMap((l) => l.keys)).size).toBe(above + below);
      // At most `rows` rows per edge, stacked inwards from it.
      const ys = new Set(labels.map((l) => l.y));
      for (const y of ys) expect([10, 22, 34, 590, 578, 566]).toContain(y);
    }
  });

  it("labels every key when they fit, and the strongest when they do not", () => {
    const few = place(offScreen(3, 2));
    expect(few.merged).toBe(0);
    expect(few.labels.map((l) => l.text)).toEqual(["↑ 0 tok0", "↑ 1 tok1", "↑ 2 tok2", "↓ 1000 tok1000", "↓ 1001 tok1001"]);
    const many = place(offScreen(60, 0));
    expect(many.merged).toBeGreaterThan(0);
    const labelled = many.labels.filter((l) => !l.text.startsWith("+")).map((l) => l.keys[0]);
    const mergedKeys = many.labels.find((l) => l.text.startsWith("+"))!.keys;
    expect(Math.max(...labelled)).toBeLessThan(Math.min(...mergedKeys)); // key k weighs 1 / (k + 1)
    expect(many.labels.find((l) => l.text.startsWith("+"))!.colour).toBe("grey");
  });

  it("labels a key once, in the colour of its strongest line", () => {
    const { labels } = place([
      { key: 5, up: true, colour: "red", weight: 0.1 },
      { key: 5, up: true, colour: "green", weight: 0.6 },
      { key: 5, up: true, colour: "blue", weight: 0.3 },
    ]);
    expect(labels).toHaveLength(1);
    expect(labels[0].colour).toBe("green");
  });
});
