// Which rows and columns a view draws: a sentence pair's block (pair_filter) or
// one step of generated text (step). Units are tokens or words (level), so the
// token indices of `_meta.split` are mapped to units first. Pure, for vitest.
//
// A pair's block is laid out on its own, as bertviz does: with "A->B" the views show
// sentence A's units as the queries and sentence B's as the keys, nothing else. Each
// axis maps a shown position to the original unit (and back): every view draws at
// shown positions and reports original units, which is what the traits hold. A
// generation step keeps every unit in place and mutes the others (rows / cols).

import type { Meta, Units } from "./meta";
import type { PairFilter } from "./traits";

export interface Drawn {
  rows: Uint8Array | null; // 1 = the row is drawn; null = every row
  cols: Uint8Array | null;
  /** First unit of the second part (sentence B, generated text), for colours; or null. */
  split: number | null;
  /** At a generation step, the row that wrote the token (shown as locked), else null. */
  stepRow: number | null;
  /** Query units shown, in order (the head view's left column, the matrix's rows). */
  rowAxis: Axis;
  /** Key units shown, in order (the head view's right column, the matrix's columns). */
  colAxis: Axis;
}

/** The units one axis of a view shows: shown position <-> original unit. */
export interface Axis {
  /** Original unit at each shown position. */
  units: Int32Array;
  /** Shown position of each original unit; -1 where the unit is not shown. */
  pos: Int32Array;
  /** Shown position of the first unit of the second part (the divider), when both parts are shown; else null. */
  split: number | null;
  /** True when every unit is shown in its own place (units[i] === i). */
  full: boolean;
}

/** An axis showing units `units` (ascending) out of `total`; `split` is the original second-part unit. */
export function makeAxis(units: ArrayLike<number>, total: number, split: number | null = null): Axis {
  const shown = Int32Array.from(units);
  const pos = new Int32Array(total).fill(-1);
  shown.forEach((u, i) => {
    pos[u] = i;
  });
  let at: number | null = null;
  if (split !== null && shown.length > 0 && shown[0] < split && shown[shown.length - 1] >= split) {
    at = shown.findIndex((u) => u >= split);
  }
  const full = shown.length === total && shown.every((u, i) => u === i);
  return { units: shown, pos, split: at, full };
}

/** Every one of `n` units in its own place. */
export function fullAxis(n: number, split: number | null = null): Axis {
  return makeAxis(
    Array.from({ length: n }, (_, i) => i),
    n,
    split,
  );
}

/** The units [start, end) of one side of a pair: A = [0, split), B = [split, n). */
export function pairSide(side: string, split: number, n: number): [number, number] {
  return side === "B" ? [Math.min(split, n), n] : [0, Math.min(split, n)];
}

/** Query (rows) and key (cols) ranges [start, end) of a pair's block, or null for "all". */
export function pairRanges(
  which: PairFilter,
  split: number,
  nRows: number,
  nCols: number,
): { rows: [number, number]; cols: [number, number] } | null {
  if (which === "all") return null;
  const [from, to] = which.split("->");
  return { rows: pairSide(from, split, nRows), cols: pairSide(to, split, nCols) };
}

function range([start, end]: [number, number]): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, k) => start + k);
}

/** Unit of the split token, or null when the input has no second part (or it is empty). */
export function splitUnit(meta: Meta, units: Units): number | null {
  const at = meta.split?.at;
  if (at === undefined || at === null || at <= 0 || at >= units.of_token.length) return null;
  return units.of_token[at];
}

/** Rows and columns of a pair's block: "A->B" draws A's rows and B's columns. */
export function pairBlock(which: PairFilter, split: number, nRows: number, nCols: number): Pick<Drawn, "rows" | "cols"> {
  const block = pairRanges(which, split, nRows, nCols);
  if (!block) return { rows: null, cols: null };
  const mask = ([start, end]: [number, number], n: number) => Uint8Array.from({ length: n }, (_, u) => Number(u >= start && u < end));
  return { rows: mask(block.rows, nRows), cols: mask(block.cols, nCols) };
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
  const nRows = units.labels.length;
  const axes = { rowAxis: fullAxis(nRows, split), colAxis: fullAxis(nCols, split) };
  if (split !== null && step !== null && !isPair && meta.split) {
    return { ...stepBlock(step, meta, units), split, ...axes };
  }
  const block = split !== null && isPair ? pairRanges(pairFilter, split, nRows, nCols) : null;
  if (block) {
    return {
      ...pairBlock(pairFilter, split!, nRows, nCols),
      split,
      stepRow: null,
      rowAxis: makeAxis(range(block.rows), nRows, split),
      colAxis: makeAxis(range(block.cols), nCols, split),
    };
  }
  return { rows: null, cols: null, split, stepRow: null, ...axes };
}

/** A shown position on the query (row) or key (column) axis back to its original unit. */
export function originalUnit(drawn: Pick<Drawn, "rowAxis" | "colAxis">, at: number, role: "query" | "key"): number {
  return (role === "query" ? drawn.rowAxis : drawn.colAxis).units[at];
}

/** Whether `focus` (original unit and role) is on the axes shown. */
export function isShown(drawn: Drawn, focus: { unit: number; role: "query" | "key" }): boolean {
  const axis = focus.role === "query" ? drawn.rowAxis : drawn.colAxis;
  return focus.unit >= 0 && focus.unit < axis.pos.length && axis.pos[focus.unit] >= 0;
}

/**
 * The model view's window on block-max thumbnails: cells [r0, r1) x [c0, c1) of the
 * token-level block `pairFilter` (thumbnails are always token level), or null for all.
 * With several tokens per cell the cell holding the split shows both sides.
 */
export function thumbWindow(meta: Meta, pairFilter: PairFilter, blocks: number): { r0: number; r1: number; c0: number; c1: number } | null {
  const at = meta.split?.at;
  if (meta.split?.names[0] !== "A" || meta.kind === "cross" || at === undefined || at === null) return null;
  const n = meta.num_tokens;
  if (at <= 0 || at >= n) return null;
  const block = pairRanges(pairFilter, at, n, meta.num_keys ?? n);
  if (!block) return null;
  const b = Math.max(1, blocks);
  const cells = ([start, end]: [number, number]) => [Math.floor(start / b), Math.ceil(end / b)];
  const [r0, r1] = cells(block.rows);
  const [c0, c1] = cells(block.cols);
  return { r0, r1, c0, c1 };
}

/**
 * Dependency arcs at shown positions: an arc is kept only when both its ends are on
 * `axis` (an arc to a token that is not shown would point nowhere).
 */
export function shownArcs<A extends { dependent: number; head: number }>(arcs: A[], axis: Axis): A[] {
  if (axis.full) return arcs;
  const out: A[] = [];
  for (const arc of arcs) {
    const d = axis.pos[arc.dependent] ?? -1;
    const h = axis.pos[arc.head] ?? -1;
    if (d >= 0 && h >= 0) out.push({ ...arc, dependent: d, head: h });
  }
  return out;
}
