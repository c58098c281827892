// The synced traits of attnwidget.AttentionWidget and attnwidget.HeadExplorer
// as the views read and write them. Names, types, defaults and the choices of
// string traits are written once, in traits.json, which the TypeScript below
// reads and tests/test_trait_names.py checks against the Python classes. The
// literal types here are checked against the JSON by test/data/traits.test.ts
// (each must list exactly its trait's choices) and by the compiler (names).

import type { WidgetModel } from "../host/widget_model";
import spec from "./traits.json";

export type ViewName = "head" | "model" | "matrix" | "neuron";
export type TokenRole = "query" | "key";
export type Level = "token" | "word";
export type ThemeChoice = "auto" | "light" | "dark";
/** A sentence pair's block, queries->keys. */
export type PairFilter = "all" | "A->A" | "B->B" | "A->B" | "B->A";
/** Which attention of the input: "self", or one of an encoder-decoder's three. */
export type AttentionKind = "self" | "encoder" | "decoder" | "cross";
export type ExplorerMode = "single" | "side_by_side" | "difference";

export interface Traits {
  view: ViewName;
  layer: number;
  heads: number[];
  token: number | null;
  token_role: TokenRole;
  threshold: number;
  prune: number;
  hide_first: boolean;
  renormalise: boolean;
  level: Level;
  theme: ThemeChoice;
  pair_filter: PairFilter;
  attention_kind: AttentionKind;
  step: number | null;
}

export interface ExplorerTraits {
  metric: string; // choices: the metrics in `_stats`
  key: string; // "" for a metric without keys
  metric2: string;
  key2: string;
  mode: ExplorerMode;
  layer: number | null;
  head: number | null;
  exemplar: number | null;
  source: number;
  theme: ThemeChoice;
}

type Spec = typeof spec;
export type WidgetName = keyof Spec;

// The interfaces above have exactly the JSON's trait names (a compile error otherwise).
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const attentionNames: SameKeys<Traits, Spec["AttentionWidget"]["traits"]> = true;
const explorerNames: SameKeys<ExplorerTraits, Spec["HeadExplorer"]["traits"]> = true;
void [attentionNames, explorerNames];

interface TraitSpec {
  type: string;
  default: unknown;
  nullable?: boolean;
  choices?: string[];
  choices_from?: string;
}

const specOf = (widget: WidgetName) => spec[widget].traits as Record<string, TraitSpec>;

/** The synced public traits of a widget, in the order the JSON lists them. */
export const TRAIT_NAMES = Object.keys(spec.AttentionWidget.traits) as (keyof Traits)[];
export const EXPLORER_TRAITS = Object.keys(spec.HeadExplorer.traits) as (keyof ExplorerTraits)[];

/** The allowed values of a string trait with fixed choices. */
export function choices<T extends string>(widget: WidgetName, trait: string): readonly T[] {
  const c = specOf(widget)[trait]?.choices;
  if (!c) throw new Error(`${widget}.${trait} has no fixed choices in traits.json`);
  return c as T[];
}

export const VIEWS = choices<ViewName>("AttentionWidget", "view");
export const LEVELS = choices<Level>("AttentionWidget", "level");
export const PAIR_FILTERS = choices<PairFilter>("AttentionWidget", "pair_filter");
export const EXPLORER_MODES = choices<ExplorerMode>("HeadExplorer", "mode");

/**
 * Read a widget's traits; a trait the host lacks takes its Python default (the explorer's
 * embedded widget model has no pair filter, attention kind or step).
 */
function read<T>(widgetModel: WidgetModel, widget: WidgetName): T {
  const t = {} as Record<string, unknown>;
  for (const [name, s] of Object.entries(specOf(widget))) t[name] = widgetModel.get(name) ?? s.default;
  return t as T;
}

export const readTraits = (widgetModel: WidgetModel) => read<Traits>(widgetModel, "AttentionWidget");
export const readExplorerTraits = (widgetModel: WidgetModel) => read<ExplorerTraits>(widgetModel, "HeadExplorer");

/** Set traits from the page and push them to the kernel in one message. */
function write(widgetModel: WidgetModel, changes: object) {
  for (const [k, v] of Object.entries(changes)) widgetModel.set(k, v);
  widgetModel.save_changes();
}

export const writeTraits = (widgetModel: WidgetModel, changes: Partial<Traits>) => write(widgetModel, changes);
export const writeExplorerTraits = (widgetModel: WidgetModel, changes: Partial<ExplorerTraits>) => write(widgetModel, changes);
