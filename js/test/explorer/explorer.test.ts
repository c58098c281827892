import { describe, expect, it, vi } from "vitest";
import { REPLY, REQUEST } from "../../src/data/protocol";
import type { LayerPayload } from "../../src/data/attention_source";
import { keyFor } from "../../src/explorer/views/explorer_controls";
import { Grids, difference, exemplarsOf, metricTitle, type ExemplarsPayload, type MetricInfo } from "../../src/explorer/data/grids";
import { colourRange, formatValue, rankOf, scaled } from "../../src/explorer/data/rank";
import { SentenceWidgetModel, type SentenceBundle } from "../../src/explorer/host/sentence_widget_model";
import { layoutTokens } from "../../src/explorer/data/tokens";

describe("layoutTokens", () => {
  it("puts tokens back into the text with its spacing, specials apart", () => {
    const segs = layoutTokens("Don't panic.", ["[CLS]", "Don", "'", "t", "panic", ".", "[SEP]"]);
    expect(segs).toEqual([
      { kind: "extra", text: "[CLS]", index: 0 },
      { kind: "token", text: "Don", index: 1 },
      { kind: "token", text: "'", index: 2 },
      { kind: "token", text: "t", index: 3 },
      { kind: "gap", text: " " },
      { kind: "token", text: "panic", index: 4 },
      { kind: "token", text: ".", index: 5 },
      { kind: "extra", text: "[SEP]", index: 6 },
    ]);
  });

  it("moves a byte-level token's leading space into the gap", () => {
    const segs = layoutTokens("a cat", ["a", " cat"]);
    expect(segs.map((s) => s.text)).toEqual(["a", " ", "cat"]);
  });

  it("keeps the untokenised tail of a truncated sentence as text", () => {
    const segs = layoutTokens("one two three", ["one", "two"]);
    expect(segs[segs.length - 1]).toEqual({ kind: "gap", text: " three" });
  });

  it("shows a piece that is not the next slice of the text apart", () => {
    // "…" continuation pieces are not slices of the text: shown apart, the text stays in order
    const segs = layoutTokens("x … y", ["x", "…", "…", "y"]);
    expect(segs.filter((s) => s.kind === "extra").map((s) => (s as { index: number }).index)).toEqual([2]);
  });
});

describe("rank and colour scale", () => {
  it("ranks among finite values, 1 = largest, ties share a rank", () => {
    const v = new Float32Array([0.1, 0.5, NaN, 0.5, 0.2]);
    expect(rankOf(v, 1)).toEqual({ rank: 1, of: 4 });
    expect(rankOf(v, 3)).toEqual({ rank: 1, of: 4 });
    expect(rankOf(v, 0)).toEqual({ rank: 4, of: 4 });
    expect(rankOf(v, 2)).toBeNull();
  });

  it("shares start at 0, other metrics span their range, differences are symmetric", () => {
    const v = [0.2, 0.4, NaN];
    expect(colourRange(v, "share")).toEqual({ lo: 0, hi: 0.4, diverging: false, sqrt: true });
    expect(colourRange([2, 5], "unbounded")).toEqual({ lo: 2, hi: 5, diverging: false, sqrt: false });
    const d = colourRange([-0.1, 0.3], "difference");
    expect(d).toEqual({ lo: -0.3, hi: 0.3, diverging: true, sqrt: true });
    expect(scaled(-0.15, d)).toBeCloseTo(-0.5);
    expect(scaled(3.5, { lo: 2, hi: 5, diverging: false, sqrt: false })).toBeCloseTo(0.5);
  });

  it("formats values for reading", () => {
    expect(formatValue(0.12345)).toBe("0.123");
    expect(formatValue(3.456)).toBe("3.46");
    expect(formatValue(NaN)).toBe("–");
  });
});

const METRICS: MetricInfo[] = [
  { name: "dep_align", title: "Attention aligned", keys: ["child_to_parent", "either"], default: "either", bounded: true, baseline: [0.1, 0.2] },
  { name: "entropy", title: "Entropy", keys: [""], default: "", bounded: false, baseline: [null] },
  { name: "pos_to", title: "Attention to {key}", keys: ["DET", "NOUN"], default: "NOUN", bounded: true, baseline: [0.3, 0.2] },
];

describe("Grids", () => {
  // 2 layers x 2 heads; grid g holds g*10 + cell
  const grids = new Float32Array(5 * 4).map((_, k) => Math.floor(k / 4) * 10 + (k % 4));
  const lines = new Float32Array(5 * 2).map((_, k) => k);
  const g = new Grids(2, 2, METRICS, grids, lines);

  it("finds each metric and key's grid, line and baseline", () => {
    expect(Array.from(g.grid("dep_align", "either")!)).toEqual([10, 11, 12, 13]);
    expect(Array.from(g.grid("pos_to", "DET")!)).toEqual([30, 31, 32, 33]);
    expect(Array.from(g.line("entropy", "")!)).toEqual([4, 5]);
    expect(g.baseline("dep_align", "either")).toBe(0.2);
    expect(g.baseline("entropy", "")).toBeNull();
    expect(Array.from(g.grid("pos_to", "NOUN")!)).toEqual([40, 41, 42, 43]);
    expect(g.grid("pos_to", "VERB")).toBeNull();
  });

  it("subtracts grids, NaN where the other source lacks the key", () => {
    expect(Array.from(difference(new Float32Array([3, 1]), new Float32Array([1, 2])))).toEqual([2, -1]);
    expect(Number.isNaN(difference(new Float32Array([3]), null)[0])).toBe(true);
  });

  it("titles name the key", () => {
    expect(metricTitle(METRICS[2], "DET")).toBe("Attention to DET");
    expect(metricTitle(METRICS[1], "")).toBe("Entropy");
  });

  it("a metric opens on its headline key, or keeps one it has", () => {
    expect(keyFor(METRICS[0], "DET")).toBe("either");
    expect(keyFor(METRICS[0], "child_to_parent")).toBe("child_to_parent");
    expect(keyFor(METRICS[2], "either")).toBe("NOUN");
  });
});

describe("exemplarsOf", () => {
  const p: ExemplarsPayload = {
    rows: [[0, 1, 1, 5, 2, 1, 0.4], [0, 1, 0, 7, 1, 2, 0.9], [1, 1, 0, 5, 2, 3, 0.8]],
    texts: { "5": ["a b c d", ["a", "b", "c", "d"]], "7": ["x y z", ["x", "y", "z"]] },
  };
  it("lists one head's exemplars best first with their text", () => {
    const list = exemplarsOf(p, 0, 1);
    expect(list.map((e) => [e.rank, e.sentence, e.text])).toEqual([[0, 7, "x y z"], [1, 5, "a b c d"]]);
    expect(list[1].tokens[list[1].i]).toBe("c");
  });
});

function payload(layer: number): LayerPayload {
  return { layer, heads: 1, size: 2, packing: "full", data: { buffer: "AAAAAA==", dtype: "uint8", shape: [4], compression: null } };
}

function bundle(): SentenceBundle {
  const meta = { model: "m", num_layers: 3, num_heads: 1, num_tokens: 2, is_causal: false, packing: "full", tokens: ["a", "b"], syntax: null, levels: { token: { labels: ["a", "b"], word: [-1, -1], of_token: [0, 1] } } } as const;
  return { meta: meta as unknown as SentenceBundle["meta"], layers: { "1": payload(1), "2": payload(2) } };
}

describe("SentenceWidgetModel", () => {
  it("answers a layer change with the page's data, like the kernel", () => {
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, null);
    expect(m.get("_layer_data").layer).toBe(1);
    const seen = vi.fn();
    m.on("change:_layer_data", seen);
    m.set("layer", 2);
    expect(seen).toHaveBeenCalledOnce();
    expect(m.get("_layer_data").layer).toBe(2);
    expect(m.availableLayers).toEqual([1, 2]);
  });

  it("refuses a layer the page lacks: the trait springs back and the reason is given", () => {
    const refused = vi.fn();
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, null, refused);
    const layerEvents = vi.fn();
    m.on("change:layer", layerEvents);
    m.set("layer", 0);
    expect(refused).toHaveBeenCalledWith(0);
    expect(m.get("layer")).toBe(1);
    expect(layerEvents).toHaveBeenCalledWith(1);
  });

  it("fetches a missing layer and thumbnails from the kernel", async () => {
    const fetcher = {
      layer: vi.fn(async (l: number) => payload(l)),
      ask: vi.fn(async () => ({ content: { kind: REPLY, id: 99, thumbnails: { layers: 3 } }, buffers: [] })),
    };
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, fetcher);
    m.set("layer", 0);
    expect(m.get("layer")).toBe(0);
    await vi.waitFor(() => expect(m.get("_layer_data")?.layer).toBe(0));
    const reply = vi.fn();
    m.on("msg:custom", reply);
    m.send({ kind: REQUEST, id: 4, what: "thumbnails", hide_first: true });
    await vi.waitFor(() => expect(reply).toHaveBeenCalled());
    expect(fetcher.ask).toHaveBeenCalledWith("thumbnails", { hide_first: true });
    expect(reply.mock.calls[0][0]).toEqual({ kind: REPLY, id: 4, thumbnails: { layers: 3 } });
  });
});

describe("SentenceWidgetModel prefetches", () => {
  it("passes the kernel's error on to the view that asked", async () => {
    const fetcher = { layer: vi.fn(), ask: vi.fn(async () => Promise.reject(new Error("no such head"))) };
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, fetcher);
    const replies = vi.fn();
    m.on("msg:custom", replies);
    m.send({ kind: REQUEST, id: 5, what: "neuron", attention: "self", layer: 1, head: 9 });
    await vi.waitFor(() => expect(replies).toHaveBeenCalled());
    expect(fetcher.ask).toHaveBeenCalledWith("neuron", { attention: "self", layer: 1, head: 9 });
    expect(replies.mock.calls[0][0]).toEqual({ kind: REPLY, id: 5, error: "no such head" });
  });

  it("answers the app's layer prefetch from the page, and says no at once for a layer it lacks", async () => {
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, null);
    const replies = vi.fn();
    m.on("msg:custom", replies);
    m.send({ kind: REQUEST, id: 1, what: "layer", layer: 2 });
    m.send({ kind: REQUEST, id: 2, what: "layer", layer: 0 });
    await vi.waitFor(() => expect(replies).toHaveBeenCalledTimes(2));
    const byId = new Map(replies.mock.calls.map((c) => [c[0].id, c]));
    expect(byId.get(1)![0].payload.layer).toBe(2);
    expect(byId.get(1)![1][0]).toBeInstanceOf(DataView);
    expect(byId.get(2)![0].error).toMatch(/not in this file/);
  });

  it("asks the kernel once for a layer both prefetched and switched to", async () => {
    const fetcher = { layer: vi.fn(async (l: number) => payload(l)), ask: vi.fn() };
    const m = new SentenceWidgetModel(bundle(), { layer: 1 }, fetcher);
    m.send({ kind: REQUEST, id: 1, what: "layer", layer: 0 });
    m.set("layer", 0);
    await vi.waitFor(() => expect(m.get("_layer_data")?.layer).toBe(0));
    expect(fetcher.layer).toHaveBeenCalledOnce();
  });
});
