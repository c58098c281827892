// Relation labels of dependency arcs: placed apart (LabelPlacer, with a gap between
// labels), drawn after the arcs on a halo of the background so the curves that cross
// them do not hide the text. A label with no free spot is left out and counted: its
// relation is in the token's tooltip.

import { LabelPlacer } from "../data/syntax";
import type { Painter } from "../draw/painter";
import type { Palette } from "../draw/theme";

/** Space kept between two labels, in pixels. */
export const LABEL_GAP = 3;

interface Placed {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export class ArcLabels {
  private placer: LabelPlacer;
  private placed: Placed[] = [];

  /** `axis` and `step`: which way, and how far, a colliding label may move (LabelPlacer). */
  constructor(
    private axis: "x" | "y",
    step: number,
  ) {
    this.placer = new LabelPlacer(axis, step, LABEL_GAP);
  }

  /** Labels left out for want of space. */
  get hidden(): number {
    return this.placer.hidden;
  }

  /** The boxes placed so far (top-left, size), in the order added. */
  get boxes(): readonly Placed[] {
    return this.placed;
  }

  /** Offer a label whose box's top-left corner is (x, y); true when it found a spot. */
  add(text: string, x: number, y: number, w: number, h: number): boolean {
    const shift = this.placer.place(x, y, w, h);
    if (shift === null) return false;
    this.placed.push(this.axis === "y" ? { text, x, y: y + shift, w, h } : { text, x: x + shift, y, w, h });
    return true;
  }

  /** Draw every placed label: a halo of the background, then the text (muted). */
  paint(p: Painter, palette: Palette, font: string): void {
    for (const b of this.placed) {
      p.rect(b.x - 1, b.y, b.w + 2, b.h, palette.background, 0.85);
      p.text(b.text, b.x, b.y + b.h / 2, { font, colour: palette.muted, align: "left" });
    }
  }
}
