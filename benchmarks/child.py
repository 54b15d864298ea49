"""One measured run, in a fresh process: `python -m benchmarks.child SCENARIO ...` (started by benchmarks.run).

The environment (sandbox URLs, data dir, PREFECT_HOME, concurrency knobs) is set by the parent. The last line
of stdout is `BENCH-RESULT {json}` with wall-clock timestamps (time.time()), so the parent can split start-up
(process start → flow body) from the work, plus this process's CPU time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from datetime import datetime
from typing import Any

T_START = time.time()


def _rusage() -> dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_self_s": me.ru_utime + me.ru_stime,
        "cpu_children_s": kids.ru_utime + kids.ru_stime,
        "maxrss_self_mb": me.ru_maxrss / 1024,
        "maxrss_children_mb": kids.ru_maxrss / 1024,  # the largest single child (ru_maxrss is not a sum)
    }


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def _day_facts(date: str) -> dict[str, Any] | None:
    """What the day file of `date` says (from the data dir, local or a bucket), or None if there is none."""
    from tasks.settings import Settings
    from tasks.store import day_key, load_day

    settings = Settings()
    if not settings.data.exists(day_key(date)):
        return None
    day = json.loads(load_day(settings, date).model_dump_json())
    not_ok = [f"{p['arxiv_id']}:{s}" for p in day["papers"] for s, st in p["steps"].items() if st["status"] != "ok"]
    if not day["runs"]:  # the run died before it finished
        return {"papers": len(day["papers"]), "not_ok": not_ok, "body_start": None, "body_end": None, "calls": 0,
                "cached": 0}
    run = day["runs"][-1]
    return {
        "papers": len(day["papers"]),
        "not_ok": not_ok,
        "body_start": _ts(run["started_at"]),
        "body_end": _ts(run["finished_at"]),
        "calls": run["usage"]["calls"],
        "cached": run["usage"]["cached"],
    }


def _trace_calls() -> list[tuple[str, float, float]]:
    """Record (provider, start, end) of every LLM request, around the SDK clients' `complete`."""
    from tasks.llm.providers import CLIENTS

    calls: list[tuple[str, float, float]] = []

    def wrap(cls: type) -> None:
        inner = cls.complete

        def complete(self: Any, **kw: Any) -> Any:
            t0 = time.time()
            try:
                return inner(self, **kw)
            finally:
                calls.append((cls.name, t0, time.time()))

        cls.complete = complete

    for cls in set(CLIENTS.values()):
        wrap(cls)
    return calls


def _timeline(calls: list[tuple[str, float, float]], body_start: float, body_end: float) -> dict[str, Any]:
    """Where the body's time went: until the first LLM request, the requests, after the last one."""
    if not calls:
        return {}
    cap = int(os.environ.get("HFDAILY_PROVIDER_CONCURRENCY", "4"))
    first, last = min(c[1] for c in calls), max(c[2] for c in calls)
    durations = sorted(c[2] - c[1] for c in calls)
    by_provider = {}
    for name in sorted({c[0] for c in calls}):
        mine = [c for c in calls if c[0] == name]
        span = max(c[2] for c in mine) - min(c[1] for c in mine)
        busy = sum(c[2] - c[1] for c in mine)
        by_provider[name] = {"calls": len(mine), "first_s": min(c[1] for c in mine) - body_start,
                             "last_end_s": max(c[2] for c in mine) - body_start, "busy_call_s": busy,
                             "utilization": busy / (cap * span) if span > 0 else 0.0}
    return {"first_call_s": first - body_start, "last_call_end_s": last - body_start,
            "after_last_call_s": body_end - last, "median_call_s": durations[len(durations) // 2],
            "by_provider": by_provider}


def daily(args: argparse.Namespace) -> dict[str, Any]:
    from flows.daily import daily_digest

    calls = _trace_calls() if args.trace else []
    t_imported = time.time()
    summary = daily_digest(date=args.date, render=not args.no_render)
    t_return = time.time()
    facts = _day_facts(args.date) or {}
    timeline = _timeline(calls, facts["body_start"], t_return) if facts.get("body_start") else {}
    return {"t_imported": t_imported, "t_return": t_return, "line": summary["line"], "timeline": timeline, **facts}


def backfill(args: argparse.Namespace) -> dict[str, Any]:
    from flows.backfill import backfill as backfill_flow
    from tasks.plan import date_range

    calls = _trace_calls() if args.trace else []
    t_imported = time.time()
    result = backfill_flow(start=args.start, end=args.end, max_parallel=args.max_parallel,
                           use_deployments=args.use_deployments, mode=args.mode)
    t_return = time.time()
    days = [f for d in date_range(args.start, args.end) if (f := _day_facts(d)) is not None]
    days = [d for d in days if d["body_start"]]
    return {
        "t_imported": t_imported, "t_return": t_return, "failed": result["failed"],
        "failures": {d: result["dates"][d] for d in result["failed"]},
        "papers": sum(d["papers"] for d in days), "not_ok": sum(len(d["not_ok"]) for d in days),
        "calls": sum(d["calls"] for d in days),
        "body_start": min((d["body_start"] for d in days), default=None),
        "body_end": max((d["body_end"] or 0 for d in days), default=None),
        "timeline": _timeline(calls, min((d["body_start"] for d in days), default=t_imported), t_return),
        "usage": _usage(date_range(args.start, args.end)), "batches": result.get("batches"),
    }


def _usage(dates: list[str]) -> dict[str, Any]:
    """The dates' LLM usage summed from their day files (every run's), and whether every date is complete."""
    from tasks.models import Usage
    from tasks.settings import Settings
    from tasks.steps import is_complete
    from tasks.store import day_key, load_day

    settings = Settings()
    total, complete, papers = Usage(), True, 0
    for d in dates:
        if not settings.data.exists(day_key(d)):
            complete = False
            continue
        day = load_day(settings, d)
        total, papers = total + day.usage, papers + len(day.papers)
        complete = complete and is_complete(day)
    return {**total.model_dump(), "papers": papers, "complete": complete}


def empty(args: argparse.Namespace) -> dict[str, Any]:
    """Prefect's own cost per task run: a flow of empty tasks, called one by one and submitted in bulk."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    @task(task_run_name="empty-{i}")
    def nothing(i: int) -> int:
        return i

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    @flow(name="bench-empty-tasks", task_runner=ThreadPoolTaskRunner(max_workers=16))
    def tasks_flow(n: int) -> dict[str, float]:
        t_body = time.time()
        nothing(-1)  # first-call costs (imports, caches) are not per-task costs
        t0, c0 = time.perf_counter(), cpu()
        for i in range(n):
            nothing.submit(i).result()
        t1, c1 = time.perf_counter(), cpu()
        futures = [nothing.submit(i) for i in range(n)]
        for f in futures:
            f.result()
        t2, c2 = time.perf_counter(), cpu()
        return {"body_start": t_body, "seq_ms": (t1 - t0) / n * 1e3, "seq_cpu_ms": (c1 - c0) / n * 1e3,
                "bulk_ms": (t2 - t1) / n * 1e3, "bulk_cpu_ms": (c2 - c1) / n * 1e3}

    t_imported = time.time()
    out = tasks_flow(args.n)
    return {"t_imported": t_imported, "t_return": time.time(), "n": args.n, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="scenario", required=True)
    d = sub.add_parser("daily")
    d.add_argument("--date", required=True)
    d.add_argument("--no-render", action="store_true")
    d.add_argument("--trace", action="store_true", help="time every LLM request (a wrapper around the SDK calls)")
    b = sub.add_parser("backfill")
    b.add_argument("--start", required=True)
    b.add_argument("--end", required=True)
    b.add_argument("--max-parallel", type=int, default=2)
    b.add_argument("--trace", action="store_true")
    b.add_argument("--use-deployments", action="store_true", help="the dates run on the pool's workers")
    b.add_argument("--mode", choices=("online", "batch"), default="online", help="LLM calls online or in batches")
    e = sub.add_parser("empty")
    e.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    result = {"daily": daily, "backfill": backfill, "empty": empty}[args.scenario](args)
    result.update(t_start=T_START, **_rusage())
    print("BENCH-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
