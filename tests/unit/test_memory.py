"""Freed memory goes back to the OS between dates (glibc keeps it otherwise)."""

from __future__ import annotations

import os
import sys

import pytest

from tasks.memory import release_freed_memory


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_returned_after_a_burst():
    chunks = [bytearray(100_000) for _ in range(1500)]  # ~150 MB from malloc's heap, not mmap
    keep = chunks[-1]  # the heap's top stays in use: free() alone cannot shrink it
    del chunks
    held = _rss_mb()
    assert release_freed_memory()
    assert held - _rss_mb() > 100, "the freed 150 MB stayed resident"
    assert len(keep) == 100_000
