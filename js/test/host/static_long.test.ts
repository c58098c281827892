import { describe, expect, it } from "vitest";
import { SQRT_LUT } from "../../src/data/codec";
import { type LongBundle, StaticLong } from "../../src/host/static_long";

// A 4-token causal layer of one head carried whole (sqrt-quantised), as an exported file holds it.
const n = 4;
const q = Uint8Array.from([255, 0, 0, 0, 128, 180, 0, 0, 90, 100, 200, 0, 60, 70, 80, 190]);
const bundle = {
  budget: 1e6,
  bytes: 0,
  holds: { overview: [], rows: {}, full: [0], block: {}, notes: [] },
  overviews: {},
  rows: {},
  full: { "0": { packing: "full", data: { buffer: q, dtype: "uint8", shape: [1, n, n], compression: null } } },
} as unknown as LongBundle;
const w = (i: number, j: number) => SQRT_LUT[q[i * n + j]];
const grid = { layer: 0, heads: [0], cells: 2, r: 1 };

const tileOf = (body: any, name: string) => body.arrays[name].buffer as Uint8Array;
const floats = (bytes: Uint8Array) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);

describe("StaticLong: an exported file answers tiles", () => {
  it("answers a batch with the tiles single requests give", async () => {
    const host = new StaticLong(bundle, n, 1);
    const batch = await host.answer("tiles", {
      ...grid,
      tiles: [
        [0, 0],
        [2, 0],
        [2, 2],
      ],
    });
    expect(batch.tiles).toEqual([
      [0, 0],
      [2, 0],
      [2, 2],
    ]);
    expect(batch.dropped).toEqual([]);
    for (const [k, [r0, c0]] of [
      [0, 0],
      [2, 0],
      [2, 2],
    ].entries()) {
      const single = await host.answer("tile", { ...grid, r0, c0 });
      expect(floats(tileOf(batch, `t${k}`))).toEqual(floats(tileOf(single, "tile")));
    }
  });

  it("leaves key 0 out with hide_first, and renormalises rows when asked (as the 512-token views)", async () => {
    const host = new StaticLong(bundle, n, 1);
    const hidden = floats(tileOf(await host.answer("tile", { ...grid, r0: 2, c0: 0, hide_first: true }), "tile"));
    expect(hidden[0]).toBe(0);
    expect(hidden[1]).toBeCloseTo(w(2, 1), 6);
    const renormalised = floats(tileOf(await host.answer("tile", { ...grid, r0: 2, c0: 0, hide_first: true, renormalise: true }), "tile"));
    expect(renormalised[0]).toBe(0);
    expect(renormalised[1]).toBeCloseTo(w(2, 1) / (1 - w(2, 0)), 6);
    expect(renormalised[3]).toBeCloseTo(w(3, 1) / (1 - w(3, 0)), 6);
    const value = await host.answer("value", { layer: 0, heads: [0], i: 3, j: 2, hide_first: true, renormalise: true });
    expect(value.value).toBeCloseTo(w(3, 2) / (1 - w(3, 0)), 6);
  });
});
