// The syntax marks both head views draw (the short one and the long one's rows in view):
// the dashed overlay on an attention line between a word and its head or dependent, and
// the labelled dependency arcs beside the query column. One drawing, so the legend's
// samples (legend.ts) hold for both.

import type { Arc, UnitSyntax } from "../data/syntax";
import { arcDepth, MARKED_MIN_WEIGHT } from "../data/syntax";
import { SMALL_FONT } from "../draw/layout";
import { measureText, type Painter } from "../draw/painter";
import type { Palette } from "../draw/theme";
import { ArcLabels } from "./arc_labels";

/** Dash pattern of the overlay (the legend's "dashed" sample draws "4 3" too). */
const DASH = [4, 3];

/** Whether a line from unit `from` to unit `to` of weight `w` gets the dashed mark. */
export function marksRelation(syntax: UnitSyntax, from: number, to: number, w: number): boolean {
  return w >= MARKED_MIN_WEIGHT && syntax.related(from, to);
}

/** The dashed overlay on the marked lines, `xy` as x1, y1, x2, y2 per line. */
export function paintRelationMarks(p: Painter, palette: Palette, xy: number[]): void {
  p.segments(xy, palette.foreground, 0.9, 1.2, DASH);
}

/**
 * Dependency arcs bulging left of `x0`, from the head's row to the dependent's (arrowhead
 * there), each labelled with its relation where the label finds room. Arcs wholly above or
 * below the visible rows are skipped. Returns how many labels were left out.
 */
export function paintArcsBeside(
  p: Painter,
  palette: Palette,
  arcs: Arc[],
  rowY: (unit: number) => number,
  x0: number,
  maxDepth: number,
): number {
  const { y0, y1 } = p.visible;
  const pts: number[] = [];
  const heads: number[] = [];
  const labels = new ArcLabels("y", 11);
  for (const arc of arcs) {
    const ya = rowY(arc.dependent);
    const yb = rowY(arc.head);
    if (Math.max(ya, yb) < y0 || Math.min(ya, yb) > y1) continue;
    const depth = arcDepth(arc.dependent - arc.head, maxDepth);
    // A quadratic's control point at twice the depth puts the apex at `depth`.
    pts.push(x0, yb, x0 - 2 * depth, (ya + yb) / 2, x0, ya);
    heads.push(x0 - 5, ya - 3, x0, ya, x0 - 5, ya + 3, x0, ya); // arrowhead at the dependent
    const w = measureText(arc.label, SMALL_FONT);
    labels.add(arc.label, x0 - depth - 3 - w, (ya + yb) / 2 - 6, w, 12);
  }
  p.curves(pts, palette.arc, 1);
  p.segments(heads, palette.arc, 1, 1.2);
  labels.paint(p, palette, SMALL_FONT);
  return labels.hidden;
}
