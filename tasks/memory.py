"""Give freed memory back to the operating system between the dates of a long backfill.

Why: one date's run allocates and frees a few hundred MB in bursts (HTTP bodies, PDF texts, day files as JSON and
pydantic models) across dozens of threads. Python frees the objects — its count of allocated blocks stays flat
from date to date — but glibc's malloc keeps the freed memory in its per-thread arenas and heap, so the process's
resident size ratcheted up by ~2.5 MB a date (258 → 308 MB over 20 dates of 25 papers). `malloc_trim(0)` after each
date returns it: the same 20 dates stay within 244-268 MB (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl)
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Collect garbage and hand malloc's free pages back to the OS; False where that is not possible."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
