import { describe, expect, it, vi } from "vitest";
import { AttentionSource } from "../../src/data/attention_source";
import { REPLY, REQUEST } from "../../src/data/protocol";
import { StaticWidgetModel } from "../../src/host/static_widget_model";
import { twoLayers } from "../fixtures/bundles";

describe("StaticWidgetModel", () => {
  it("answers a layer change with that layer's data, like the kernel", () => {
    const m = new StaticWidgetModel(twoLayers());
    const seen = vi.fn();
    m.on("change:_layer_data", seen);
    m.set("layer", 1);
    expect(seen).toHaveBeenCalledOnce();
    expect(m.get("_layer_data").layer).toBe(1);
    m.set("layer", 1); // no change, no event
    expect(seen).toHaveBeenCalledOnce();
  });

  it("replies to thumbnail requests over msg:custom", async () => {
    const m = new StaticWidgetModel(twoLayers());
    const reply = await new Promise<[any, DataView[]]>((resolve) => {
      m.on("msg:custom", (c: any, b: DataView[]) => resolve([c, b]));
      m.send({ kind: REQUEST, id: 7, what: "thumbnails", hide_first: false });
    });
    expect(reply[0]).toMatchObject({ kind: REPLY, id: 7 });
    expect(Array.from(new Uint8Array(reply[1][0].buffer, reply[1][0].byteOffset, 4))).toEqual([0, 1, 2, 3]);
  });

  it("feeds AttentionSource: current layer, later layers, thumbnails", async () => {
    const m = new StaticWidgetModel(twoLayers());
    const src = new AttentionSource(m);
    const l0 = await src.layer(0);
    expect(l0.n).toBe(4);
    const l1 = src.layer(1); // waits until the layer arrives
    m.set("layer", 1);
    expect((await l1).heads).toBe(2);
    const t = await src.thumbnails(false);
    expect(Array.from(t.data)).toEqual([0, 1, 2, 3]);
  });

  it("prefetches a layer by request without changing the synced layer", async () => {
    const m = new StaticWidgetModel(twoLayers());
    const src = new AttentionSource(m);
    const l1 = await src.prefetch(1);
    expect(l1.n).toBe(4);
    expect(m.get("layer")).toBe(0);
    expect(src.has(1)).toBe(true);
    expect(await src.layer(1)).toBe(l1); // a later switch reuses it
  });

  it("never blocks a layer switch on a host that ignores prefetches", async () => {
    const m = new StaticWidgetModel(twoLayers());
    m.send = () => {}; // a host that does not answer requests
    const src = new AttentionSource(m);
    void src.prefetch(1);
    const l1 = src.layer(1);
    m.set("layer", 1);
    expect((await l1).n).toBe(4);
  });
});
