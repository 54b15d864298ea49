"""Give freed memory back to the operating system between the dates of a long backfill, and keep malloc from
spreading it over many arenas.

Why: one date's run allocates and frees a few hundred MB in bursts (HTTP bodies, PDF texts, day files as JSON and
pydantic models) across dozens of threads. Python frees the objects — its count of allocated blocks stays flat
from date to date — but glibc's malloc keeps the freed memory in its per-thread arenas and heap, so the process's
resident size ratcheted up by ~2.5 MB a date (258 → 308 MB over 20 dates of 25 papers). `malloc_trim(0)` after each
date returns it: the same 20 dates stay within 244-268 MB (docs/benchmarks.md).

What trimming cannot return: glibc gives each new thread its own arena, up to 8 per core, and a date's run starts
dozens of threads (its task runner's lanes, HTTP and Prefect's workers), each of which leaves a few live blocks
scattered in its arena. Python's own allocations stay flat (tracemalloc: 19-33 MB over 30 dates), yet a 60-date
in-process backfill's resident size kept growing, its peak from 280 to 334 MB. With two arenas
(`limit_malloc_arenas`, what MALLOC_ARENA_MAX=2 does at process start) the same run peaks at 286 → 307 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas for the threads started from now on (glibc decides its limit when it first
    needs more than 8, so call this early: at the start of a command or flow). False where malloc is not glibc's."""
    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))  # the processes this one starts begin with the cap
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1)


def release_freed_memory() -> bool:
    """Collect garbage and hand malloc's free pages back to the OS; False where that is not possible."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


class _CollectorPause:
    """How many blocks (in any thread) are inside `collector_paused`, and whether the collector was on before."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = True


_pause = _CollectorPause()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block (a render, with the loading of what it shows), back on after
    it, unless the caller had it off.

    Why: loading a year's store and rendering it allocate millions of objects, which trigger full collections,
    and each one walks every live object, the loaded store's ~6,000 records included: 0.3-0.8 s of a 4-5 s
    render, to find ~500 objects in cycles (measured on the 250-day benchmark store). Reference counting still
    frees everything else at once, and the cycles wait for the next collection after the block. Counted, so that
    renders in parallel threads turn it back on only when the last one ends."""
    with _pause.lock:
        if _pause.depth == 0:
            _pause.was_enabled = gc.isenabled()
            gc.disable()
        _pause.depth += 1
    try:
        yield
    finally:
        with _pause.lock:
            _pause.depth -= 1
            if _pause.depth == 0 and _pause.was_enabled:
                gc.enable()
