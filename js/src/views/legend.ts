// The legend under the head, matrix and model views: every mark and colour the view
// draws, in a sample and a few words. What to list is a pure function of the view's
// state (legendItems, tested in vitest); Legend only puts it in the DOM, as text and
// SVG/CSS samples (never markup from data). The note beside the head chips that says
// which rule chose the heads the widget opened on is here too (defaultHeadsNote).

import type { Meta } from "../data/meta";
import { lineAlpha } from "../data/prune";
import { MARKED_MIN_WEIGHT } from "../data/syntax";
import { headColour } from "../draw/colours";
import type { Palette } from "../draw/theme";

export type Mark =
  | { kind: "lines"; colours: string[] } // one short line per head shown
  | { kind: "weights"; colour: string; samples: { weight: number; alpha: number; width: number }[] }
  | { kind: "dashed"; colour: string }
  | { kind: "arc"; colour: string }
  | { kind: "tag"; colour: string } // a small grey "NOUN"
  | { kind: "token"; colour: string } // a token's text in this colour
  | { kind: "swatch"; colour: string; border: string }
  | { kind: "outline"; colour: string; width: number }
  | { kind: "ramp"; from: string; to: string; ticks: { at: number; label: string }[] }
  | { kind: "note" }; // words only

export interface LegendItem {
  key: string; // stable name (data-key in the DOM, for tests)
  mark: Mark;
  label: string;
}

export interface LegendInput {
  view: "head" | "matrix" | "model";
  palette: Palette;
  heads: number[];
  hasSyntax: boolean;
  /** Where the syntax came from: "spacy" (parsed) or "gold" (treebank). */
  syntaxSource?: string;
  causal: boolean;
  /** Names of the two parts when the view shows both (["A", "B"], ["prompt", "generated"]). */
  parts: [string, string] | null;
  /** Some rows or columns are outside the generation step shown (muted, shaded). */
  outside: boolean;
  locked: boolean;
  /** Relation labels left out for want of space in the last drawing. */
  hiddenArcLabels: number;
  level: "token" | "word";
}

/** Weights marked on the matrix's colour scale; a cell's colour runs with sqrt(weight). */
export const WEIGHT_TICKS = [0, 0.05, 0.25, 0.5, 1];

/** Where weight `w` sits on a ramp drawn linearly in colour (the views shade by sqrt). */
export function rampPosition(w: number): number {
  return Math.sqrt(Math.max(0, Math.min(1, w)));
}

function tickLabel(w: number): string {
  return w === 0 || w === 1 ? String(w) : String(w).replace(/^0/, "");
}

const MAX_HEAD_SAMPLES = 8;

function secondPart(parts: [string, string]): string {
  return parts[0] === "A" ? "tokens of sentence B" : `${parts[1]} tokens`;
}

function syntaxWord(source?: string): string {
  return source === "gold" ? "gold (treebank)" : source === "spacy" ? "spaCy's parse" : "the annotation";
}

function syntaxItems(s: LegendInput, arcsWhere: string): LegendItem[] {
  const { palette } = s;
  const items: LegendItem[] = [
    {
      key: "arc",
      mark: { kind: "arc", colour: palette.arc },
      label: `dependency arc ${arcsWhere}: from a head word to its dependent, labelled with the relation (${syntaxWord(s.syntaxSource)})`,
    },
    { key: "upos", mark: { kind: "tag", colour: palette.muted }, label: "grey tag: the word's part of speech (UPOS)" },
  ];
  if (s.hiddenArcLabels > 0) {
    const n = s.hiddenArcLabels;
    items.push({
      key: "hidden-labels",
      mark: { kind: "note" },
      label: `${n} relation label${n === 1 ? "" : "s"} left out where ${n === 1 ? "it" : "they"} would overlap: hover a token to read its relation`,
    });
  }
  return items;
}

function partItems(s: LegendInput, divider: string): LegendItem[] {
  const { palette } = s;
  const items: LegendItem[] = [];
  if (s.parts) {
    items.push({ key: "part", mark: { kind: "token", colour: palette.accentFont }, label: `${secondPart(s.parts)} (accent colour)` });
    items.push({
      key: "divider",
      mark: { kind: "dashed", colour: palette.foreground },
      label: `${divider}: where the ${s.parts[0] === "A" ? "second sentence" : `${s.parts[1]} text`} starts`,
    });
  }
  return items;
}

function headViewItems(s: LegendInput): LegendItem[] {
  const { palette } = s;
  const shown = s.heads.slice(0, MAX_HEAD_SAMPLES).map(headColour);
  const items: LegendItem[] = [
    {
      key: "head-colour",
      mark: { kind: "lines", colours: shown },
      label: `line colour: the head (its chip above)${s.heads.length > MAX_HEAD_SAMPLES ? `; ${s.heads.length} heads shown` : ""}`,
    },
    {
      key: "weight",
      mark: {
        kind: "weights",
        colour: shown[0] ?? palette.foreground,
        samples: [0.05, 0.25, 1].map((weight) => {
          const alpha = lineAlpha(weight);
          return { weight, alpha, width: 0.8 + 1.8 * alpha };
        }),
      },
      label: "stronger and thicker: more attention (weights .05, .25, 1) from the query token (left) to the key token (right)",
    },
  ];
  if (s.hasSyntax) {
    items.push({
      key: "related",
      mark: { kind: "dashed", colour: palette.foreground },
      label: `dashed over a line: attention between a ${s.level === "word" ? "word" : "token's word"} and its syntactic head or dependent (weight ≥ ${MARKED_MIN_WEIGHT})`,
    });
    items.push(...syntaxItems(s, "(left)"));
  }
  if (s.locked) {
    items.push({
      key: "locked",
      mark: { kind: "swatch", colour: palette.highlight, border: palette.highlight },
      label: "yellow box: the locked token (click it again to unlock); boxes on the other side: darker = more attention",
    });
  }
  items.push(...partItems(s, "dashed line between tokens"));
  if (s.outside) {
    items.push({ key: "outside", mark: { kind: "token", colour: palette.muted }, label: "grey tokens: outside the generation step shown" });
  }
  return items;
}

function matrixItems(s: LegendInput): LegendItem[] {
  const { palette } = s;
  const single = s.heads.length === 1;
  const to = single ? headColour(s.heads[0]) : palette.accentFont;
  const items: LegendItem[] = [
    {
      key: "scale",
      mark: {
        kind: "ramp",
        from: palette.background,
        to,
        ticks: WEIGHT_TICKS.map((w) => ({ at: rampPosition(w), label: tickLabel(w) })),
      },
      label: `attention weight of ${single ? `head ${s.heads[0]}` : `the mean of ${s.heads.length} heads`} (square-root scale): row = query, column = key`,
    },
  ];
  if (s.hasSyntax) {
    items.push({
      key: "related",
      mark: { kind: "outline", colour: palette.foreground, width: 1 },
      label: `outlined cell: the query ${s.level === "word" ? "word" : "token's word"} and the key's are a dependent and its head (either way)`,
    });
    items.push(...syntaxItems(s, "(top, over the keys)"));
  }
  if (s.causal || s.outside) {
    items.push({
      key: "mask",
      mark: { kind: "swatch", colour: palette.mask, border: palette.grid },
      label: s.causal
        ? "shaded: causal mask (a token cannot attend to later tokens)"
        : "shaded: outside the rows and columns of the generation step shown",
    });
  }
  if (s.locked) {
    items.push({
      key: "locked",
      mark: { kind: "outline", colour: palette.foreground, width: 2 },
      label: "thick outline: the locked token's row",
    });
  }
  items.push(...partItems(s, "dashed line across the grid"));
  return items;
}

function modelItems(s: LegendInput): LegendItem[] {
  const { palette } = s;
  const items: LegendItem[] = [
    {
      key: "thumbnail",
      mark: { kind: "ramp", from: palette.background, to: headColour(0), ticks: [] },
      label:
        "each square: one head's attention matrix (its rows = query tokens, columns = keys) in the head's colour; " +
        "darker = more attention · grid rows: layers (L0 at the top), grid columns: heads",
    },
    {
      key: "current",
      mark: { kind: "outline", colour: palette.foreground, width: 1.5 },
      label: "dark outline: the selected heads of the layer shown; click a square to open it in the matrix view",
    },
  ];
  if (s.causal) {
    items.push({ key: "mask", mark: { kind: "swatch", colour: palette.mask, border: palette.grid }, label: "shaded: causal mask" });
  }
  return items;
}

/** What the legend lists for the view in this state. */
export function legendItems(s: LegendInput): LegendItem[] {
  if (s.view === "head") return headViewItems(s);
  if (s.view === "matrix") return matrixItems(s);
  return modelItems(s);
}

/** "0, 3, 7" or "0–11": heads as a short list. */
function headList(heads: number[]): string {
  const run = heads.length > 2 && heads.every((h, k) => k === 0 || h === heads[k - 1] + 1);
  return run ? `${heads[0]}–${heads[heads.length - 1]}` : heads.join(", ");
}

/**
 * The note beside the head chips while the heads shown are those the widget opened on:
 * which rule chose them. Null once the user picks other heads (or in the neuron view,
 * which shows one head).
 */
export function defaultHeadsNote(meta: Pick<Meta, "default_heads">, heads: number[], view: string): string | null {
  const d = meta.default_heads;
  if (!d || view === "neuron" || d.heads.length === 0) return null;
  const same = heads.length === d.heads.length && d.heads.every((h) => heads.includes(h));
  if (!same) return null;
  const which = d.heads.length === 1 ? `head ${d.heads[0]}` : `heads ${headList(d.heads)}`;
  const rule = d.heads.length === 1 ? d.rule.replace(/^attend /, "attends ") : d.rule;
  return `showing ${which} of ${d.of}: the ${d.heads.length === 1 ? "head" : `${d.heads.length} heads`} of layer ${d.layer} that ${rule} · “all” shows every head`;
}

// ------------------------------------------------------------------------------ DOM

const SVG = "http://www.w3.org/2000/svg";

function svgSample(doc: Document, w: number, h: number): SVGSVGElement {
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("aw-legend-mark");
  return svg;
}

function svgLine(doc: Document, svg: SVGSVGElement, x1: number, y1: number, x2: number, y2: number, attrs: Record<string, string>) {
  const l = doc.createElementNS(SVG, "line");
  for (const [k, v] of Object.entries({ x1, y1, x2, y2 })) l.setAttribute(k, String(v));
  for (const [k, v] of Object.entries(attrs)) l.setAttribute(k, v);
  svg.appendChild(l);
}

function markElement(doc: Document, mark: Mark): Element | null {
  switch (mark.kind) {
    case "lines": {
      const svg = svgSample(doc, 6 * Math.max(1, mark.colours.length) + 10, 12);
      mark.colours.forEach((c, k) => {
        svgLine(doc, svg, 2 + 6 * k, 11, 10 + 6 * k, 1, { stroke: c, "stroke-width": "2" });
      });
      return svg;
    }
    case "weights": {
      const svg = svgSample(doc, 42, 12);
      mark.samples.forEach((s, k) => {
        svgLine(doc, svg, 2 + 14 * k, 6, 12 + 14 * k, 6, {
          stroke: mark.colour,
          "stroke-opacity": s.alpha.toFixed(3),
          "stroke-width": s.width.toFixed(2),
        });
      });
      return svg;
    }
    case "dashed": {
      const svg = svgSample(doc, 24, 12);
      svgLine(doc, svg, 1, 6, 23, 6, { stroke: mark.colour, "stroke-width": "1.2", "stroke-dasharray": "4 3" });
      return svg;
    }
    case "arc": {
      const svg = svgSample(doc, 24, 14);
      const path = doc.createElementNS(SVG, "path");
      path.setAttribute("d", "M 3 12 Q 12 -6 21 12");
      for (const [k, v] of Object.entries({ fill: "none", stroke: mark.colour, "stroke-width": "1" })) path.setAttribute(k, v);
      svg.appendChild(path);
      return svg;
    }
    case "outline":
    case "swatch": {
      const s = doc.createElement("span");
      s.className = "aw-legend-box";
      if (mark.kind === "swatch") {
        s.style.background = mark.colour;
        s.style.borderColor = mark.border;
      } else {
        s.style.borderColor = mark.colour;
        s.style.borderWidth = `${mark.width}px`;
      }
      return s;
    }
    case "ramp": {
      const s = doc.createElement("span");
      s.className = mark.ticks.length ? "aw-legend-scale aw-legend-ticked" : "aw-legend-scale";
      const bar = doc.createElement("span");
      bar.className = "aw-legend-ramp";
      bar.style.background = `linear-gradient(to right, ${mark.from}, ${mark.to})`;
      s.appendChild(bar);
      for (const t of mark.ticks) {
        const tick = doc.createElement("span");
        tick.className = "aw-legend-tick";
        tick.style.left = `${(100 * t.at).toFixed(1)}%`;
        tick.textContent = t.label;
        s.appendChild(tick);
      }
      return s;
    }
    case "tag":
    case "token": {
      const s = doc.createElement("span");
      s.className = mark.kind === "tag" ? "aw-legend-tag" : "aw-legend-token";
      s.style.color = mark.colour;
      s.textContent = mark.kind === "tag" ? "NOUN" : "word";
      return s;
    }
    case "note":
      return null;
  }
}

export class Legend {
  readonly root: HTMLElement;
  private key = "";

  constructor(private doc: Document) {
    this.root = doc.createElement("div");
    this.root.className = "aw-legend";
    this.root.setAttribute("aria-label", "legend");
  }

  /** Show these items (null: no legend, e.g. the neuron view, which has its own). */
  show(items: LegendItem[] | null): void {
    const key = items ? JSON.stringify(items) : "";
    if (key === this.key) return;
    this.key = key;
    this.root.hidden = !items;
    this.root.replaceChildren(
      ...(items ?? []).map((item) => {
        const row = this.doc.createElement("span");
        row.className = "aw-legend-item";
        row.dataset.key = item.key;
        const mark = markElement(this.doc, item.mark);
        const text = this.doc.createElement("span");
        text.textContent = item.label;
        if (mark) row.append(mark, text);
        else row.append(text);
        return row;
      }),
    );
  }
}
