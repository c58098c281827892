import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  type AttentionKind,
  choices,
  EXPLORER_TRAITS,
  type ExplorerMode,
  type Level,
  type PairFilter,
  readExplorerTraits,
  readTraits,
  type ThemeChoice,
  type TokenRole,
  TRAIT_NAMES,
  type ViewName,
  writeTraits,
} from "../../src/data/traits";
import spec from "../../src/data/traits.json";
import { LocalWidgetModel } from "../../src/host/local_widget_model";

// Each literal type written out as a record: the compiler rejects a missing or an extra
// member, and the test below compares its keys with the JSON's choices.
const members = <T extends string>(r: Record<T, true>) => Object.keys(r);
const UNIONS: Record<string, [string, string, string[]]> = {
  view: ["AttentionWidget", "view", members<ViewName>({ head: true, model: true, matrix: true, neuron: true })],
  token_role: ["AttentionWidget", "token_role", members<TokenRole>({ query: true, key: true })],
  level: ["AttentionWidget", "level", members<Level>({ token: true, word: true })],
  theme: ["AttentionWidget", "theme", members<ThemeChoice>({ auto: true, light: true, dark: true })],
  pair_filter: [
    "AttentionWidget",
    "pair_filter",
    members<PairFilter>({ all: true, "A->A": true, "B->B": true, "A->B": true, "B->A": true }),
  ],
  attention_kind: ["AttentionWidget", "attention_kind", members<AttentionKind>({ self: true, encoder: true, decoder: true, cross: true })],
  mode: ["HeadExplorer", "mode", members<ExplorerMode>({ single: true, side_by_side: true, difference: true })],
  explorer_theme: ["HeadExplorer", "theme", members<ThemeChoice>({ auto: true, light: true, dark: true })],
};

describe("traits.json and the TypeScript types", () => {
  it("every string trait with fixed choices has a literal type listing exactly them", () => {
    const withChoices = Object.entries(spec).flatMap(([widget, w]) =>
      Object.entries(w.traits as Record<string, { choices?: string[] }>)
        .filter(([, s]) => s.choices)
        .map(([name]) => `${widget}.${name}`),
    );
    expect(
      Object.values(UNIONS)
        .map(([w, n]) => `${w}.${n}`)
        .sort(),
    ).toEqual(withChoices.sort());
    for (const [widget, name, union] of Object.values(UNIONS)) {
      expect([...union].sort(), `${widget}.${name}`).toEqual([...choices(widget as keyof typeof spec, name)].sort());
    }
  });

  it("lists the names in the JSON's order", () => {
    expect(TRAIT_NAMES).toEqual(Object.keys(spec.AttentionWidget.traits));
    expect(EXPLORER_TRAITS).toEqual(Object.keys(spec.HeadExplorer.traits));
    expect(() => choices("HeadExplorer", "metric")).toThrow(/no fixed choices/);
  });

  it("every private trait the views read is one the JSON lists (and so Python syncs)", () => {
    const data = new Set(Object.values(spec).flatMap((w) => Object.keys(w.data)));
    const root = new URL("../../src", import.meta.url).pathname;
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) =>
        statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith(".ts") ? [join(dir, f)] : [],
      );
    const read = new Set<string>();
    for (const f of files(root)) {
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/\.get\("(_\w+)"\)|"change:(_\w+)"/g)) read.add(m[1] ?? m[2]);
    }
    expect(read.size).toBeGreaterThanOrEqual(5); // the scan found the views' reads
    expect([...read].filter((n) => !data.has(n))).toEqual([]);
  });
});

describe("readTraits / writeTraits", () => {
  it("reads every trait; one the host lacks takes its Python default", () => {
    const t = readTraits(new LocalWidgetModel({ view: "matrix", layer: 2, heads: [1] }));
    expect(t.view).toBe("matrix");
    expect(t.heads).toEqual([1]);
    expect(t.pair_filter).toBe("all");
    expect(t.attention_kind).toBe("self");
    expect(t.step).toBeNull();
    expect(t.token).toBeNull();
    expect(Object.keys(t)).toEqual(TRAIT_NAMES);
    const e = readExplorerTraits(new LocalWidgetModel({ metric: "entropy" }));
    expect(e.metric).toBe("entropy");
    expect(e.mode).toBe("single");
    expect(e.layer).toBeNull();
  });

  it("writes changes and pushes them to the kernel once", () => {
    const m = new LocalWidgetModel({ layer: 0, token: 3 });
    const save = vi.spyOn(m, "save_changes");
    writeTraits(m, { layer: 1, token: null });
    expect([m.get("layer"), m.get("token")]).toEqual([1, null]);
    expect(save).toHaveBeenCalledOnce();
  });
});
