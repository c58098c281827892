import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { base64ToBytes, decodeArray, quantiseSqrt, SQRT_LUT, trilSize, unpackPlanes } from "../../src/data/codec";

const fixture = JSON.parse(readFileSync(new URL("../fixtures/payloads.json", import.meta.url), "utf8"));

describe("sqrt quantisation", () => {
  it("maps the ends and inverts within half a step in sqrt space", () => {
    expect(SQRT_LUT[0]).toBe(0);
    expect(SQRT_LUT[255]).toBeCloseTo(1, 6);
    for (const a of [0, 1e-4, 0.01, 0.3, 0.999, 1]) {
      const back = SQRT_LUT[quantiseSqrt(a)];
      expect(Math.abs(Math.sqrt(back) - Math.sqrt(a))).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
    }
  });
});

describe("decodeArray", () => {
  it("reads DataView, base64 and gzip buffers with their dtype and shape", async () => {
    const values = new Float32Array([1.5, -2, 3.25, 4, 0, 8]);
    const bytes = new Uint8Array(values.buffer);
    const view = new DataView(bytes.buffer);
    const a = await decodeArray({ buffer: view, dtype: "float32", shape: [2, 3] });
    expect(Array.from(a.data)).toEqual(Array.from(values));
    const gz = gzipSync(bytes);
    const b = await decodeArray({ buffer: Buffer.from(gz).toString("base64"), dtype: "float32", shape: [6], compression: "gzip" });
    expect(Array.from(b.data)).toEqual(Array.from(values));
  });

  it("copes with an unaligned view into a larger buffer", async () => {
    const big = new Uint8Array(9);
    big.set(new Uint8Array(new Int32Array([7, -9]).buffer), 1);
    const r = await decodeArray({ buffer: new DataView(big.buffer, 1, 8), dtype: "int32", shape: [2] });
    expect(Array.from(r.data)).toEqual([7, -9]);
  });

  it("rejects gzip that is not gzip, with nothing left unhandled", async () => {
    const bad = { buffer: new Uint8Array([31, 139, 8, 0, 1, 2, 3]), dtype: "uint8" as const, shape: [3], compression: "gzip" as const };
    await expect(decodeArray(bad)).rejects.toThrow();
  });
  it("rejects a shape that does not match the bytes", async () => {
    await expect(decodeArray({ buffer: new Uint8Array(5), dtype: "uint8", shape: [2, 3] })).rejects.toThrow(/shape/);
  });
});

describe("layer unpacking (fixture written by attnwidget/widget/payload.py)", () => {
  it("unpacks a causal lower-triangle layer", async () => {
    const p = fixture.tril;
    const { data } = await decodeArray(p.data);
    expect(data.length).toBe(p.heads * trilSize(p.size));
    const m = unpackPlanes(data as Uint8Array, p.heads, p.size, p.packing);
    expect(m).toBeInstanceOf(Uint8Array); // compact: quantised planes, read through SQRT_LUT
    fixture.expected_tril.forEach((v: number, k: number) => {
      expect(SQRT_LUT[m[k]]).toBeCloseTo(v, 5);
    });
    // upper triangle stays zero
    expect(m[0 * 4 + 1]).toBe(0);
  });

  it("unpacks a full (bidirectional) layer", async () => {
    const p = fixture.full;
    const { data } = await decodeArray(p.data);
    const m = unpackPlanes(data as Uint8Array, p.heads, p.size, "full");
    fixture.expected_full.forEach((v: number, k: number) => {
      expect(SQRT_LUT[m[k]]).toBeCloseTo(v, 5);
    });
  });

  it("inflates Python's gzip", async () => {
    const { data } = await decodeArray(fixture.gzip);
    expect(data.length).toBe(2 * 16);
  });

  it("decodes base64", () => {
    expect(Array.from(base64ToBytes("AAEC/w=="))).toEqual([0, 1, 2, 255]);
  });
});
