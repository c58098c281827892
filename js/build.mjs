// Bundles the TypeScript views into attnwidget/static/ with esbuild's API.
//
//   node build.mjs           minified bundles (`npm run build`; hatch_build.py runs it on install)
//   node build.mjs --watch   rebuild on every change, with inline source maps (`npm run dev`);
//                            start the kernel with ANYWIDGET_HMR=1 and open widgets reload
//                            each new bundle (attnwidget/widget/js_bundles.py: live_bundle)
//
// A Web Worker is bundled on its own and imported as text, so it travels inside the
// bundle that uses it (no extra file, no URL to serve):
//   import source from "./decode.worker.ts?worker-text";
//   new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })));

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const JS = fileURLToPath(new URL(".", import.meta.url));
const STATIC = fileURLToPath(new URL("../attnwidget/static/", import.meta.url));
const TARGET = "es2020";

/** Every bundle the Python package loads, by the name it loads it under. */
export const BUNDLES = [
  { entry: "src/host/widget.ts", out: "widget.js", format: "esm" }, // AttentionWidget's anywidget module
  { entry: "src/host/standalone.ts", out: "standalone.js", format: "iife" }, // inlined in exported pages
  { entry: "src/host/explorer.ts", out: "explorer.js", format: "esm" }, // HeadExplorer: widget and pages
];

/** Imports ending in `?worker-text` become the bundled worker's source text. */
export function workerText({ minify = true, sourcemap = false } = {}) {
  const suffix = /\?worker-text$/;
  return {
    name: "worker-text",
    setup(build) {
      build.onResolve({ filter: suffix }, (args) => ({
        path: resolve(args.resolveDir, args.path.replace(suffix, "")),
        namespace: "worker-text",
      }));
      build.onLoad({ filter: /.*/, namespace: "worker-text" }, async (args) => {
        try {
          const worker = await esbuild.build({
            entryPoints: [args.path],
            absWorkingDir: JS,
            bundle: true,
            format: "iife",
            target: TARGET,
            minify,
            sourcemap: sourcemap ? "inline" : false,
            write: false,
            metafile: true,
            logLevel: "silent",
          });
          return {
            contents: worker.outputFiles[0].text,
            loader: "text",
            watchFiles: Object.keys(worker.metafile.inputs).map((f) => resolve(JS, f)),
          };
        } catch (err) {
          return { errors: err.errors ?? [{ text: String(err) }] };
        }
      });
    },
  };
}

/** In watch mode, one line per rebuilt bundle (esbuild itself prints errors and warnings). */
function report(bundle) {
  return {
    name: "report",
    setup(build) {
      let started = 0;
      build.onStart(() => {
        started = performance.now();
      });
      build.onEnd((result) => {
        const ms = (performance.now() - started).toFixed(0);
        const state = result.errors.length ? `failed (${result.errors.length} errors)` : `built in ${ms} ms`;
        console.log(`${new Date().toLocaleTimeString()} ${bundle.out} ${state}`);
      });
    },
  };
}

/** esbuild options for one bundle; `dev` keeps names and adds source maps. */
export function options(bundle, { dev = false, outdir = STATIC } = {}) {
  return {
    entryPoints: [resolve(JS, bundle.entry)],
    outfile: resolve(outdir, bundle.out),
    absWorkingDir: JS,
    bundle: true,
    format: bundle.format,
    target: TARGET,
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    loader: { ".css": "text" },
    plugins: [workerText({ minify: !dev, sourcemap: dev }), ...(dev ? [report(bundle)] : [])],
    logLevel: dev ? "warning" : "info",
  };
}

async function main(argv) {
  const watch = argv.includes("--watch");
  if (!watch) {
    await Promise.all(BUNDLES.map((b) => esbuild.build(options(b))));
    return;
  }
  const contexts = await Promise.all(BUNDLES.map((b) => esbuild.context(options(b, { dev: true }))));
  console.log(`watching src/ for changes; bundles go to ${STATIC} (Ctrl-C stops)`);
  await Promise.all(contexts.map((c) => c.watch()));
  const stop = async () => {
    await Promise.all(contexts.map((c) => c.dispose()));
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch(() => process.exit(1)); // esbuild has printed the errors
}
