import { describe, expect, it, vi } from "vitest";
import type { LayerPayload } from "../../../src/data/attention_source";
import { REPLY, REQUEST, type Reply } from "../../../src/data/protocol";
import { type SentenceBundle, SentenceWidgetModel } from "../../../src/explorer/host/sentence_widget_model";

function payload(layer: number): LayerPayload {
  return { layer, heads: 1, size: 2, packing: "full", data: { buffer: "AAAAAA==", dtype: "uint8", shape: [4], compression: null } };
}

function bundle(): SentenceBundle {
  const meta = {
    model: "m",
    num_layers: 3,
    num_heads: 1,
    num_tokens: 2,
    is_causal: false,
    packing: "full",
    tokens: ["a", "b"],
    syntax: null,
    levels: { token: { labels: ["a", "b"], word: [-1, -1], of_token: [0, 1] } },
  } as const;
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
      ask: vi.fn(async (): Promise<Reply> => ({ content: { kind: REPLY, id: 99, thumbnails: { layers: 3 } }, buffers: [] })),
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
