import { describe, expect, it } from "vitest";
import { AttentionSource } from "../../src/data/attention_source";
import { StaticWidgetModel } from "../../src/host/static_widget_model";
import { twoLayers } from "../fixtures/bundles";

describe("AttentionSource.dispose", () => {
  /** A StaticWidgetModel that counts its listeners. */
  function counted() {
    const m = new StaticWidgetModel(twoLayers());
    const listeners = new Map<string, number>();
    const on = m.on.bind(m);
    const off = m.off.bind(m);
    m.on = (event, cb) => {
      listeners.set(event, (listeners.get(event) ?? 0) + 1);
      on(event, cb);
    };
    m.off = (event, cb) => {
      if (event) listeners.set(event, (listeners.get(event) ?? 0) - 1);
      off(event, cb);
    };
    return { m, live: () => [...listeners.values()].reduce((a, b) => a + b, 0) };
  }

  it("removes its listeners and drops the decoded layers and thumbnails", async () => {
    const { m, live } = counted();
    const src = new AttentionSource(m);
    expect(live()).toBe(2);
    await src.layer(0);
    await src.thumbnails(false);
    expect(src.has(0)).toBe(true);
    src.dispose();
    expect(live()).toBe(0);
    expect(src.has(0)).toBe(false);
  });

  it("leaves a request in flight unanswered and its reply unread", async () => {
    const { m } = counted();
    const sent: any[] = [];
    const reply = m.send.bind(m);
    m.send = (content: any) => sent.push(content); // the kernel answers later
    const src = new AttentionSource(m);
    let settled = false;
    void src.thumbnails(true).then(
      () => (settled = true),
      () => (settled = true),
    );
    src.dispose();
    reply(sent[0]); // the answer arrives after the view closed
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
  });
});

describe("AttentionSource memory", () => {
  it("keeps layers as uint8 planes, within its byte budget whatever their number", async () => {
    const m = new StaticWidgetModel(twoLayers());
    const size = (await new AttentionSource(m).layer(0)).data.byteLength;
    const src = new AttentionSource(m, size); // room for one layer
    const l0 = await src.layer(0);
    expect(l0.data).toBeInstanceOf(Uint8Array); // one byte a weight, never a float32 copy
    expect(l0.data.byteLength).toBe(l0.heads * l0.n * l0.n);
    expect(src.layerBytes).toBe(size);
    m.set("layer", 1);
    await src.layer(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(src.layerBytes).toBe(size); // layer 0 went to make room
    expect(src.has(0)).toBe(false);
    expect(src.has(1)).toBe(true);
  });
});
