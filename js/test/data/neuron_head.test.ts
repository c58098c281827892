import { describe, expect, it } from "vitest";
import { AttentionSource } from "../../src/data/attention_source";
import { decodeNeuronHead, maxAbs, type NeuronHead, neuronRow } from "../../src/data/neuron_head";
import { REPLY, REQUEST } from "../../src/data/protocol";
import { type StaticBundle, StaticWidgetModel } from "../../src/host/static_widget_model";
import { fx, thumbnails } from "../fixtures/bundles";

function head(queries: number[][], keys: number[][], masked: number[][], scale = 1, bias: number[][] | null = null): NeuronHead {
  const d = queries[0].length;
  return {
    family: "t",
    layer: 0,
    head: 0,
    kvHead: 0,
    numKvHeads: 1,
    scale,
    d,
    queries: Float32Array.from(queries.flat()),
    keys: Float32Array.from(keys.flat()),
    masked: Uint8Array.from(masked.flat()),
    bias: bias ? Float32Array.from(bias.flat()) : null,
    nq: queries.length,
    nk: keys.length,
    quantised: false,
  };
}

describe("neuronRow", () => {
  it("computes products, scaled scores, bias and a masked softmax", () => {
    const h = head(
      [
        [1, 2],
        [0, 1],
      ],
      [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      [
        [0, 0, 1],
        [0, 0, 0],
      ],
      0.5,
      [
        [0, 1, 0],
        [0, 0, 0],
      ],
    );
    const r = neuronRow(h, 0);
    expect(Array.from(r.products)).toEqual([1, 0, 0, 2, 1, 2]);
    expect(Array.from(r.scores)).toEqual([0.5, 2, 1.5]); // 0.5·q·k + bias, also where masked
    const e = [Math.exp(0.5), Math.exp(2)];
    expect(r.weights[0]).toBeCloseTo(e[0] / (e[0] + e[1]), 6);
    expect(r.weights[1]).toBeCloseTo(e[1] / (e[0] + e[1]), 6);
    expect(r.weights[2]).toBe(0);
    const other = neuronRow(h, 1);
    expect(other.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it("gives zeros, not NaN, when every key is masked", () => {
    const r = neuronRow(head([[1]], [[1], [2]], [[1, 1]]), 0);
    expect(Array.from(r.weights)).toEqual([0, 0]);
  });

  it("decodes the int16 file payload Python wrote and rebuilds its softmax", async () => {
    const h = await decodeNeuronHead(fx.neuron.payload);
    expect([h.nq, h.nk, h.d, h.head, h.kvHead, h.quantised]).toEqual([4, 4, 3, 1, 0, true]);
    const r = neuronRow(h, 2);
    Array.from(r.query).forEach((v, c) => {
      expect(v).toBeCloseTo(fx.neuron.expected_query_2[c], 3);
    });
    Array.from(r.weights).forEach((w, j) => {
      expect(w).toBeCloseTo(fx.neuron.expected_weights_2[j], 3);
    });
    expect(maxAbs([-3, 2])).toBe(3);
  });
});

describe("neuron data in exported files and from the kernel", () => {
  const layer = { ...fx.tril, layer: 0 };
  const thumbs = thumbnails(1);
  const bundle = (): StaticBundle => ({
    state: { layer: 0, heads: [1], view: "neuron", attention_kind: "self", _meta: fx.meta },
    layers: [layer],
    thumbnails: thumbs,
    neuron: { heads: [fx.neuron.payload], note: "this file carries the vectors of layer 1, heads 1" },
  });

  it("serves an embedded head, and the file's note for a head it lacks", async () => {
    const src = new AttentionSource(new StaticWidgetModel(bundle()));
    const h = await src.neuron(1, 1);
    expect(h.nq).toBe(4);
    await expect(src.neuron(0, 1)).rejects.toThrow("carries the vectors of layer 1");
  });

  it("asks the kernel once per layer and head, and decodes its binary parts", async () => {
    const sent: any[] = [];
    const handlers = new Map<string, (c: any, b: DataView[]) => void>();
    const model = {
      get: (name: string) => (name === "_meta" ? { kind: "cross" } : null),
      set() {},
      save_changes() {},
      off() {},
      on: (event: string, cb: any) => handlers.set(event, cb),
      send: (content: any) => sent.push(content),
    };
    const src = new AttentionSource(model);
    const first = src.neuron(2, 3);
    expect(src.neuron(2, 3)).toBe(first);
    // ids are unique across the page (every view of a widget model hears every reply), not 1, 2, … per source
    expect(sent).toEqual([{ kind: REQUEST, id: expect.any(Number), what: "neuron", attention: "cross", layer: 2, head: 3 }]);
    const f32 = (a: number[]) => new DataView(Float32Array.from(a).buffer);
    const arrays = {
      queries: { dtype: "float32", shape: [1, 2], quantum: null },
      keys: { dtype: "float32", shape: [2, 2], quantum: null },
      masked: { dtype: "uint8", shape: [1, 2], compression: null },
      bias: null,
    };
    const payload = {
      family: "t5",
      part: "cross",
      layer: 2,
      head: 3,
      kv_head: 3,
      num_kv_heads: 4,
      scale: 1,
      head_dim: 2,
      arrays,
      order: ["queries", "keys", "masked"],
    };
    handlers.get("msg:custom")!({ kind: REPLY, id: sent[0].id, neuron: payload }, [
      f32([1, 0]),
      f32([2, 0, 0, 0]),
      new DataView(new Uint8Array([0, 0]).buffer),
    ]);
    const h = await first;
    const r = neuronRow(h, 0);
    expect(r.weights[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1), 6);
  });
});
