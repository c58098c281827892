// A unit's dependency relation as words, for the tooltip: the arcs' labels may be left
// out where they would overlap, and the tooltip is where the relation can always be read.

import type { UnitSyntax } from "./syntax";

/**
 * `nsubj of "gave"` (the unit's own relation, to its head), then `head of: det "The", amod "old"`
 * (its dependents). Empty without syntax or for a unit outside any relation.
 */
export function relationText(syntax: UnitSyntax, unit: number): string {
  const own = syntax.arcs.find((a) => a.dependent === unit);
  const deps = syntax.arcs.filter((a) => a.head === unit);
  const parts: string[] = [];
  if (own) parts.push(`${own.label || "dep"} of ${JSON.stringify(syntax.labels[own.head])}`);
  if (deps.length)
    parts.push(`head of: ${deps.map((a) => `${a.label || "dep"} ${JSON.stringify(syntax.labels[a.dependent])}`).join(", ")}`);
  return parts.join(" · ");
}
