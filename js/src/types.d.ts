// Modules that build.mjs turns into text.

/** A stylesheet, inlined as its text (esbuild's text loader). */
declare module "*.css" {
  const text: string;
  export default text;
}

/** A Web Worker bundled on its own; the default export is its source (build.mjs: workerText). */
declare module "*?worker-text" {
  const source: string;
  export default source;
}
