"""Dependency arcs, as the views draw them: quadratic curves whose depth grows with the
log of their span, labels placed where they do not collide (syntax.ts)."""

from __future__ import annotations

import math

import numpy as np


def arc_depth(span: int, max_depth: float) -> float:
    return min(max_depth, 7 + 10 * math.log2(1 + abs(span)))


class LabelPlacer:
    """Each label tries its own spot, then spots shifted along ``axis``; one with no free
    spot is left out (its arc stays)."""

    def __init__(self, axis: str, step: float):
        self.axis, self.step, self.boxes = axis, step, []

    def place(self, x0: float, y0: float, w: float, h: float) -> float | None:
        for k in (0, -1, 1, -2, 2):
            d = k * self.step
            x, y = (x0, y0 + d) if self.axis == "y" else (x0 + d, y0)
            if all(x + w <= bx or bx + bw <= x or y + h <= by or by + bh <= y for bx, by, bw, bh in self.boxes):
                self.boxes.append((x, y, w, h))
                return d
        return None


def arc_path(ends: list[tuple[float, float, float, float, float, float]]):
    """One Path of quadratic curves, each (start x, y, control x, y, end x, y)."""
    from matplotlib.path import Path

    if not ends:
        return None
    vertices = np.asarray(ends, dtype=float).reshape(-1, 2)
    codes = np.tile([Path.MOVETO, Path.CURVE3, Path.CURVE3], len(ends))
    return Path(vertices, codes)
