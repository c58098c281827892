// The decode worker: gzip inflation and unpacking off the page's main thread. Bundled on
// its own and carried as text inside each bundle (build.mjs: workerText), started from a
// Blob URL, so it needs no file and no network (exported pages allow `worker-src blob:`).

import { type FromWorker, runJob, type ToWorker } from "./decode_job";

interface WorkerScope {
  addEventListener(type: "message", f: (e: MessageEvent<ToWorker>) => void): void;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

scope.addEventListener("message", async ({ data: { id, job } }) => {
  if (!job) return scope.postMessage({ id, ready: true }); // the handshake: this worker runs
  try {
    const out = await runJob(job);
    // The result's buffer moves to the page (no copy); a view of the input must be copied.
    const own = out.data.byteOffset === 0 && out.data.byteLength === out.data.buffer.byteLength;
    const data = own ? out.data : out.data.slice();
    scope.postMessage({ id, data, shape: out.shape }, [data.buffer]);
  } catch (err) {
    scope.postMessage({ id, error: (err as Error).message });
  }
});
