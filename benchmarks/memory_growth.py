"""Memory of an in-process backfill, date by date: `python -m benchmarks.memory_growth [--days 60] [--papers 5]`.

A fast loop for finding what grows with the number of dates (the scale suite's S3 row takes ~9 minutes and gives
one peak): the sandbox with every latency and limit off, one `prefect server start` (outside the measured tree), and
after each finished date (where the backfill hands freed memory back, `tasks.memory`) one line with this process's
RSS, the tree's RSS (PDF workers, Pagefind), Python's own allocations and, with `--trace`, the source lines whose
allocations grew most since the first date.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.proc import tree_rss
from benchmarks.run import PrefectServer


def say(line: str) -> None:
    """Straight to stdout: the backfill flow turns print() into log records (log_prints)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _breakdown(root: int, skip: list[int]) -> str:
    """The tree's processes (but `skip`'s) as `name RSS`, largest first."""
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            kids.setdefault(int(stat[stat.rfind(")") + 2:].split()[1]), []).append(int(entry.name))
    parts, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in skip:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parts.append((_rss(pid), cmd.split(" -m ")[-1].split(";")[-1][:24].strip() or cmd[:24]))
        except OSError:
            pass
        todo += kids.get(pid, [])
    return ", ".join(f"{name} {rss / 2**20:.0f}" for rss, name in sorted(parts, reverse=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--papers", type=int, default=5)
    parser.add_argument("--end", default="2025-01-29")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--trace", action="store_true", help="tracemalloc: top growing lines (slow)")
    parser.add_argument("--limits", action="store_true",
                        help="the scale suite's provider limits, latencies and budgets (time scale 1) instead of none")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="hfdaily-memgrowth-"))
    home = tmp / "prefect"
    home.mkdir()
    server = PrefectServer(home)
    os.environ.update(PREFECT_HOME=str(home), PREFECT_API_URL=server.url, PREFECT_LOGGING_LEVEL="WARNING")
    os.chdir(tmp)  # no stray .env is read

    import flows.backfill as backfill_module
    from flows.cli import sandbox_env
    from sandbox.client import SandboxClient, spawn_sandbox

    last = date.fromisoformat(args.end)
    dates = [(last - timedelta(days=args.days - 1 - i)).isoformat() for i in range(args.days)]
    pid = os.getpid()
    if args.trace:
        tracemalloc.start(1)
    rows: list[dict[str, Any]] = []
    first: list[tracemalloc.Snapshot] = []
    began = time.monotonic()
    release = backfill_module.release_freed_memory

    helpers: list[int] = [server.proc.pid]  # the server's and the sandbox's trees are not hfdaily's memory

    def measured() -> tuple[int, int]:
        tree, procs = tree_rss(pid)
        for helper in helpers:
            rss, n = tree_rss(helper)
            tree, procs = tree - rss, procs - n
        return tree, procs

    peak = [0]
    window: dict[str, Any] = {"main": 0, "tree": 0, "procs": 0, "parts": ""}  # the largest since the last date
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            tree, procs = measured()
            peak[0] = max(peak[0], tree)
            window["main"] = max(window["main"], _rss(pid))
            if tree > window["tree"]:
                window.update(tree=tree, procs=procs, parts=_breakdown(pid, helpers))

    def after_date() -> bool:
        done = release()
        tree, procs = measured()
        row = {"n": len(rows) + 1, "s": time.monotonic() - began, "rss": _rss(pid) / 2**20,
               "tree": tree / 2**20, "procs": procs, "peak_main": window["main"] / 2**20,
               "peak_tree": window["tree"] / 2**20, "peak_procs": window["procs"],
               "blocks": sys.getallocatedblocks()}
        say(f"    at the tree's peak: {window['parts']}")
        window.update(main=0, tree=0, procs=0, parts="")
        if args.trace:
            row["py"] = tracemalloc.get_traced_memory()[0] / 2**20
            snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            if row["n"] == 5:  # after the first dates have warmed every cache up
                first.append(snap)
            elif first and row["n"] % 5 == 0:
                for stat in snap.compare_to(first[0], "lineno")[:12]:
                    say(f"    {stat.size_diff / 2**10:+9.0f} KiB {stat.count_diff:+7d} blocks {stat.traceback[0]}")
        rows.append(row)
        say(f"date {row['n']:3d} at {row['s']:6.0f} s: main {row['rss']:6.1f} MB, tree {row['tree']:6.1f} MB "
            f"({procs} processes); since the last date: main peak {row['peak_main']:6.1f} MB, tree peak "
            f"{row['peak_tree']:6.1f} MB ({row['peak_procs']} processes); {row['blocks']} Python blocks"
            + (f", python {row['py']:6.1f} MB" if args.trace else ""))
        return done

    backfill_module.release_freed_memory = after_date
    try:
        with spawn_sandbox(papers_per_day=args.papers) as proc:
            helpers.append(proc.proc.pid)
            client = SandboxClient(proc.url)
            client.reset()
            client.config(papers_per_day=args.papers)
            if args.limits:
                from benchmarks.scale import arm, budget_env

                arm(client, args.papers, 1.0)
                os.environ.update(budget_env(1.0) | {"HFDAILY_MAX_WORKERS": "16", "HFDAILY_PDF_CONCURRENCY": "4"})
            else:
                client.latency(hf=0, pdf=0, llm=0)
            os.environ.update(sandbox_env(proc.url, tmp))
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            backfill_module.backfill(start=dates[0], end=dates[-1], max_parallel=args.parallel)
    finally:
        stop.set()
        server.stop()
    say(f"peak tree RSS {peak[0] / 2**20:.0f} MB; "
          f"main RSS after the first date {rows[0]['rss']:.0f} MB, after the last {rows[-1]['rss']:.0f} MB; "
          f"{time.monotonic() - began:.0f} s; data in {tmp}")


if __name__ == "__main__":
    main()
