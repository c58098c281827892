// Binary codecs shared with attnwidget/widget/payload.py.
// Arrays travel as {buffer, dtype, shape, compression}; attention weights as
// sqrt-quantised uint8 (q = round(sqrt(a) * 255)), which keeps small weights
// distinguishable where a linear scale would round them to zero.

export type DType = "uint8" | "int16" | "int32" | "float32";

export interface EncodedArray {
  buffer: DataView | ArrayBuffer | Uint8Array | string; // string = base64 (static export)
  dtype: DType;
  shape: number[];
  compression?: "gzip" | null;
}

export type TypedArray = Uint8Array | Int16Array | Int32Array | Float32Array;

const CTORS = {
  uint8: Uint8Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
} as const;

/** Dequantisation table: SQRT_LUT[q] = (q / 255)^2. */
export const SQRT_LUT: Float32Array = (() => {
  const lut = new Float32Array(256);
  for (let q = 0; q < 256; q++) lut[q] = (q / 255) * (q / 255);
  return lut;
})();

export function quantiseSqrt(a: number): number {
  return Math.round(Math.sqrt(Math.max(0, Math.min(1, a))) * 255);
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBytes(buffer: EncodedArray["buffer"]): Uint8Array {
  if (typeof buffer === "string") return base64ToBytes(buffer);
  if (buffer instanceof Uint8Array) return buffer;
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Inflate gzip bytes with the browser's native DecompressionStream (no library, no network). */
export async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decode an encoded array into a typed array of its dtype (copying so it is aligned). */
export async function decodeArray(enc: EncodedArray): Promise<{ data: TypedArray; shape: number[] }> {
  let bytes = toBytes(enc.buffer);
  if (enc.compression === "gzip") bytes = await gunzip(bytes);
  const Ctor = CTORS[enc.dtype];
  if (!Ctor) throw new Error(`attnwidget: unsupported dtype ${enc.dtype}`);
  const aligned = bytes.slice().buffer; // fresh buffer: offset 0, aligned for any dtype
  const data = new Ctor(aligned, 0, bytes.byteLength / Ctor.BYTES_PER_ELEMENT);
  const expected = enc.shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new Error(`attnwidget: array of ${data.length} values does not match shape [${enc.shape}]`);
  }
  return { data, shape: enc.shape };
}

/** Number of entries in the packed lower triangle (diagonal included) of a T x T matrix. */
export function trilSize(T: number): number {
  return (T * (T + 1)) / 2;
}

/**
 * Unpack one layer of quantised attention into float32 [heads, T, T].
 * "tril" packing stores, per head, row i's entries 0..i one after another
 * (causal models: everything above the diagonal is zero and is not sent).
 */
export function unpackLayer(q: Uint8Array, heads: number, T: number, packing: "tril" | "full", cols = T): Float32Array {
  const out = new Float32Array(heads * T * cols);
  if (packing === "full") {
    if (q.length !== heads * T * cols) throw new Error("attnwidget: layer size mismatch");
    for (let k = 0; k < q.length; k++) out[k] = SQRT_LUT[q[k]];
    return out;
  }
  const per = trilSize(T);
  if (q.length !== heads * per) throw new Error("attnwidget: packed layer size mismatch");
  let src = 0;
  for (let h = 0; h < heads; h++) {
    const base = h * T * T;
    for (let i = 0; i < T; i++) {
      const row = base + i * T;
      for (let j = 0; j <= i; j++) out[row + j] = SQRT_LUT[q[src++]];
    }
  }
  return out;
}
