// Which rows and columns a view draws: a sentence pair's block (pair_filter) or
// one step of generated text (step). Units are tokens or words (level), so the
// token indices of `_meta.split` are mapped to units first. Pure, for vitest.

import type { Meta, Units } from "./meta";
import type { PairFilter } from "./traits";

export interface Drawn {
  rows: Uint8Array | null; // 1 = the row is drawn; null = every row
  cols: Uint8Array | null;
  /** First unit of the second part (sentence B, generated text), for the divider; or null. */
  split: number | null;
  /** At a generation step, the row that wrote the token (shown as locked), else null. */
  stepRow: number | null;
}

/** Unit of the split token, or null when the input has no second part (or it is empty). */
export function splitUnit(meta: Meta, units: Units): number | null {
  const at = meta.split?.at;
  if (at === undefined || at === null || at <= 0 || at >= units.of_token.length) return null;
  return units.of_token[at];
}

/** Rows and columns of a pair's block: "A->B" draws A's rows and B's columns. */
export function pairBlock(which: PairFilter, split: number, nRows: number, nCols: number): Pick<Drawn, "rows" | "cols"> {
  if (which === "all") return { rows: null, cols: null };
  const [from, to] = which.split("->");
  const side = (s: string, n: number) => Uint8Array.from({ length: n }, (_, u) => Number((u >= split) === (s === "B")));
  return { rows: side(from, nRows), cols: side(to, nCols) };
}

/**
 * Generation step k: the model wrote generated token k from the row of the token
 * before it (the newest one then), which could see every token up to itself.
 */
export function stepBlock(step: number, meta: Meta, units: Units): Pick<Drawn, "rows" | "cols" | "stepRow"> {
  const token = meta.split!.at + step - 1;
  const row = units.of_token[token];
  const n = units.labels.length;
  return {
    rows: Uint8Array.from({ length: n }, (_, u) => Number(u === row)),
    cols: Uint8Array.from({ length: n }, (_, u) => Number(u <= row)),
    stepRow: row,
  };
}

export function drawnUnits(meta: Meta, units: Units, pairFilter: PairFilter, step: number | null, nCols: number): Drawn {
  const split = meta.kind === "cross" ? null : splitUnit(meta, units);
  const isPair = meta.split?.names[0] === "A";
  if (split !== null && step !== null && !isPair && meta.split) {
    return { ...stepBlock(step, meta, units), split };
  }
  if (split !== null && isPair && pairFilter !== "all") {
    return { ...pairBlock(pairFilter, split, units.labels.length, nCols), split, stepRow: null };
  }
  return { rows: null, cols: null, split, stepRow: null };
}
