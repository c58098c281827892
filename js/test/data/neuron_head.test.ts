import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SIGNED_ENDS, hexToRgb, signedIndex, signedRamp } from "../../src/draw/colours";
import { REPLY, REQUEST } from "../../src/data/protocol";
import { decodeNeuronHead, maxAbs, neuronRow, type NeuronHead } from "../../src/data/neuron_head";
import { hitNeuron, keyRowY, neuronLayout } from "../../src/draw/neuron_layout";
import { AttentionSource } from "../../src/data/attention_source";
import { StaticWidgetModel, type StaticBundle } from "../../src/host/static_widget_model";

const fx = JSON.parse(readFileSync(new URL("../fixtures/payloads.json", import.meta.url), "utf8"));

const rgbAt = (lut: Uint8ClampedArray, k: number) => Array.from(lut.subarray(k * 4, k * 4 + 3));

describe("signed colour scale", () => {
  const bg = "#ffffff";
  const { negative, positive } = SIGNED_ENDS.light;
  const lut = signedRamp(bg, negative, positive);

  it("is the background at zero and full colour at ±max", () => {
    expect(lut.length).toBe(511 * 4);
    expect(rgbAt(lut, signedIndex(0, 2))).toEqual(hexToRgb(bg));
    expect(rgbAt(lut, signedIndex(-2, 2))).toEqual(hexToRgb(negative));
    expect(rgbAt(lut, signedIndex(2, 2))).toEqual(hexToRgb(positive));
    expect(signedIndex(-50, 2)).toBe(0); // beyond the range: clamped
    expect(signedIndex(50, 2)).toBe(510);
  });

  it("gives sign by hue and magnitude by strength, symmetrically", () => {
    const away = (k: number) => {
      const [r, g, b] = rgbAt(lut, k);
      return Math.abs(255 - r) + Math.abs(255 - g) + Math.abs(255 - b);
    };
    const small = signedIndex(0.2, 1);
    const large = signedIndex(0.8, 1);
    expect(away(large)).toBeGreaterThan(away(small));
    expect(signedIndex(0.5, 1) - 255).toBe(255 - signedIndex(-0.5, 1));
    const [nr, , nb] = rgbAt(lut, signedIndex(-1, 1));
    const [pr, , pb] = rgbAt(lut, signedIndex(1, 1));
    expect(nb).toBeGreaterThan(nr); // negative is blue
    expect(pr).toBeGreaterThan(pb); // positive is orange
  });
});

describe("neuron layout", () => {
  it("collapsed: keys then weights; expanded adds products and scores", () => {
    const c = neuronLayout(512, 64, 80, false);
    const e = neuronLayout(512, 64, 80, true);
    expect(c.productsX).toBeNull();
    expect(c.scoresX).toBeNull();
    expect(c.weightsX).toBeGreaterThan(c.keysX + 64 * c.cell);
    expect(e.productsX!).toBeGreaterThanOrEqual(e.keysX + 64 * e.cell);
    expect(e.scoresX!).toBeGreaterThanOrEqual(e.productsX! + 64 * e.cell);
    expect(e.weightsX).toBeGreaterThanOrEqual(e.scoresX! + e.barW);
    expect(e.width).toBeGreaterThan(c.width);
    expect(c.height).toBe(c.top + 512 * c.rowH + 8);
  });

  it("keeps a component at least 3 px and at most 12 px wide", () => {
    expect(neuronLayout(4, 256, 40, false).cell).toBe(3);
    expect(neuronLayout(4, 64, 40, false).cell).toBe(4);
    expect(neuronLayout(4, 8, 40, false).cell).toBe(12);
  });

  it("finds the key row, component and column under the pointer", () => {
    const l = neuronLayout(10, 8, 40, true);
    const y = keyRowY(l, 3) + 2;
    expect(hitNeuron(l, l.keysX + 2 * l.cell + 1, y)).toEqual({ key: 3, part: "key", dim: 2 });
    expect(hitNeuron(l, l.productsX! + 7 * l.cell + 1, y)).toEqual({ key: 3, part: "product", dim: 7 });
    expect(hitNeuron(l, l.scoresX! + 5, y)).toEqual({ key: 3, part: "score", dim: null });
    expect(hitNeuron(l, l.weightsX + 5, y)).toEqual({ key: 3, part: "weight", dim: null });
    expect(hitNeuron(l, 20, y)?.part).toBe("label");
    expect(hitNeuron(l, l.keysX + 1, l.queryY + 2)).toEqual({ key: null, part: "query", dim: 0 });
    expect(hitNeuron(l, l.keysX + 1, keyRowY(l, 10) + 2)).toBeNull();
  });

  it("keeps the header in place when the rows scroll under it", () => {
    const l = neuronLayout(100, 8, 40, false);
    const scroll = 500;
    expect(hitNeuron(l, l.keysX + 1, scroll + l.queryY + 2, scroll)?.part).toBe("query");
    const row = hitNeuron(l, l.keysX + 1, scroll + l.top + 2, scroll);
    expect(row?.key).toBe(Math.floor((scroll + 2) / l.rowH));
  });
});

function head(queries: number[][], keys: number[][], masked: number[][], scale = 1, bias: number[][] | null = null): NeuronHead {
  const d = queries[0].length;
  return {
    family: "t", layer: 0, head: 0, kvHead: 0, numKvHeads: 1, scale, d,
    queries: Float32Array.from(queries.flat()), keys: Float32Array.from(keys.flat()),
    masked: Uint8Array.from(masked.flat()), bias: bias ? Float32Array.from(bias.flat()) : null,
    nq: queries.length, nk: keys.length, quantised: false,
  };
}

describe("neuronRow", () => {
  it("computes products, scaled scores, bias and a masked softmax", () => {
    const h = head([[1, 2], [0, 1]], [[1, 0], [0, 1], [1, 1]], [[0, 0, 1], [0, 0, 0]], 0.5, [[0, 1, 0], [0, 0, 0]]);
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
    Array.from(r.query).forEach((v, c) => expect(v).toBeCloseTo(fx.neuron.expected_query_2[c], 3));
    Array.from(r.weights).forEach((w, j) => expect(w).toBeCloseTo(fx.neuron.expected_weights_2[j], 3));
    expect(maxAbs([-3, 2])).toBe(3);
  });
});

describe("neuron data in exported files and from the kernel", () => {
  const layer = { ...fx.tril, layer: 0 };
  const thumb = { layers: 1, heads: 2, size: 4, blocks: 1, data: { buffer: "AAECAw==", dtype: "uint8", shape: [4], compression: null } };
  const bundle = (): StaticBundle => ({
    state: { layer: 0, heads: [1], view: "neuron", attention_kind: "self", _meta: fx.meta },
    layers: [layer],
    thumbnails: { plain: thumb, hide_first: thumb },
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
      set() {}, save_changes() {}, off() {},
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
    const payload = { family: "t5", part: "cross", layer: 2, head: 3, kv_head: 3, num_kv_heads: 4, scale: 1, head_dim: 2, arrays, order: ["queries", "keys", "masked"] };
    handlers.get("msg:custom")!({ kind: REPLY, id: sent[0].id, neuron: payload }, [f32([1, 0]), f32([2, 0, 0, 0]), new DataView(new Uint8Array([0, 0]).buffer)]);
    const h = await first;
    const r = neuronRow(h, 0);
    expect(r.weights[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1), 6);
  });
});
