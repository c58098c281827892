// Dependency lookups for the long views (thousands of tokens): a few typed arrays built
// once per input in O(tokens), then each row or tile in view asks only about itself,
// never a T x T pass. What counts as related is unitSyntax's `related` at token level (the
// short views' definition): a token's word and its head word, either way round, never
// pieces of one word.

import type { Meta } from "./meta";
import { type Arc, type UnitSyntax, unitSyntax } from "./syntax";

export interface DependencyPair {
  row: number; // query token
  col: number; // key token
}

/** Indices grouped: the members of group g are items[start[g] .. start[g + 1]), ascending. */
interface Groups {
  start: Int32Array;
  items: Int32Array;
}

/** Indices i grouped by keys[i] (in [0, groups); others left out). */
function group(groups: number, keys: readonly number[]): Groups {
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

function members(g: Groups, k: number): Int32Array {
  return g.items.subarray(g.start[k], g.start[k + 1]);
}

export class DependencyIndex {
  /** Token-level syntax as the short views see it: labels, UPOS per token, arcs, `related`. */
  readonly syntax: UnitSyntax;
  private wordOf: number[];
  private syn: NonNullable<Meta["syntax"]>;
  private tokensOf: Groups; // tokens of each word
  private dependents: Groups; // dependent words of each word
  private arcOf: Int32Array; // each word's arc (index into syntax.arcs) to its head, or -1
  private firstOf: Int32Array; // each word's first token, or -1

  private constructor(meta: Meta) {
    this.syntax = unitSyntax(meta, "token");
    this.syn = meta.syntax!;
    this.wordOf = meta.levels.token.word;
    const { head } = this.syn;
    const words = head.length;
    this.tokensOf = group(words, this.wordOf);
    this.dependents = group(words, head);
    this.firstOf = new Int32Array(words).fill(-1);
    for (let w = 0; w < words; w++)
      if (this.tokensOf.start[w + 1] > this.tokensOf.start[w]) this.firstOf[w] = this.tokensOf.items[this.tokensOf.start[w]];
    // unitSyntax makes one arc per word with a head, in word order, between first tokens.
    this.arcOf = new Int32Array(words).fill(-1);
    let k = 0;
    for (let w = 0; w < words; w++) if (head[w] >= 0 && this.firstOf[w] >= 0 && this.firstOf[head[w]] >= 0) this.arcOf[w] = k++;
  }

  /** The index of `meta`'s syntax at token level; null when the input has none. */
  static of(meta: Meta): DependencyIndex | null {
    return meta.syntax ? new DependencyIndex(meta) : null;
  }

  /** Tokens of the head word of token `t`'s word (empty for a root or a token outside words). */
  headOf(t: number): Int32Array {
    const w = this.wordOf[t] ?? -1;
    const h = w >= 0 ? this.syn.head[w] : -1;
    return h >= 0 && h !== w ? members(this.tokensOf, h) : new Int32Array(0);
  }

  /** Tokens related to token `t` (its head word's and its dependents' tokens), ascending. */
  partnersOf(t: number): number[] {
    const w = this.wordOf[t] ?? -1;
    if (w < 0) return [];
    const out = Array.from(this.headOf(t));
    for (const d of members(this.dependents, w)) if (d !== w) for (const k of members(this.tokensOf, d)) out.push(k);
    out.sort((a, b) => a - b);
    return out.filter((k, i) => i === 0 || k !== out[i - 1]); // a head that is also a dependent (a cycle) once
  }

  /** Related pairs with row in [r0, r1) and column in [c0, c1) (and column <= row when causal). */
  pairsIn(r0: number, r1: number, c0: number, c1: number, causal: boolean): DependencyPair[] {
    const out: DependencyPair[] = [];
    for (let r = Math.max(0, r0); r < Math.min(this.wordOf.length, r1); r++) {
      const stop = causal ? Math.min(c1, r + 1) : c1;
      for (const c of this.partnersOf(r)) if (c >= c0 && c < stop) out.push({ row: r, col: c });
    }
    return out;
  }

  /** Arcs with an end at a token in [t0, t1), each once. */
  arcsNear(t0: number, t1: number): Arc[] {
    const seen = new Set<number>();
    const { head } = this.syn;
    for (let t = Math.max(0, t0); t < Math.min(this.wordOf.length, t1); t++) {
      const w = this.wordOf[t];
      if (w < 0 || this.firstOf[w] !== t) continue; // arcs end at a word's first token
      if (this.arcOf[w] >= 0) seen.add(this.arcOf[w]);
      for (const d of members(this.dependents, w)) if (d !== w && this.arcOf[d] >= 0 && head[d] === w) seen.add(this.arcOf[d]);
    }
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
