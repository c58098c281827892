"""How attention weights travel as bytes: one uint8 per weight on a square-root scale.

The square root spends more of the 256 steps on weak weights, which are most of any row, so
a weight of 1e-4 still shows. Used by the synced layers (payload.py), a long input's
overviews (attention_store.py) and exported files.
"""

from __future__ import annotations

import numpy as np


def quantise_sqrt(weights: np.ndarray) -> np.ndarray:
    """uint8 ``round(sqrt(clip(a, 0, 1)) * 255)``."""
    a = np.clip(np.asarray(weights, dtype=np.float32), 0.0, 1.0)
    return np.rint(np.sqrt(a) * 255.0).astype(np.uint8)


def dequantise_sqrt(q: np.ndarray) -> np.ndarray:
    """float32 ``(q / 255) ** 2``; the inverse of :func:`quantise_sqrt` up to its step."""
    return (np.asarray(q, dtype=np.float32) / 255.0) ** 2
