// Where decoding runs: one Web Worker per page, shared by every view, so inflating a
// layer never stalls scrolling or hovering. The worker starts from a Blob URL of its
// bundled source (no file, no network). A host that forbids it (a CSP without
// `worker-src blob:`, a webview) gets the same jobs on the main thread: one debug line
// says so, nothing breaks. `mode` tells the views (and tests) which it is. While the
// worker starts, jobs run here as before, so a first paint never waits on its start-up.

import source from "./decode.worker.ts?worker-text";
import { type Decoded, type DecodeJob, type FromWorker, runJob, type ToWorker } from "./decode_job";

export type DecoderMode = "starting" | "worker" | "main";

/** How long a started worker may take to answer the handshake before jobs run here instead. */
const HANDSHAKE_MS = 4000;

interface Waiting {
  job: DecodeJob;
  resolve(d: Decoded): void;
  reject(e: Error): void;
}

export class Decoder {
  mode: DecoderMode = "starting";
  /** Resolves once the worker answers ("worker") or cannot ("main"). */
  readonly settled: Promise<DecoderMode>;
  private settle: (mode: DecoderMode) => void = () => {};
  private worker: Worker | null = null;
  private nextId = 1;
  private pending = new Map<number, Waiting>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(makeWorker: (() => Worker) | null = defaultWorker) {
    this.settled = new Promise((resolve) => {
      this.settle = resolve;
    });
    try {
      if (!makeWorker) throw new Error("Web Workers are not available here");
      const w = makeWorker();
      this.worker = w;
      w.addEventListener("message", (e: MessageEvent<FromWorker>) => this.onMessage(e.data));
      w.addEventListener("error", (e: ErrorEvent) => {
        e.preventDefault?.();
        this.fallBack(e.message || "the worker failed to start (a Content-Security-Policy without worker-src blob:?)");
      });
      this.timer = setTimeout(() => this.fallBack(`no answer from the worker within ${HANDSHAKE_MS} ms`), HANDSHAKE_MS);
      w.postMessage({ id: 0 } satisfies ToWorker);
    } catch (err) {
      this.fallBack((err as Error).message);
    }
  }

  /** Decode an encoded array (and unpack a layer's planes): in the worker when it runs. */
  decode(job: DecodeJob): Promise<Decoded> {
    // Nothing to inflate, unpack or read from base64: a copy here is cheaper than a round trip.
    const plain = !job.enc.compression && !job.planes && typeof job.enc.buffer !== "string";
    if (this.mode !== "worker" || plain) return runJob(job);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { job, resolve, reject });
      this.worker!.postMessage({ id, job } satisfies ToWorker); // copies the (compressed) input: the host keeps its own
    });
  }

  private onMessage(m: FromWorker) {
    if (m.id === 0) {
      if (!m.ready || this.mode !== "starting") return;
      clearTimeout(this.timer);
      this.mode = "worker";
      revokeSource();
      this.settle("worker");
      return;
    }
    const w = this.pending.get(m.id);
    if (!w) return;
    this.pending.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve({ data: m.data!, shape: m.shape! });
  }

  /** No worker (or it died): every job it had, and every later one, runs on the main thread. */
  private fallBack(reason: string) {
    if (this.mode === "main") return;
    clearTimeout(this.timer);
    this.mode = "main";
    console.debug(`attnwidget: decoding on the main thread (${reason})`);
    this.worker?.terminate();
    this.worker = null;
    revokeSource();
    this.settle("main");
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) runJob(w.job).then(w.resolve, w.reject);
  }
}

let sourceUrl = "";

function defaultWorker(): Worker {
  if (typeof Worker === "undefined") throw new Error("Web Workers are not available here");
  sourceUrl = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  return new Worker(sourceUrl);
}

/** The Blob URL is needed only until the worker has loaded (or failed to). */
function revokeSource() {
  if (sourceUrl) URL.revokeObjectURL(sourceUrl);
  sourceUrl = "";
}

let shared: Decoder | null = null;

/** The page's decoder (one worker for every view). */
export function decoder(): Decoder {
  shared ??= new Decoder();
  return shared;
}
