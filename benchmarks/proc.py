"""Memory and CPU of a process tree, read from /proc (Linux) so the benchmark needs no extra package."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, int, tuple[str, ...]] | None:
    """(parent pid, resident bytes, address-space layout) of `pid`, or None once it is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        resident = int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    # startcode, endcode, startstack, start_brk: randomized by every exec, equal in a child not exec'd yet
    return int(fields[1]), resident, (fields[23], fields[24], fields[25], fields[44] if len(fields) > 44 else "")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far (0 once it is gone)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def wait_idle(pid: int, busy: float = 0.1, window: float = 0.5, timeout: float = 60.0) -> float:
    """Wait until `pid` uses less than `busy` of a core over `window` s (e.g. a server still writing the last
    run's events); returns the seconds waited."""
    began = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - began < timeout:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - last < busy * window:
            break
        last = now
    return time.monotonic() - began


def tree_rss(root: int) -> tuple[int, int]:
    """(bytes resident in `root` and all its descendants, number of processes), summed RSS."""
    members = tree_members(root)
    return sum(rss for _, rss in members), len(members)


def tree_members(root: int) -> list[tuple[int, int]]:
    """(pid, bytes resident) of `root` and each of its descendants, each address space counted once.

    A child between its spawn and its exec runs in its parent's memory (vfork, as subprocess does on Linux) or in
    a copy-on-write copy of it (fork): /proc shows it with the parent's whole RSS although no page is added. Such a
    child (same layout as its parent) counts 0 bytes here; summed naively, each spawn (a Pagefind run, a flow-run
    process) could add a phantom copy of the parent to a peak, more often the more spawns a run makes."""
    table: dict[int, tuple[int, int]] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (info := _stat(int(entry.name))) is not None:
            table[int(entry.name)] = info
    if root not in table:
        return []
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    members, todo = [], [root]
    while todo:
        pid = todo.pop()
        ppid, resident, layout = table[pid]
        same = pid != root and ppid in table and table[ppid][2] == layout
        members.append((pid, 0 if same else resident))
        todo += children.get(pid, [])
    return members


def _name(pid: int) -> str:
    """A short name for a process: its module (`-m X`), else the end of its command line."""
    try:
        cmd = (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
    return (cmd.split(" -m ", 1)[1] if " -m " in cmd else cmd.rsplit("/", 1)[-1])[-40:]


def _flow_run_id(pid: int) -> str | None:
    """The Prefect flow run a process executes (a worker starts each run with PREFECT__FLOW_RUN_ID set)."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for item in environ.split(b"\0"):
        if item.startswith(b"PREFECT__FLOW_RUN_ID="):
            return item.split(b"=", 1)[1].decode(errors="replace")
    return None


def _parent(pid: int) -> int:
    info = _stat(pid)
    return info[0] if info is not None else 0


@dataclass(frozen=True)
class Member:
    """One process of a tree at a sample: enough to tell what it was (the flow run it executes, its parent)."""

    pid: int
    parent: int
    name: str
    mb: float
    flow_run: str | None


class TreeMemorySampler:
    """Samples the summed RSS of a process tree in a background thread; `peak` is the largest sum seen,
    `peak_tree` who made it up and `peak_at` when (epoch seconds)."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self.peak = 0
        self.peak_processes = 0
        self.peak_members: list[tuple[str, float]] = []  # (name, MB) of each process at the peak, largest first
        self.peak_tree: list[Member] = []
        self.peak_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            members = tree_members(self.root)
            rss = sum(r for _, r in members)
            if rss > self.peak:
                self.peak, self.peak_processes = rss, len(members)
                self.peak_at = time.time()
                self.peak_tree = sorted((Member(pid, _parent(pid), _name(pid), r / 2**20, _flow_run_id(pid))
                                         for pid, r in members), key=lambda m: -m.mb)
                self.peak_members = [(m.name, m.mb) for m in self.peak_tree]
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and everything below it: live processes' own time plus what each has reaped from
    children that already exited (cutime + cstime), so short-lived flow-run processes are counted too."""
    children: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        own[child] = sum(int(f) for f in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += own.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total
