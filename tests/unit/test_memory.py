"""Freed memory goes back to the OS between dates (glibc keeps it otherwise)."""

from __future__ import annotations

import gc
import os
import sys
import threading

import pytest

from tasks.memory import collector_paused, release_freed_memory


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


_COUNT_ARENAS = """
import ctypes, ctypes.util, os, sys, tempfile, threading
from tasks.memory import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
kept = []
together = threading.Barrier(12)  # all alive at once: none hands its arena on to the next
def work():
    together.wait()
    kept.append([bytes(2000) for _ in range(200)])  # malloc'd blocks (above pymalloc's 512 bytes) in this thread
    together.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile() as out:
    fp = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(mode: str) -> int:
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _COUNT_ARENAS, mode], cwd=root, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_threads_share_two_malloc_arenas_once_limited():
    """Each new thread gets its own arena otherwise (up to 8 a core), where its leftovers pin memory."""
    assert _arenas("limited") <= 2 < _arenas("default")


def test_processes_started_after_the_limit_begin_with_it(monkeypatch):
    """A served run or a worker's flow-run process starts from this environment: it gets the cap from its start."""
    from tasks.memory import limit_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the operator's own choice stays
    limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "4"


def test_the_collector_pauses_for_a_render_and_resumes_after_the_last_one():
    assert gc.isenabled()
    inside, may_leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_render() -> None:
        with collector_paused():
            seen.append(gc.isenabled())
            inside.set()
            assert may_leave.wait(10)

    other = threading.Thread(target=other_render)
    with collector_paused():
        assert not gc.isenabled()
        other.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # this block ended, the other thread's render still runs
    may_leave.set()
    other.join(10)
    assert seen == [False] and gc.isenabled()  # back on once the last render ended


def test_the_collector_stays_off_after_a_render_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
