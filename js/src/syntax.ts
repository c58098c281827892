// Syntax seen at one level (tokens or words): UPOS per unit, dependency arcs
// between units, and the "attention edge coincides with a dependency" test of
// SPEC.md §1 (either direction; pieces of one word are never related).

import type { Level, Meta } from "./meta";

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
