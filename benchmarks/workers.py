"""Rows 7 · a backfill on 1, 2 and 3 workers against the scale-out stack (`python -m benchmarks --only workers`).

The stack is the one tests/e2e/test_scale_out.py runs and the README's "Scaling out" describes: a private
PostgreSQL cluster, `prefect server start` on it, moto's S3 server with the data dir and the site in a bucket,
the sandbox at the benchmark's latencies, and N `prefect worker start --limit 1` process workers, each in its own
empty folder. For each N, a fresh bucket prefix: a backfill of the range with use_deployments=true and
max_parallel=N runs from a separate process (its own run is not on a worker), so N dates are in flight, one per
worker. Papers per minute = papers / (backfill flow call → return).

The bound is the provider budget: with today's caps per process (HFDAILY_PROVIDER_CONCURRENCY calls in flight
per provider in each run), N runs in flight have N × the cap, so `lower_bound` over the whole range with caps
N × 4. CPU seconds of the workers (and their flow runs), the Prefect server, PostgreSQL and the S3 server say
which part of the machine went where. Provider rate limits (RPM/TPM), when the sandbox has them, apply here as
they do to every row: `Bench.arm()` sets the sandbox up before each measured run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.proc import load_average, tree_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]


def measure_workers(bench: Any, end_date: str, days: int, counts: tuple[int, ...], concurrent: dict[str, str],
                    lower_bound: Any) -> dict[str, Any]:
    """One backfill per worker count on the PostgreSQL + S3 stack; returns {"runs": [...], ...}."""
    from benchmarks.run import PrefectServer
    from tests.e2e.stack import PREFECT, Postgres, clean_env, prefect, start, stop
    from tests.s3server import MotoServer

    first = date.fromisoformat(end_date) - timedelta(days=days - 1)
    tmp: Path = bench.tmp / "workers"
    tmp.mkdir()
    out: dict[str, Any] = {"runs": []}
    with contextlib.ExitStack() as cleanup:
        t0 = time.perf_counter()
        s3 = MotoServer(tmp / "moto.log")
        cleanup.callback(s3.stop)
        pg = Postgres()
        cleanup.callback(pg.stop)
        (tmp / "server").mkdir()
        server = PrefectServer(tmp / "server", database_url=pg.url)
        cleanup.callback(server.stop)
        out["stack_startup_s"] = time.perf_counter() - t0
        base = clean_env(tmp) | s3.env | {"PREFECT_API_URL": server.url} | concurrent
        prefect(base, "work-pool", "create", "hfdaily", "--type", "process")
        prefect(base | {"HFDAILY_PROJECT_DIR": str(ROOT)}, "--no-prompt", "deploy", "--all")
        _pause_schedules(server.url)
        bucket = s3.bucket("bench")
        for n in counts:
            prefix = f"s3://{bucket}/workers-{n}"
            caps = dict(concurrent)  # per process: each run in flight has its own
            env = base | caps | _sandbox_env(bench.sandbox.url) | {"HFDAILY_DATA_DIR": f"{prefix}/data",
                                                                  "HFDAILY_SITE_DIR": f"{prefix}/site"}
            workers: list[subprocess.Popen] = []
            cleanup.callback(lambda ws=workers: [stop(w) for w in ws])  # also when the run is interrupted
            for i in range(n):
                home = tmp / f"n{n}-worker-{i}"
                home.mkdir()
                workers.append(start(
                    [*PREFECT, "worker", "start", "--pool", "hfdaily", "--type", "process", "--limit", "1"],
                    env | {"PREFECT_HOME": str(home / "prefect-home"), "HFDAILY_PROJECT_DIR": str(ROOT),
                           "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2"},
                    tmp / f"n{n}-worker-{i}.log", cwd=home))
            time.sleep(3)  # the workers' first poll
            cpu_before = _cpu(server.proc.pid, pg, s3.proc.pid, workers)
            load_before = load_average()
            args = ["backfill", "--start", first.isoformat(), "--end", end_date, "--max-parallel", str(n),
                    "--use-deployments"]
            knobs = caps | s3.env | {k: env[k] for k in ("HFDAILY_DATA_DIR", "HFDAILY_SITE_DIR")}
            result = bench.child(f"workers-{n}", args, knobs, tmp / f"n{n}-parent" / "data",
                                 tmp / f"n{n}-parent" / "prefect", api=server.url)
            cpu_after = _cpu(server.proc.pid, pg, s3.proc.pid, workers)
            for proc in workers:
                stop(proc)
            per_run = int(caps["HFDAILY_PROVIDER_CONCURRENCY"])
            cap = per_run * n
            pdf_cap = int(concurrent["HFDAILY_PDF_CONCURRENCY"]) * n
            wall = result["t_return"] - result["t_imported"]
            result.update(
                workers=n, cap_per_run=per_run, wall_backfill_s=wall, papers_per_min=result["papers"] / (wall / 60),
                bound=lower_bound(result["stats"], cap, pdf_cap),
                cpu_s={k: cpu_after[k] - cpu_before[k] for k in cpu_after}, load=(load_before, load_average()),
            )
            out["runs"].append(result)
    return out


def _sandbox_env(url: str) -> dict[str, str]:
    from flows.cli import sandbox_env

    return {k: v for k, v in sandbox_env(url, Path("unused")).items() if not k.endswith("_DIR")}


def _cpu(server: int, pg: Any, s3: int, workers: list[subprocess.Popen]) -> dict[str, float]:
    postmaster = int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])
    return {"workers": sum(tree_cpu_seconds(w.pid) for w in workers), "prefect_server": tree_cpu_seconds(server),
            "postgres": tree_cpu_seconds(postmaster), "s3_server": tree_cpu_seconds(s3)}


def _pause_schedules(api: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        daily = client.read_deployment_by_name("daily/daily")
        for schedule in daily.schedules:
            client.update_deployment_schedule(daily.id, schedule.id, active=False)


def rows(res: dict[str, Any], latency: dict[str, float]) -> list[tuple[str, str, str, bool | None]]:
    """Rows 7 of the table: one per worker count, then where it stops scaling."""
    data = res.get("workers")
    if not data:
        return []
    out: list[tuple[str, str, str, bool | None]] = []
    runs = data["runs"]
    base = runs[0]["papers_per_min"] if runs else 0.0
    if data.get("skipped"):
        return [("7 · backfill on 1, 2, 3 workers (PostgreSQL server, S3 store)", f"skipped: {data['skipped']}",
                 "info", None)]
    caps = "caps per process"
    for r in runs:
        b = r["bound"]["bound_s"]
        bound_ppm = r["papers"] / (b / 60) if b else 0.0
        cpu = r["cpu_s"]
        busy = sum(cpu.values()) / (r["wall_backfill_s"] * (os.cpu_count() or 1))
        out.append((
            f"7 · backfill on {r['workers']} worker{'s' if r['workers'] > 1 else ''} (PostgreSQL server, S3 store; "
            f"{caps})",
            f"{r['papers']} papers in {r['wall_backfill_s']:.1f} s = **{r['papers_per_min']:.0f} papers/min** "
            f"(×{r['papers_per_min'] / base:.2f} of 1 worker; provider-budget bound {bound_ppm:.0f} with "
            f"{r['workers']} × {r.get('cap_per_run', 4)} calls in flight per provider); "
            f"CPU s: workers {cpu['workers']:.0f}, "
            f"Prefect server {cpu['prefect_server']:.0f}, PostgreSQL {cpu['postgres']:.0f}, "
            f"S3 server {cpu['s3_server']:.0f} (all of this machine's cores {busy:.0%} busy); "
            f"{r['not_ok']} steps not ok, {len(r['failed'])} dates failed",
            "info", None if not r["failed"] and not r["not_ok"] else False,
        ))
    if len(runs) >= 2:
        last, prev = runs[-1], runs[-2]
        gain = last["papers_per_min"] / prev["papers_per_min"] - 1
        store_server = sum(last["cpu_s"][k] for k in ("prefect_server", "postgres", "s3_server"))
        share = store_server / max(1e-9, sum(last["cpu_s"].values()))
        out.append((
            "7 · where it stops scaling",
            f"{prev['workers']} → {last['workers']} workers: {gain:+.0%} papers/min; the server, PostgreSQL and the "
            f"S3 server took {share:.0%} of the CPU used; at latencies HF {latency['hf'] * 1e3:.0f} ms, PDF "
            f"{latency['pdf'] * 1e3:.0f} ms, LLM {latency['llm'] * 1e3:.0f} ms",
            "info", None,
        ))
    return out
