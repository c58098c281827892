// Syntax seen at one level (tokens or words): UPOS per unit, dependency arcs
// between units, and the "attention edge coincides with a dependency" test of
// docs/metrics.md#tokens-and-words (either direction; pieces of one word are never related).

import type { Meta } from "./meta";
import type { Level } from "./traits";

export interface Arc {
  dependent: number; // unit
  head: number; // unit
  label: string;
}

export interface UnitSyntax {
  labels: string[];
  upos: (string | null)[] | null;
  arcs: Arc[];
  /** True when units a and b are a dependent and its head (either way round). */
  related(a: number, b: number): boolean;
  hasSyntax: boolean;
}

export function unitSyntax(meta: Meta, level: Level): UnitSyntax {
  const units = (level === "word" && meta.levels.word) || meta.levels.token;
  const syn = meta.syntax;
  const unitWord = units.word;
  if (!syn) {
    return { labels: units.labels, upos: null, arcs: [], related: () => false, hasSyntax: false };
  }
  const upos = unitWord.map((w) => (w >= 0 ? syn.upos[w] : null));
  // First unit of each word: arcs attach there so split words get one arc.
  const firstUnit = new Array<number>(syn.words.length).fill(-1);
  unitWord.forEach((w, u) => {
    if (w >= 0 && firstUnit[w] < 0) firstUnit[w] = u;
  });
  const arcs: Arc[] = [];
  syn.head.forEach((h, w) => {
    if (h < 0 || firstUnit[w] < 0 || firstUnit[h] < 0) return;
    arcs.push({ dependent: firstUnit[w], head: firstUnit[h], label: syn.deprel[w] ?? "" });
  });
  const related = (a: number, b: number) => {
    const wa = unitWord[a];
    const wb = unitWord[b];
    return wa >= 0 && wb >= 0 && wa !== wb && (syn.head[wa] === wb || syn.head[wb] === wa);
  };
  return { labels: units.labels, upos, arcs, related, hasSyntax: true };
}

/** Arc depth grows with the log of its span so long arcs stay inside the margin. */
export function arcDepth(span: number, maxDepth: number): number {
  return Math.min(maxDepth, 10 + 14 * Math.log2(1 + Math.abs(span)));
}

/** Attention lines at least this strong that join a dependent and its head get the dashed mark. */
export const MARKED_MIN_WEIGHT = 0.1;

/**
 * Places arc labels without overlap: each label tries its own spot, then spots
 * shifted along `axis`; a label with no free spot is left out (its arc stays) and
 * counted in `hidden`. `pad` keeps that much space between two labels.
 */
export class LabelPlacer {
  private boxes: [number, number, number, number][] = [];
  hidden = 0;
  constructor(
    private axis: "x" | "y",
    private step: number,
    private pad = 0,
  ) {}

  /** (x0, y0) is the label box's top-left corner; returns the shift used, or null. */
  place(x0: number, y0: number, w: number, h: number): number | null {
    const g = this.pad;
    for (const k of [0, -1, 1, -2, 2]) {
      const d = k * this.step;
      const [x, y] = this.axis === "y" ? [x0, y0 + d] : [x0 + d, y0];
      if (this.boxes.every(([bx, by, bw, bh]) => x + w + g <= bx || bx + bw + g <= x || y + h + g <= by || by + bh + g <= y)) {
        this.boxes.push([x, y, w, h]);
        return d;
      }
    }
    this.hidden += 1;
    return null;
  }
}
