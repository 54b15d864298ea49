"""The benchmarks' process-tree memory: a child being spawned is not a second copy of its parent."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from benchmarks.proc import TreeMemorySampler, tree_members


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_spawning_children_adds_no_phantom_copy_of_the_parent() -> None:
    ballast = bytearray(150 * 2**20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    own = dict(tree_members(os.getpid()))[os.getpid()]
    # In a whole test session this process may have children of its own already (servers, worker pools).
    tree = sum(rss for _, rss in tree_members(os.getpid()))
    with TreeMemorySampler(os.getpid(), interval=0.0005) as mem:
        began = time.monotonic()
        spawns = 0
        while time.monotonic() - began < 2:  # hundreds of spawns: /proc shows each with the parent's RSS until exec
            subprocess.run(["true"], check=True)
            spawns += 1
    assert spawns > 50
    assert mem.peak < tree + 40 * 2**20, (f"peak {mem.peak / 2**20:.0f} MB for a tree of {tree / 2**20:.0f} MB "
                                          f"(this process {own / 2**20:.0f} MB)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_running_child_is_counted() -> None:
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(60 * 2**20); import time; time.sleep(3)"])
    try:
        time.sleep(1.5)
        sizes = dict(tree_members(os.getpid()))
        assert sizes[child.pid] > 50 * 2**20
    finally:
        child.kill()
        child.wait()
