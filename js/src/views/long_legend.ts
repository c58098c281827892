// The legend under the long head and matrix views: the short views' items (legend.ts)
// where the long views draw the same marks, reworded where they differ (tags and outlines
// appear only when zoomed in; no arcs over the matrix), and the long head view's own marks.

import type { Palette } from "../draw/theme";
import { type LegendItem, legendItems } from "./legend";

export interface LongLegendInput {
  view: "head" | "matrix";
  palette: Palette;
  heads: number[];
  hasSyntax: boolean;
  syntaxSource?: string;
  causal: boolean;
  locked: boolean; // a locked query row (the head view outlines it)
  hiddenArcLabels: number;
}

/** What the legend lists under a long input's head or matrix view. */
export function longLegendItems(s: LongLegendInput): LegendItem[] {
  const items = legendItems({ ...s, locked: s.view === "head" && s.locked, parts: null, outside: false, level: "token" });
  const out: LegendItem[] = [];
  for (const item of items) {
    if (s.view === "matrix" && item.key === "arc") continue; // the long matrix draws no arcs
    if (s.view === "matrix" && item.key === "related") out.push({ ...item, label: `${item.label}; drawn from 4 px a cell` });
    else if (s.view === "matrix" && item.key === "upos")
      out.push({ ...item, label: `${item.label}, beside each token's label (from 10 px a cell)` });
    else if (item.key === "locked") {
      out.push({
        key: "locked",
        mark: { kind: "outline", colour: s.palette.foreground, width: 1 },
        label: "outlined row: the locked query (click it again to unlock); other rows' lines fade",
      });
    } else out.push(item);
  }
  if (s.view === "head" && s.hasSyntax) {
    out.push({
      key: "head-found",
      mark: { kind: "swatch", colour: s.palette.arc, border: s.palette.arc },
      label: "small square after the %: the row's head word is among its drawn lines",
    });
  }
  if (s.view === "head") {
    out.push(
      {
        key: "coverage",
        mark: { kind: "note" },
        label: "% beside each row: the share of its attention its drawn lines (its strongest keys) cover",
      },
      { key: "edge", mark: { kind: "note" }, label: "↑ / ↓ key: a line to a key above or below the rows in view ends at the edge" },
    );
  }
  return out;
}
