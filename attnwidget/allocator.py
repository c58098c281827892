"""Keep the C heap from creeping up over a long corpus pass (glibc only).

A corpus pass allocates tensors of ever-changing sizes (every batch has its own length).
glibc serves blocks above its mmap threshold from fresh memory maps, but raises that
threshold each time such a block is freed, so most tensors soon come from the heap, whose
free space fragments: the resident size of even the bare forward pass grows by 10–15%
from 200 to 2,000 EWT sentences. A fixed threshold sends every large tensor to its own
map, returned to the system when freed, and the resident size stays flat.

It is set once per process, at the first :func:`pin_mmap_threshold` call, unless the user
chose a value already (``MALLOC_MMAP_THRESHOLD_`` in the environment) or asked us not to
(``ATTNWIDGET_MALLOC=default``). It changes nothing but where large blocks live.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: Blocks at least this large get their own memory map.
MMAP_THRESHOLD = 4 << 20
#: glibc's mallopt parameter number for the mmap threshold.
_M_MMAP_THRESHOLD = -3

_pinned: bool | None = None


def pin_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold for this process; True if it is (now or already) fixed."""
    global _pinned
    if _pinned is not None:
        return _pinned
    _pinned = False
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is not None:
        _pinned = True  # glibc read the user's value at start-up
    elif os.environ.get("ATTNWIDGET_MALLOC", "").lower() != "default" and sys.platform.startswith("linux"):
        _pinned = _mallopt(_M_MMAP_THRESHOLD, threshold)
    return _pinned


def _mallopt(parameter: int, value: int) -> bool:
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt  # musl and other C libraries have none
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(parameter, value) == 1
