import { describe, expect, it } from "vitest";
import { relationText } from "../../src/data/relations";
import type { UnitSyntax } from "../../src/data/syntax";

// "The cat sat": The -det-> cat, cat -nsubj-> sat (root)
const syntax: UnitSyntax = {
  labels: ["The", "cat", "sat", "<b>"],
  upos: ["DET", "NOUN", "VERB", null],
  arcs: [
    { dependent: 0, head: 1, label: "det" },
    { dependent: 1, head: 2, label: "nsubj" },
  ],
  related: () => false,
  hasSyntax: true,
};

describe("relationText", () => {
  it("names the unit's relation to its head and its own dependents", () => {
    expect(relationText(syntax, 0)).toBe('det of "cat"');
    expect(relationText(syntax, 1)).toBe('nsubj of "sat" · head of: det "The"');
    expect(relationText(syntax, 2)).toBe('head of: nsubj "cat"');
  });
  it("is empty outside any relation", () => {
    expect(relationText(syntax, 3)).toBe("");
  });
});
