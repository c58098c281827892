import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { describe, expect, it } from "vitest";
import { BUNDLES, options, workerText } from "../build.mjs";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/worker/${name}`, import.meta.url));

/** Bundle a fixture as CommonJS in memory and run it. */
async function load(entry: string): Promise<Record<string, unknown>> {
  const out = await esbuild.build({
    entryPoints: [fixture(entry)],
    bundle: true,
    format: "cjs",
    write: false,
    plugins: [workerText()],
    logLevel: "silent",
  });
  const module = { exports: {} as Record<string, unknown> };
  new Function("module", "exports", out.outputFiles[0].text)(module, module.exports);
  return module.exports;
}

describe("build.mjs", () => {
  it("builds every bundle the Python package loads, from entries that exist", () => {
    expect(BUNDLES.map((b) => b.out).sort()).toEqual(["explorer.js", "standalone.js", "widget.js"]);
    for (const b of BUNDLES) expect(existsSync(options(b).entryPoints[0]), b.entry).toBe(true);
    expect(options(BUNDLES[0]).minify).toBe(true);
    expect(options(BUNDLES[0], { dev: true })).toMatchObject({ minify: false, sourcemap: "inline" });
  });

  it("carries a worker as its own bundled source text, which runs as a worker", async () => {
    const page = await load("page.ts");
    expect(typeof page.source).toBe("string");
    const listeners: ((e: { data: number }) => void)[] = [];
    const posted: number[] = [];
    const self = {
      addEventListener: (_: string, f: (e: { data: number }) => void) => listeners.push(f),
      postMessage: (m: number) => posted.push(m),
    };
    new Function("self", page.source as string)(self); // what new Worker(blob URL) would run
    listeners[0]({ data: 21 });
    expect(posted).toEqual([42]);
    expect((page.twice as (x: number) => number)(2)).toBe(4); // the page's own copy of the shared module
  });

  it("fails the build, naming the file, when a worker cannot be built", async () => {
    const err = await load("broken_page.ts").catch((e) => e);
    expect(err.errors?.[0]?.text).toMatch(/missing\.worker\.ts|Could not resolve/);
  });
});
