"""Give the C heap's free pages back between chunks of a corpus pass (glibc only).

A corpus pass allocates tensors of ever-changing sizes (every batch has its own length).
glibc soon serves them from its heap, whose free space fragments, so the resident size of
even the bare forward pass grows by 10–20% from 200 to 2,000 EWT sentences. Trimming the
heap after each chunk of batches returns the free pages to the system and keeps the
resident size flat, at no measurable cost (a fixed mmap threshold would too, but makes
the forward pass itself 15–50% slower: every large tensor then costs fresh page faults).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache


def trim_heap() -> bool:
    """Return the heap's free pages to the system; False where there is no glibc."""
    trim = _malloc_trim()
    return bool(trim is not None and trim(0) >= 0)


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim  # musl and other C libraries have none
    except (OSError, AttributeError):
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return trim
