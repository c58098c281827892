// The synced traits of attnwidget.AttentionWidget as the views read them.

import type { Level } from "./meta";
import type { WidgetModel } from "../host/widget_model";

export type ViewName = "head" | "model" | "matrix" | "neuron";
export type PairFilter = "all" | "A->A" | "B->B" | "A->B" | "B->A";
export const PAIR_FILTERS: PairFilter[] = ["all", "A->A", "B->B", "A->B", "B->A"];

export interface Traits {
  view: ViewName;
  layer: number;
  heads: number[];
  token: number | null;
  token_role: "query" | "key";
  threshold: number;
  prune: number;
  hide_first: boolean;
  renormalise: boolean;
  level: Level;
  theme: "auto" | "light" | "dark";
  pair_filter: PairFilter;
  attention_kind: string;
  step: number | null;
}

export const TRAIT_NAMES: (keyof Traits)[] = [
  "view", "layer", "heads", "token", "token_role", "threshold", "prune", "hide_first", "renormalise", "level", "theme",
  "pair_filter", "attention_kind", "step",
];

/** Values for traits a host may not have (the explorer's embedded widget predates them). */
const DEFAULTS: Partial<Traits> = { pair_filter: "all", attention_kind: "self", step: null };

export function readTraits(widgetModel: WidgetModel): Traits {
  const t = {} as Record<string, unknown>;
  for (const name of TRAIT_NAMES) t[name] = widgetModel.get(name) ?? DEFAULTS[name];
  return t as unknown as Traits;
}

/** Set traits from the page and push them to the kernel in one message. */
export function writeTraits(widgetModel: WidgetModel, changes: Partial<Traits>) {
  for (const [k, v] of Object.entries(changes)) widgetModel.set(k, v);
  widgetModel.save_changes();
}
