import { gzipSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { SQRT_LUT } from "../../src/data/codec";
import { type DecodeJob, type FromWorker, runJob, type ToWorker } from "../../src/data/decode_job";
import { Decoder } from "../../src/data/decoder";

/** A stand-in Worker that runs jobs with the worker's own code, asynchronously. */
class FakeWorker extends EventTarget {
  jobs = 0;
  constructor(private answer = true) {
    super();
  }
  postMessage({ id, job }: ToWorker) {
    if (!this.answer) return;
    setTimeout(async () => {
      let data: FromWorker;
      if (!job) data = { id, ready: true };
      else {
        this.jobs++;
        const out = await runJob(job);
        data = { id, data: out.data, shape: out.shape };
      }
      this.dispatchEvent(Object.assign(new Event("message"), { data }));
    });
  }
  fail(message: string) {
    this.dispatchEvent(Object.assign(new Event("error"), { message }));
  }
  terminate() {}
}

/** A packed causal layer of 2 heads x 3 tokens, gzipped as the kernel sends it. */
function layerJob(): DecodeJob {
  const packed = Uint8Array.from([255, 128, 127, 50, 60, 70, 255, 0, 255, 1, 2, 3]);
  return {
    enc: { buffer: new Uint8Array(gzipSync(packed)), dtype: "uint8", shape: [12], compression: "gzip" },
    planes: { heads: 2, rows: 3, cols: 3, packing: "tril" },
  };
}

describe("Decoder", () => {
  it("inflates and unpacks a layer in the worker, to uint8 planes", async () => {
    const w = new FakeWorker();
    const d = new Decoder(() => w as unknown as Worker);
    expect(d.mode).toBe("starting");
    const early = await d.decode(layerJob()); // while the worker starts: decoded here, no wait
    expect(w.jobs).toBe(0);
    expect(await d.settled).toBe("worker");
    const out = await d.decode(layerJob());
    expect(w.jobs).toBe(1);
    expect(out.data).toEqual(early.data);
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(out.shape).toEqual([2, 3, 3]);
    expect(Array.from(out.data.subarray(0, 9))).toEqual([255, 0, 0, 128, 127, 0, 50, 60, 70]);
    expect(SQRT_LUT[out.data[9]]).toBe(1);
  });

  it("falls back to the main thread, with a debug line, when the worker cannot start", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    const d = new Decoder(() => {
      throw new Error("blocked by CSP");
    });
    expect(d.mode).toBe("main");
    expect(await d.settled).toBe("main");
    expect((await d.decode(layerJob())).data[3]).toBe(128);
    expect(debug.mock.calls[0][0]).toMatch(/main thread.*blocked by CSP/);
    debug.mockRestore();
  });

  it("runs the jobs a worker that fails later had on the main thread", async () => {
    const debug = vi.spyOn(console, "debug").mockImplementation(() => {});
    const w = new FakeWorker();
    const d = new Decoder(() => w as unknown as Worker);
    await d.settled;
    w.postMessage = () => {}; // the worker stops answering
    const waiting = d.decode(layerJob());
    w.fail("the worker crashed");
    expect(d.mode).toBe("main");
    expect((await waiting).shape).toEqual([2, 3, 3]);
    expect(w.jobs).toBe(0);
    expect(debug.mock.calls[0][0]).toMatch(/main thread.*crashed/);
    debug.mockRestore();
  });

  it("decodes plain arrays here: no round trip for a copy", async () => {
    const w = new FakeWorker();
    const d = new Decoder(() => w as unknown as Worker);
    await d.settled;
    await d.decode(layerJob());
    const plain = await d.decode({ enc: { buffer: new Uint8Array(new Float32Array([0.5]).buffer), dtype: "float32", shape: [1] } });
    expect(plain.data[0]).toBe(0.5);
    expect(w.jobs).toBe(1);
  });
});
