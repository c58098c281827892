// Dependency lookups for the long views (thousands of tokens): built once per input in
// O(tokens), then each row or tile in view asks only about itself, never a T x T pass.
// What counts as related is unitSyntax's `related` at token level (the short views'
// definition): a token's word and its head word, either way round, never pieces of one word.

import type { Meta } from "./meta";
import { type Arc, type UnitSyntax, unitSyntax } from "./syntax";

export interface DependencyPair {
  row: number; // query token
  col: number; // key token
}

/** Compressed rows: the items of `t` are items[start[t] .. start[t + 1]). */
interface Rows {
  start: Int32Array;
  items: Int32Array;
}

function compress(n: number, lists: (t: number, push: (v: number) => void) => void): Rows {
  const start = new Int32Array(n + 1);
  const out: number[] = [];
  for (let t = 0; t < n; t++) {
    start[t] = out.length;
    lists(t, (v) => out.push(v));
  }
  start[n] = out.length;
  return { start, items: Int32Array.from(out) };
}

/** Indices i grouped by keys[i] (in [0, groups), others left out), ascending within a group. */
function group(groups: number, keys: readonly number[]): Rows {
  const start = new Int32Array(groups + 1);
  for (const g of keys) if (g >= 0 && g < groups) start[g + 1]++;
  for (let g = 0; g < groups; g++) start[g + 1] += start[g];
  const items = new Int32Array(start[groups]);
  const at = start.slice(0, groups);
  keys.forEach((g, i) => {
    if (g >= 0 && g < groups) items[at[g]++] = i;
  });
  return { start, items };
}

function row(r: Rows, t: number): Int32Array {
  return r.items.subarray(r.start[t], r.start[t + 1]);
}

/** First index in ascending `a` whose value is >= v. */
function lowerBound(a: Int32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class DependencyIndex {
  /** Token-level syntax as the short views see it: labels, UPOS per token, arcs, `related`. */
  readonly syntax: UnitSyntax;
  private partners: Rows; // tokens related to each token, ascending
  private arcsAt: Rows; // arcs (indices into syntax.arcs) that end at each token
  private headTokens: Rows; // tokens of each token's head word
  private wordOf: number[];
  private syn: NonNullable<Meta["syntax"]>;

  private constructor(meta: Meta) {
    this.syntax = unitSyntax(meta, "token");
    this.syn = meta.syntax!;
    const wordOf = meta.levels.token.word;
    this.wordOf = wordOf;
    const n = wordOf.length;
    const { head } = this.syn;
    const words = head.length;
    const tokensOf = group(words, wordOf);
    const dependents = group(words, head);
    this.headTokens = compress(n, (t, push) => {
      const w = wordOf[t];
      if (w >= 0 && head[w] >= 0 && head[w] !== w) for (const k of row(tokensOf, head[w])) push(k);
    });
    this.partners = compress(n, (t, push) => {
      const w = wordOf[t];
      if (w < 0) return;
      const mine: number[] = [];
      if (head[w] >= 0 && head[w] !== w) for (const k of row(tokensOf, head[w])) mine.push(k);
      for (const d of row(dependents, w)) if (d !== w) for (const k of row(tokensOf, d)) mine.push(k);
      mine.sort((a, b) => a - b);
      mine.forEach((k, i) => {
        if (i === 0 || k !== mine[i - 1]) push(k); // a head that is also a dependent (a cycle) once
      });
    });
    const arcs = this.syntax.arcs;
    const touching: number[][] = Array.from({ length: n }, () => []);
    arcs.forEach((a, k) => {
      touching[a.dependent].push(k);
      if (a.head !== a.dependent) touching[a.head].push(k);
    });
    this.arcsAt = compress(n, (t, push) => {
      for (const k of touching[t]) push(k);
    });
  }

  /** The index of `meta`'s syntax at token level; null when the input has none. */
  static of(meta: Meta): DependencyIndex | null {
    return meta.syntax ? new DependencyIndex(meta) : null;
  }

  /** Tokens related to token `t` (its head word's and its dependents' tokens), ascending. */
  partnersOf(t: number): Int32Array {
    return row(this.partners, t);
  }

  /** Tokens of the head word of token `t`'s word (empty for a root or a token outside words). */
  headOf(t: number): Int32Array {
    return row(this.headTokens, t);
  }

  /** Related pairs with row in [r0, r1) and column in [c0, c1) (and column <= row when causal). */
  pairsIn(r0: number, r1: number, c0: number, c1: number, causal: boolean): DependencyPair[] {
    const out: DependencyPair[] = [];
    const n = this.wordOf.length;
    for (let r = Math.max(0, r0); r < Math.min(n, r1); r++) {
      const p = this.partnersOf(r);
      const stop = causal ? Math.min(c1, r + 1) : c1;
      for (let k = lowerBound(p, c0); k < p.length && p[k] < stop; k++) out.push({ row: r, col: p[k] });
    }
    return out;
  }

  /** Arcs with an end at a token in [t0, t1), each once. */
  arcsNear(t0: number, t1: number): Arc[] {
    const seen = new Set<number>();
    const n = this.wordOf.length;
    for (let t = Math.max(0, t0); t < Math.min(n, t1); t++) for (const k of row(this.arcsAt, t)) seen.add(k);
    return Array.from(seen, (k) => this.syntax.arcs[k]);
  }

  /**
   * How tokens `a` and `b` are related, in words: `"cat" is nsubj of "sat"` (the words, whole);
   * null when they are not a dependent and its head.
   */
  relation(a: number, b: number): string | null {
    if (!this.syntax.related(a, b)) return null;
    const wa = this.wordOf[a];
    const wb = this.wordOf[b];
    const [dep, head] = this.syn.head[wa] === wb ? [wa, wb] : [wb, wa];
    const { words, deprel } = this.syn;
    return `${JSON.stringify(words[dep])} is ${deprel[dep] || "dep"} of ${JSON.stringify(words[head])}`;
  }

  /** The part of speech of token `t`'s word (null outside words). */
  tag(t: number): string | null {
    return this.syntax.upos?.[t] ?? null;
  }
}
