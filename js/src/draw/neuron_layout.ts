// Geometry of the neuron view: a header with the query vector, then one row per
// key: its label, its vector, (expanded) the query ⊙ key products and the score,
// then the softmax weight. Pure functions of sizes, checked by vitest.

export interface NeuronLayout {
  nk: number; // key rows
  d: number; // head dimension
  expanded: boolean;
  cell: number; // px per vector component
  rowH: number;
  labelW: number;
  queryY: number; // top of the query row (in the header)
  top: number; // first key row; everything above is the header, kept in view
  keysX: number;
  productsX: number | null; // null when collapsed
  scoresX: number | null; // null when collapsed
  weightsX: number;
  barW: number;
  width: number;
  height: number;
}

export type NeuronPart = "label" | "key" | "product" | "score" | "weight";

export interface NeuronHit {
  key: number | null; // key row, or null on the query row
  part: NeuronPart | "query";
  dim: number | null; // vector component under the pointer
}

export function neuronLayout(nk: number, d: number, labelW: number, expanded: boolean): NeuronLayout {
  const cell = Math.max(3, Math.min(12, Math.floor(256 / Math.max(1, d))));
  const rowH = 14;
  const block = d * cell;
  const gap = 18;
  const keysX = 8 + labelW + 10;
  const productsX = expanded ? keysX + block + gap : null;
  const scoresX = expanded ? productsX! + block + gap : null;
  const barW = 90;
  const weightsX = (scoresX !== null ? scoresX + barW : keysX + block) + gap;
  const queryY = 22;
  const top = queryY + rowH + 26; // room for the column titles under the query row
  const width = weightsX + barW + 56; // the weight's value is written after its bar
  return {
    nk,
    d,
    expanded,
    cell,
    rowH,
    labelW,
    queryY,
    top,
    keysX,
    productsX,
    scoresX,
    weightsX,
    barW,
    width,
    height: top + nk * rowH + 8,
  };
}

/** Top of key row j. */
export function keyRowY(l: NeuronLayout, j: number): number {
  return l.top + j * l.rowH;
}

/**
 * What is under (x, y). `scrollTop` is how far the rows have scrolled under the header,
 * which stays in view: a point in the header is on the header whatever the scroll.
 */
export function hitNeuron(l: NeuronLayout, x: number, y: number, scrollTop = 0): NeuronHit | null {
  const inBlock = (x0: number | null) => (x0 !== null && x >= x0 && x < x0 + l.d * l.cell ? Math.floor((x - x0) / l.cell) : null);
  const screenY = y - scrollTop;
  if (screenY < l.top) {
    if (screenY < l.queryY || screenY >= l.queryY + l.rowH) return null;
    const dim = inBlock(l.keysX) ?? inBlock(l.productsX);
    return dim === null ? null : { key: null, part: "query", dim };
  }
  const j = Math.floor((y - l.top) / l.rowH);
  if (j < 0 || j >= l.nk) return null;
  const kd = inBlock(l.keysX);
  if (kd !== null) return { key: j, part: "key", dim: kd };
  const pd = inBlock(l.productsX);
  if (pd !== null) return { key: j, part: "product", dim: pd };
  if (l.scoresX !== null && x >= l.scoresX && x < l.scoresX + l.barW) return { key: j, part: "score", dim: null };
  if (x >= l.weightsX && x < l.width) return { key: j, part: "weight", dim: null };
  if (x >= 8 && x < l.keysX) return { key: j, part: "label", dim: null };
  return null;
}
