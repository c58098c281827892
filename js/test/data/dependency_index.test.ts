import { describe, expect, it } from "vitest";
import { DependencyIndex } from "../../src/data/dependency_index";
import type { Meta } from "../../src/data/meta";
import { unitSyntax } from "../../src/data/syntax";

// "<s> The cat s ##at on the mat ." : words The(0) cat(1) sat(2) on(3) the(4) mat(5) .(6)
const words = ["The", "cat", "sat", "on", "the", "mat", "."];
const head = [1, 2, -1, 5, 5, 2, 2];
const deprel = ["det", "nsubj", "root", "case", "det", "obl", "punct"];
const tokenWord = [-1, 0, 1, 2, 2, 3, 4, 5, 6];
const labels = ["<s>", "The", "cat", "s", "##at", "on", "the", "mat", "."];

function metaOf(wordOf: number[], syntax: Meta["syntax"], tokens = wordOf.map((_, k) => `t${k}`)): Meta {
  return {
    model: "m",
    num_layers: 1,
    num_heads: 1,
    num_tokens: wordOf.length,
    is_causal: true,
    packing: "full",
    tokens,
    syntax,
    levels: { token: { labels: tokens, word: wordOf, of_token: wordOf.map((_, k) => k) } },
  };
}

const meta = metaOf(
  tokenWord,
  { source: "spacy", words, upos: ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"], head, deprel },
  labels,
);

/** Every related pair by brute force over the whole matrix (what the index must never do). */
function brute(m: Meta, r0: number, r1: number, c0: number, c1: number, causal: boolean) {
  const s = unitSyntax(m, "token");
  const out: { row: number; col: number }[] = [];
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) if ((!causal || c <= r) && s.related(r, c)) out.push({ row: r, col: c });
  return out;
}

describe("DependencyIndex", () => {
  const index = DependencyIndex.of(meta)!;

  it("lists each token's partners as the short views' `related` does", () => {
    expect(index.partnersOf(2)).toEqual([1, 3, 4]); // cat: The (its dependent), s ##at (its head)
    expect(index.partnersOf(4)).toEqual([2, 7, 8]); // ##at: piece of sat; never s
    expect(index.partnersOf(0)).toEqual([]); // <s> is outside every word
  });

  it("finds the related pairs of a tile, causal or not, as a brute-force pass does", () => {
    for (const causal of [true, false]) {
      for (const [r0, r1, c0, c1] of [
        [0, 9, 0, 9],
        [2, 5, 0, 3],
        [3, 9, 4, 8],
        [7, 8, 0, 9],
      ]) {
        expect(index.pairsIn(r0, r1, c0, c1, causal)).toEqual(brute(meta, r0, r1, c0, c1, causal));
      }
    }
    expect(index.pairsIn(-5, 100, -5, 100, true)).toEqual(brute(meta, 0, 9, 0, 9, true)); // clipped to the input
  });

  it("agrees with a brute-force pass on a long random parse", () => {
    // 3,000 words in sentences of 1-40 words, one to three tokens each, some tokens outside words.
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const heads: number[] = [];
    while (heads.length < 3000) {
      const start = heads.length;
      const len = Math.min(3000 - start, 1 + Math.floor(rand() * 40));
      const root = start + Math.floor(rand() * len);
      for (let w = start; w < start + len; w++) heads.push(w === root ? -1 : start + Math.floor(rand() * len));
      for (let w = start; w < start + len; w++) if (heads[w] === w) heads[w] = root;
    }
    const wordOf: number[] = [];
    heads.forEach((_, w) => {
      if (rand() < 0.05) wordOf.push(-1);
      for (let k = 0, pieces = 1 + Math.floor(rand() * 3); k < pieces; k++) wordOf.push(w);
    });
    const m = metaOf(wordOf, {
      source: "spacy",
      words: heads.map((_, w) => `w${w}`),
      upos: heads.map(() => "X"),
      head: heads,
      deprel: heads.map(() => "dep"),
    });
    const big = DependencyIndex.of(m)!;
    const n = wordOf.length;
    for (const [r0, c0, side] of [
      [0, 0, 64],
      [1000, 960, 80],
      [n - 50, n - 120, 120],
    ]) {
      expect(big.pairsIn(r0, r0 + side, c0, c0 + side, true)).toEqual(
        brute(m, r0, Math.min(n, r0 + side), c0, Math.min(n, c0 + side), true),
      );
    }
    // per-row partners agree with `related` over the whole row
    const s = unitSyntax(m, "token");
    for (const r of [0, 17, 2500, n - 1]) {
      const want = [];
      for (let c = 0; c < n; c++) if (s.related(r, c)) want.push(c);
      expect(big.partnersOf(r)).toEqual(want);
    }
  });

  it("gives a token's head word's tokens, the arcs near some rows, tags and relations in words", () => {
    expect(Array.from(index.headOf(2))).toEqual([3, 4]); // cat -> sat (both pieces)
    expect(Array.from(index.headOf(3))).toEqual([]); // sat is the root
    expect(
      index
        .arcsNear(7, 8)
        .map((a) => a.label)
        .sort(),
    ).toEqual(["case", "det", "obl"]); // mat: its own and its dependents'
    expect(index.tag(4)).toBe("VERB");
    expect(index.tag(0)).toBeNull();
    expect(index.relation(2, 4)).toBe('"cat" is nsubj of "sat"');
    expect(index.relation(4, 2)).toBe('"cat" is nsubj of "sat"');
    expect(index.relation(1, 3)).toBeNull();
  });

  it("is null without syntax", () => {
    expect(DependencyIndex.of({ ...meta, syntax: null })).toBeNull();
  });
});
