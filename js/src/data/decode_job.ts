// One decoding job, run in the decode worker (data/decode.worker.ts) or, where no worker
// can start, on the main thread (data/decoder.ts): inflate, read the dtype, and for a
// layer unpack the packed triangle into uint8 planes. Free of DOM and of side effects,
// so the worker's bundle and the page's share it.

import { decodeArray, type EncodedArray, type TypedArray, unpackPlanes } from "./codec";

export interface DecodeJob {
  enc: EncodedArray;
  /** A layer of sqrt-quantised weights: unpack to uint8 planes [heads, rows, cols]. */
  planes?: { heads: number; rows: number; cols: number; packing: "tril" | "full" };
}

export interface Decoded {
  data: TypedArray;
  shape: number[];
}

export async function runJob(job: DecodeJob): Promise<Decoded> {
  const { data, shape } = await decodeArray(job.enc);
  const p = job.planes;
  if (!p) return { data, shape };
  if (!(data instanceof Uint8Array)) throw new Error(`attnwidget: a layer arrives as uint8, not ${job.enc.dtype}`);
  return { data: unpackPlanes(data, p.heads, p.rows, p.packing, p.cols), shape: [p.heads, p.rows, p.cols] };
}

/** Messages between the page and the decode worker. id 0 is the start-up handshake. */
export type ToWorker = { id: number; job?: DecodeJob };
export type FromWorker = { id: number; ready?: true; data?: TypedArray; shape?: number[]; error?: string };
