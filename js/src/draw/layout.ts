// Geometry of the three views and the inverse (pointer -> unit/cell/thumbnail).
// Pure functions of sizes, so vitest checks them without a browser.

export const FONT = "13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
export const SMALL_FONT = "10px system-ui, -apple-system, 'Segoe UI', sans-serif";
export const MAX_LABEL_CHARS = 16;

/** Token labels are cut to a readable width; the full text is in the tooltip. */
export function shortLabel(s: string): string {
  const visible = s.replace(/\n/g, "⏎").replace(/\t/g, "⇥");
  return visible.length > MAX_LABEL_CHARS ? `${visible.slice(0, MAX_LABEL_CHARS - 1)}…` : visible;
}

export interface HeadLayout {
  n: number; // query rows
  nKeys: number; // key rows (the source under cross-attention)
  rowH: number;
  top: number;
  arcsRight: number; // arcs bulge left of this x
  queryRight: number; // right edge of the query (left) column
  keyLeft: number; // left edge of the key (right) column
  labelW: number;
  uposW: number;
  width: number;
  height: number;
}

export function headLayout(n: number, labelW: number, hasSyntax: boolean, gap = 260, nKeys = n): HeadLayout {
  const rowH = 18;
  const top = 8;
  const arcsW = hasSyntax ? 150 : 0;
  const uposW = hasSyntax ? 44 : 0;
  const arcsRight = 8 + arcsW;
  const queryRight = arcsRight + uposW + labelW;
  const keyLeft = queryRight + gap;
  const width = keyLeft + labelW + uposW + 12;
  const rows = Math.max(n, nKeys);
  return { n, nKeys, rowH, top, arcsRight, queryRight, keyLeft, labelW, uposW, width, height: top * 2 + rows * rowH };
}

export function rowY(l: HeadLayout, i: number): number {
  return l.top + (i + 0.5) * l.rowH;
}

export function hitHead(l: HeadLayout, x: number, y: number): { unit: number; role: "query" | "key" } | null {
  const i = Math.floor((y - l.top) / l.rowH);
  if (i < 0) return null;
  if (i < l.n && x >= l.queryRight - l.labelW - l.uposW && x <= l.queryRight + 4) return { unit: i, role: "query" };
  if (i < l.nKeys && x >= l.keyLeft - 4 && x <= l.keyLeft + l.labelW + l.uposW) return { unit: i, role: "key" };
  return null;
}

export interface MatrixLayout {
  n: number; // rows
  cols: number;
  cell: number;
  left: number;
  top: number;
  arcsH: number;
  labelW: number;
  uposW: number;
  labelStep: number; // draw every labelStep-th label when cells are small
  width: number;
  height: number;
}

export function matrixLayout(n: number, labelW: number, hasSyntax: boolean, target = 640, cols = n): MatrixLayout {
  const cell = Math.max(2, Math.min(28, Math.floor(target / Math.max(1, n, cols))));
  const labelStep = Math.max(1, Math.ceil(13 / cell));
  const uposW = hasSyntax ? 40 : 0;
  const arcsH = hasSyntax ? 70 : 0;
  const left = labelW + uposW + 12;
  const top = arcsH + labelW + uposW + 12;
  return { n, cols, cell, left, top, arcsH, labelW, uposW, labelStep, width: left + cols * cell + 16, height: top + n * cell + 16 };
}

export function hitMatrix(l: MatrixLayout, x: number, y: number): { row: number; col: number } | null {
  const col = Math.floor((x - l.left) / l.cell);
  const row = Math.floor((y - l.top) / l.cell);
  if (row < 0 || col < 0 || row >= l.n || col >= l.cols) return null;
  return { row, col };
}

export interface GridLayout {
  layers: number;
  heads: number;
  thumb: number;
  gap: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

export function gridLayout(layers: number, heads: number, available = 900): GridLayout {
  const gap = 4;
  const left = 36;
  const top = 22;
  const thumb = Math.max(24, Math.min(72, Math.floor((available - left) / Math.max(1, heads)) - gap));
  return {
    layers,
    heads,
    thumb,
    gap,
    left,
    top,
    width: left + heads * (thumb + gap) + 4,
    height: top + layers * (thumb + gap) + 4,
  };
}

export function thumbOrigin(g: GridLayout, layer: number, head: number): [number, number] {
  return [g.left + head * (g.thumb + g.gap), g.top + layer * (g.thumb + g.gap)];
}

export function hitGrid(g: GridLayout, x: number, y: number): { layer: number; head: number } | null {
  const head = Math.floor((x - g.left) / (g.thumb + g.gap));
  const layer = Math.floor((y - g.top) / (g.thumb + g.gap));
  if (head < 0 || layer < 0 || head >= g.heads || layer >= g.layers) return null;
  const [x0, y0] = thumbOrigin(g, layer, head);
  if (x - x0 > g.thumb || y - y0 > g.thumb) return null; // in the gap
  return { layer, head };
}
