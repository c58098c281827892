// Everything a view needs to draw, computed once per state change by the app (views/attention_app.ts).

import type { Palette } from "../draw/theme";
import type { Drawn } from "./filters";
import type { Focus, Pruned } from "./prune";
import type { UnitSyntax } from "./syntax";
import type { LayerMatrix } from "./transform";

export interface Scene {
  palette: Palette;
  syntax: UnitSyntax;
  matrix: LayerMatrix; // after hide_first and word merging
  pruned: Pruned; // kept lines of the selected heads
  layer: number;
  heads: number[];
  numHeads: number;
  causal: boolean;
  selected: Focus | null; // locked token (the `token` trait)
  /** Column labels: the rows' labels, or the source tokens under cross-attention. */
  keyLabels: string[];
  /** Rows and columns drawn (pair filter, generation step) and the divider between parts. */
  drawn: Drawn;
  /** Changes whenever anything drawn without focus changes (snapshot cache key). */
  key: string;
}

export interface ViewStats {
  lines: number;
  total: number;
  capped: boolean;
}
