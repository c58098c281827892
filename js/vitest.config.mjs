// vitest: `?worker-text` imports become the worker's bundled source, as build.mjs makes them
// (Node has no Worker, so the page's decoder falls back to the main thread in tests).

import * as esbuild from "esbuild";

const SUFFIX = "?worker-text";

const workerText = {
  name: "worker-text",
  enforce: "pre",
  async load(id) {
    if (!id.endsWith(SUFFIX)) return null;
    const out = await esbuild.build({ entryPoints: [id.slice(0, -SUFFIX.length)], bundle: true, format: "iife", write: false });
    return `export default ${JSON.stringify(out.outputFiles[0].text)};`;
  },
};

export default { plugins: [workerText] };
