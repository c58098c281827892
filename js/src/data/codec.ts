// Binary codecs shared with attnwidget/widget/payload.py.
// Arrays travel as {buffer, dtype, shape, compression}; attention weights as
// sqrt-quantised uint8 (q = round(sqrt(a) * 255)), which keeps small weights
// distinguishable where a linear scale would round them to zero.

export type DType = "uint8" | "uint16" | "int16" | "int32" | "float32";

export interface EncodedArray {
  buffer: DataView | ArrayBuffer | Uint8Array | string; // string = base64 (static export)
  dtype: DType;
  shape: number[];
  compression?: "gzip" | null;
}

export type TypedArray = Uint8Array | Uint16Array | Int16Array | Int32Array | Float32Array;

const CTORS = {
  uint8: Uint8Array,
  uint16: Uint16Array,
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

/** Native base64 decoding (Chrome 140, Firefox 133, Safari 18.2): a layer's text in a few ms. */
const NativeBytes = Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array };

export function base64ToBytes(b64: string): Uint8Array {
  if (NativeBytes.fromBase64) return NativeBytes.fromBase64(b64);
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
  // Written in one piece rather than piped from a Blob's stream: a 900 kB layer inflates
  // in 12 ms instead of 21 (fewer hops between chunks).
  const inflate = new DecompressionStream("gzip");
  const writer = inflate.writable.getWriter();
  // Bad input rejects the read below with the stream's error; these would repeat it unheard.
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  return new Uint8Array(await new Response(inflate.readable).arrayBuffer());
}

/** Decode an encoded array into a typed array of its dtype (copying so it is aligned). */
export async function decodeArray(enc: EncodedArray): Promise<{ data: TypedArray; shape: number[] }> {
  let bytes = toBytes(enc.buffer);
  const fresh = enc.compression === "gzip" || typeof enc.buffer === "string";
  if (enc.compression === "gzip") bytes = await gunzip(bytes);
  const Ctor = CTORS[enc.dtype];
  if (!Ctor) throw new Error(`attnwidget: unsupported dtype ${enc.dtype}`);
  // A buffer of our own (inflated, or from base64) is used as it is; the host's is copied, aligned for any dtype.
  const aligned = fresh && bytes.byteOffset === 0 ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
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
 * Unpack one layer of quantised attention into uint8 planes [heads, T, cols], still
 * sqrt-quantised (read a weight as SQRT_LUT[q]): a quarter of float32's memory.
 * "tril" packing stores, per head, row i's entries 0..i one after another
 * (causal models: everything above the diagonal is zero and is not sent).
 */
export function unpackPlanes(q: Uint8Array, heads: number, T: number, packing: "tril" | "full", cols = T): Uint8Array {
  if (packing === "full") {
    if (q.length !== heads * T * cols) throw new Error("attnwidget: layer size mismatch");
    return q;
  }
  const per = trilSize(T);
  if (q.length !== heads * per) throw new Error("attnwidget: packed layer size mismatch");
  const out = new Uint8Array(heads * T * cols);
  let src = 0;
  for (let h = 0; h < heads; h++) {
    const base = h * T * T;
    for (let i = 0; i < T; i++) {
      out.set(q.subarray(src, src + i + 1), base + i * T);
      src += i + 1;
    }
  }
  return out;
}
