// Labels of the keys above or below the long head view's window, at its edges. Lines to
// such a key end at the edge; its label says which key it is. Many keys off screen used
// to print their labels on top of each other: here each edge gets a few rows of labels
// packed side by side without overlap, the strongest keys first, and one "+N more" label
// says how many keys were left without one.

/** A line to a key outside the window. */
export interface EdgeKey {
  key: number;
  up: boolean; // above the window (else below)
  colour: string; // its line's colour
  weight: number;
}

export interface EdgeLabel {
  text: string;
  colour: string;
  /** Left end and middle of the text, and its box (x, y - h / 2, w, h). */
  x: number;
  y: number;
  w: number;
  h: number;
  /** The keys it names: one, or those merged into a "+N more" label. */
  keys: number[];
}

export interface EdgeBand {
  /** Left and right end of the space for labels. */
  left: number;
  right: number;
  /** Middle of the first row of labels at the top edge and at the bottom edge. */
  top: number;
  bottom: number;
  /** Rows of labels at most per edge, and their height. */
  rows: number;
  rowH: number;
  /** Space between two labels in a row. */
  gap: number;
}

/**
 * Place the labels of the keys in `keys` (several lines may go to one key: it is labelled
 * once, in the colour of its strongest line). Per edge, strongest key first (then the one
 * nearer the window), each goes to the first row, counted from the edge inwards, with
 * room left for it; keys that find none are merged into a last "+N more" label (in
 * `moreColour`). `merged` counts the keys without a label of their own.
 */
export function placeEdgeLabels(
  keys: EdgeKey[],
  band: EdgeBand,
  label: (key: number, up: boolean) => string,
  measure: (text: string) => number,
  moreColour: string,
): { labels: EdgeLabel[]; merged: number } {
  const strongest = new Map<number, EdgeKey>();
  for (const k of keys) {
    const had = strongest.get(k.key);
    if (!had || k.weight > had.weight) strongest.set(k.key, k);
  }
  const labels: EdgeLabel[] = [];
  let merged = 0;
  for (const up of [true, false]) {
    const edge = [...strongest.values()].filter((k) => k.up === up);
    // Strongest first; between equals, the key nearer the window.
    edge.sort((a, b) => b.weight - a.weight || (up ? b.key - a.key : a.key - b.key));
    const placed = placeEdge(edge, up, band, label, measure, moreColour);
    labels.push(...placed.labels);
    merged += placed.merged;
  }
  return { labels, merged };
}

function placeEdge(
  edge: EdgeKey[],
  up: boolean,
  band: EdgeBand,
  label: (key: number, up: boolean) => string,
  measure: (text: string) => number,
  moreColour: string,
): { labels: EdgeLabel[]; merged: number } {
  const rowY = (r: number) => (up ? band.top + r * band.rowH : band.bottom - r * band.rowH);
  const ends = new Array<number>(band.rows).fill(band.left); // where each row's next label may start
  const labels: EdgeLabel[] = [];
  const put = (text: string, colour: string, keys: number[]): boolean => {
    const w = measure(text);
    for (let r = 0; r < band.rows; r++) {
      if (ends[r] + w > band.right && ends[r] > band.left) continue; // full (an empty row takes even a long label)
      labels.push({ text, colour, x: ends[r], y: rowY(r), w, h: band.rowH, keys });
      ends[r] += w + band.gap;
      return true;
    }
    return false;
  };
  const left: EdgeKey[] = [];
  for (const k of edge) if (left.length || !put(label(k.key, up), k.colour, [k.key])) left.push(k);
  if (!left.length) return { labels, merged: 0 };
  // No room for them all: the weakest placed labels give way until the "+N more" label fits.
  const arrow = up ? "↑" : "↓";
  const more = () => `+${left.length} more ${arrow}`;
  while (labels.length && !fits(measure(more()), ends, band)) {
    const dropped = labels.pop()!;
    left.unshift(edge.find((k) => k.key === dropped.keys[0])!);
    recount(ends, labels, band, up);
  }
  put(
    more(),
    moreColour,
    left.map((k) => k.key),
  );
  return { labels, merged: left.length };
}

/** Whether a label `w` wide has room in some row. */
function fits(w: number, ends: number[], band: EdgeBand): boolean {
  return ends.some((end) => end + w <= band.right || end === band.left);
}

/** Each row's end again, from the labels still placed. */
function recount(ends: number[], labels: EdgeLabel[], band: EdgeBand, up: boolean) {
  ends.fill(band.left);
  for (const l of labels) {
    const r = Math.round((up ? l.y - band.top : band.bottom - l.y) / band.rowH);
    ends[r] = Math.max(ends[r], l.x + l.w + band.gap);
  }
}
