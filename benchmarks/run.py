"""The benchmark suite: `python -m benchmarks` (or `python benchmarks/run.py`). See docs/benchmarks.md.

Starts the sandbox with latency knobs (HF 100 ms, PDF 200 ms, LLM 300 ms per request) and one
`prefect server start` (or `--ephemeral`: Prefect's temporary server in every run), then measures, each flow
run in a fresh subprocess with its own PREFECT_HOME and temporary data dir:

1. a cold day (25 papers, every step) against its lower bound from the sandbox's latencies and the caps;
2. the same day with concurrency 1 everywhere (the sequential baseline) and the speed-up;
3. a warm re-run of the cold day: time beyond start-up, LLM and PDF requests;
4. a 10-day backfill: papers per minute, peak RSS of the process tree (pdf workers included);
5. the site render of 250 days × 25 papers (benchmarks/render.py) and PDF parsing of the real fixtures;
6. Prefect's own cost per task run (empty tasks);
7. the month page of 600+ cards in Chromium: first paint, each filter and sort (benchmarks/month_page.py), and the
   archive search's latency on 250 days over loopback HTTP (benchmarks/search_page.py).

`--only scale` (benchmarks/scale.py) instead runs hfdaily at provider-like rate limits and long-tailed latencies,
time-scaled, against the bound of each run: a cold day, the warm re-run, an online backfill of ≥ 60 dates, peak RSS
of 10 vs 60 dates in-process and as deployment runs, a batch backfill of the same few dates as an online one
(cost per paper) and one SIGKILLed and restarted (calls submitted twice), the share of input tokens billed as
prompt-cached, plus the render and PDF-parse rows; its last line is
`scale: cold_ratio=R backfill_share=S batch_cost_share=C rss_growth=G rate_429=Q batch_resume_dupes=D`.

Prints a Markdown table and writes everything to benchmarks/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from benchmarks.proc import TreeMemorySampler, load_average, wait_idle  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LATENCY = {"hf": 0.1, "pdf": 0.2, "llm": 0.3}  # seconds per request, the latencies the targets assume
PROVIDERS = ("openai", "anthropic", "mistral")
# These parts measure against fixed latencies and a cap on calls in flight: budgets far above what they use.
UNPACED = {f"HFDAILY_{p.upper()}_{k}": "1e9" for p in PROVIDERS for k in ("RPM", "TPM")} | {
    "HFDAILY_ANTHROPIC_OTPM": "1e9"}
CONCURRENT = {"HFDAILY_MAX_WORKERS": "16", "HFDAILY_PROVIDER_CONCURRENCY": "4", "HFDAILY_PDF_CONCURRENCY": "4",
              **UNPACED}
SEQUENTIAL = {"HFDAILY_MAX_WORKERS": "1", "HFDAILY_PROVIDER_CONCURRENCY": "1", "HFDAILY_PDF_CONCURRENCY": "1",
              **UNPACED}
TARGETS = {"cold_ratio": 1.5, "speedup": 8.0, "warm_s": 2.0, "backfill_rss_mb": 600.0, "render_s": 5.0,
           "pdf_median_s": 0.3}
_OWN_ENV = ("HFDAILY_", "OPENAI_", "ANTHROPIC_", "MISTRAL_", "PREFECT_")


# ------------------------------------------------------------------------------------------- lower bounds


def combine_bound(feed_s: float, paths_s: Iterable[float]) -> float:
    """The fastest schedule: the feed request (everything waits for it), then the longest of the paths that run
    side by side after it. Overlapping paths combine by max: a sum would count the time they share twice."""
    return feed_s + max(paths_s, default=0.0)


def lower_bound(stats: dict[str, Any], cap: int, pdf_cap: int, lat: dict[str, float] = LATENCY) -> dict[str, Any]:
    """The fastest a run making these requests can be, given the latencies and the caps (seconds).

    After the feed request, three kinds of path overlap: each provider's calls, at most `cap` at a time
    (ceil(calls / cap) × latency); the PDF downloads, `pdf_cap` at a time; and one paper's chain of its PDF, its
    affiliations call and — where a paper's first answer is empty — the fallback call.
    """
    requests = stats["requests"]
    by_provider = {p: math.ceil(requests.get(p, 0) / cap) * lat["llm"] for p in PROVIDERS}
    pdf_stage = math.ceil(requests.get("pdf", 0) / pdf_cap) * lat["pdf"]
    chain = 2 if any(k.endswith(":affiliations") and not k.startswith("openai") for k in stats["by_step"]) else 1
    critical = (lat["pdf"] + chain * lat["llm"]) if requests.get("pdf") else 0.0
    bound = combine_bound(lat["hf"] * min(1, requests.get("hf", 0)), [*by_provider.values(), pdf_stage, critical])
    sequential = (lat["hf"] * requests.get("hf", 0) + lat["pdf"] * requests.get("pdf", 0)
                  + lat["llm"] * sum(requests.get(p, 0) for p in PROVIDERS))
    return {"bound_s": bound, "by_provider_s": by_provider, "pdf_stage_s": pdf_stage, "critical_path_s": critical,
            "sequential_bound_s": sequential, "max_speedup": sequential / bound if bound else 0.0}


# ------------------------------------------------------------------------------------------ infrastructure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This process's environment without any hfdaily, provider or Prefect setting of the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_OWN_ENV)}


class PrefectServer:
    """One `prefect server start` for every run (its own PREFECT_HOME), stopped at the end."""

    def __init__(self, home: Path, database_url: str | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = _clean_env() | {
            "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false",
            "PREFECT_UI_API_URL": self.url, "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
        }
        if database_url:  # PostgreSQL instead of SQLite in PREFECT_HOME
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        self.log = (home / "server.log").open("wb")
        began = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_healthy(120.0)
        self.startup_s = time.perf_counter() - began
        self._seen = 0
        self.new_log()

    def _wait_healthy(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prefect server not healthy within {timeout:g} s")

    def new_log(self) -> str:
        """What the server logged since the last call."""
        self.log.flush()
        with open(self.log.name, "rb") as fh:
            fh.seek(self._seen)
            text = fh.read()
        self._seen += len(text)
        return text.decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


@dataclass
class Bench:
    """Shared state of one benchmark session: the sandbox, the Prefect server, the temporary root."""

    tmp: Path
    sandbox: Any  # sandbox.client.SandboxProcess
    server: PrefectServer | None
    papers: int
    keep_logs: bool = False
    results: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[], None] | None = None  # how to arm the sandbox before a child run (default: `arm`)

    def arm(self) -> None:
        """Zero the sandbox's counters and set the latencies (a reset also clears them)."""
        if self.setup is not None:
            self.setup()
            return
        client = self.sandbox.client
        client.reset()
        client.config(papers_per_day=self.papers)
        client.latency(**LATENCY)

    def base_env(self) -> dict[str, str]:
        """A clean environment with the CLI's Prefect defaults (telemetry off; with --ephemeral, time for the
        temporary server to start) and this checkout on the path."""
        from flows.cli import PREFECT_DEFAULTS

        return _clean_env() | {name: value for name, _, value in PREFECT_DEFAULTS} | {
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}

    def child_env(self, data: Path, home: Path) -> dict[str, str]:
        from flows.cli import sandbox_env

        env = self.base_env() | sandbox_env(self.sandbox.url, data) | {"PREFECT_HOME": str(home)}
        if self.server is not None:
            env["PREFECT_API_URL"] = self.server.url
        return env

    def child(self, name: str, args: list[str], knobs: dict[str, str], data: Path, home: Path,
              timeout: float = 1800.0, api: str | None = None) -> dict[str, Any]:
        """Run `python -m benchmarks.child ARGS` with its own env; returns its result plus timings, sandbox
        counters, CPU (this process's children delta) and the peak summed RSS of its process tree."""
        home.mkdir(parents=True, exist_ok=True)
        server = self.server if api is None else None  # another server (the workers' rows) is not watched here
        env = self.child_env(data, home) | knobs
        if api is not None:
            env["PREFECT_API_URL"] = api
        log_path = self.tmp / f"{name}.log"
        self.arm()
        if server is not None:  # the server may still be digesting the previous run's events
            self.results.setdefault("server_settle_s", {})[name] = wait_idle(server.proc.pid)
            server.new_log()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with log_path.open("wb") as log:
            t_popen = time.time()
            proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", *args], cwd=data.parent, env=env,
                                    stdout=subprocess.PIPE, stderr=log)
            with TreeMemorySampler(proc.pid) as mem:
                out, _ = proc.communicate(timeout=timeout)
            t_exit = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = [ln for ln in out.decode(errors="replace").splitlines() if ln.startswith("BENCH-RESULT ")]
        if proc.returncode != 0 or not lines:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name}: exit code {proc.returncode}; log {log_path}:\n{tail}")
        result = json.loads(lines[-1].removeprefix("BENCH-RESULT "))
        result.update(
            t_popen=t_popen, t_exit=t_exit, stats=self.sandbox.client.stats(),
            cpu_tree_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            peak_tree_rss_mb=mem.peak / 2**20, peak_tree_processes=mem.peak_processes,
            peak_tree_members=mem.peak_members,
        )
        body_start = result.get("body_start") or result["t_imported"]
        result["startup_s"] = body_start - t_popen  # interpreter, imports, Prefect client and run creation
        result["beyond_startup_s"] = result["t_return"] - body_start  # flow body → the flow call returns
        result["wall_s"] = t_exit - t_popen
        result["refused_starts"] = log_path.read_text(errors="replace").count("the API refused the child run")
        if server is not None:  # requests the server answered 503 (its database was locked) during the run
            result["api_503_retries"] = server.new_log().count("Encountered retryable exception in request")
        return result


# ------------------------------------------------------------------------------------------- measurements


def prewarm_sandbox(bench: Bench, dates: list[str], papers: int | None = None) -> float:
    """Have the sandbox build every PDF once (fpdf2, ~0.2 s of its CPU each, LRU-cached) so that cost, which a
    real arXiv does not bill to our machine, does not compete with the measured runs for the two cores."""
    import requests

    from sandbox.synth import papers_for_date

    began = time.perf_counter()
    bench.sandbox.client.latency(hf=0, pdf=0, llm=0)
    with requests.Session() as s:
        for d in dates:
            for paper in papers_for_date(d, bench.papers if papers is None else papers):
                s.get(f"{bench.sandbox.url}/pdf/{paper.arxiv_id}", timeout=60).raise_for_status()
    return time.perf_counter() - began


def sandbox_round_trip(bench: Bench, n: int = 20) -> float:
    """Median seconds of an LLM request to the sandbox with no latency set: what the knobs do not account for
    (~3 ms; 40 ms per request before the sandbox set TCP_NODELAY)."""
    import statistics

    import requests

    bench.arm()
    bench.sandbox.client.latency(hf=0, pdf=0, llm=0)
    ask = "Summarize this paper in English as JSON with a title and a desc.\n\nTitle: calibration"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": ask}]}
    headers = {"Authorization": "Bearer sandbox"}
    times = []
    with requests.Session() as s:
        for _ in range(n):
            t0 = time.perf_counter()
            s.post(f"{bench.sandbox.url}/openai/v1/chat/completions", json=body, headers=headers,
                   timeout=30).raise_for_status()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


FLOW_PARTS = ("tasks", "cold", "sequential", "backfill")  # "cold" includes the warm re-run


def measure_flows(bench: Bench, day: str, backfill_days: int, max_parallel: int,
                  parts: tuple[str, ...] = FLOW_PARTS) -> dict[str, Any]:
    tmp = bench.tmp
    cap, pdf_cap = int(CONCURRENT["HFDAILY_PROVIDER_CONCURRENCY"]), int(CONCURRENT["HFDAILY_PDF_CONCURRENCY"])
    r: dict[str, Any] = {}
    if "tasks" in parts:
        r["prefect_tasks"] = bench.child("empty", ["empty", "--n", "200"], CONCURRENT, tmp / "empty" / "data",
                                         tmp / "empty" / "prefect")
    if "cold" in parts:
        cold_data, cold_home = tmp / "cold" / "data", tmp / "cold" / "prefect"
        r["cold"] = bench.child("cold", ["daily", "--date", day, "--trace"], CONCURRENT, cold_data, cold_home)
        r["cold"]["bound"] = lower_bound(r["cold"]["stats"], cap, pdf_cap)
        r["warm"] = bench.child("warm", ["daily", "--date", day], CONCURRENT, cold_data, cold_home)
    if "sequential" in parts:
        r["sequential"] = bench.child("sequential", ["daily", "--date", day], SEQUENTIAL, tmp / "seq" / "data",
                                      tmp / "seq" / "prefect")
    if "backfill" in parts:
        start = date.fromisoformat(day) - timedelta(days=backfill_days - 1)
        args = ["backfill", "--start", start.isoformat(), "--end", day, "--max-parallel", str(max_parallel),
                "--trace"]
        r["backfill"] = bench.child("backfill", args, CONCURRENT, tmp / "backfill" / "data",
                                    tmp / "backfill" / "prefect")
        r["backfill"]["max_parallel"] = max_parallel
        r["backfill"]["bound"] = lower_bound(r["backfill"]["stats"], cap, pdf_cap)
    return r


def _measure_workers(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.workers import measure_workers
    from tests.e2e.stack import postgres_bin

    if postgres_bin() is None:
        return {"skipped": "PostgreSQL is not installed (apt-get install postgresql)", "runs": []}
    return measure_workers(bench, args.date, args.backfill_days, tuple(args.workers), CONCURRENT, lower_bound)


def measure_render(days: int, papers: int) -> dict[str, Any]:
    from benchmarks.render import PAGES_ROW, measure

    result = measure(days, papers)
    result.pop("profiler", None)
    seconds = {row["step"]: row["seconds"] for row in result["rows"]}
    result["render_site_s"] = next(s for step, s in seconds.items() if step.startswith(PAGES_ROW))
    result["render_cold_s"] = seconds["render_site (cold)"]
    return result


# ------------------------------------------------------------------------------------------------- report


def _ok(met: bool | None) -> str:
    return "—" if met is None else ("✅ met" if met else "❌ missed")


def _calls(stats: dict[str, Any]) -> str:
    req = stats["requests"]
    return ", ".join(f"{p} {req.get(p, 0)}" for p in PROVIDERS)


Row = tuple[str, str, str, bool | None]  # measurement, result, target, met (None: information)


def _utilization(run: dict[str, Any]) -> str:
    tl = run.get("timeline") or {}
    if not tl:
        return ""
    name = max(tl["by_provider"], key=lambda k: tl["by_provider"][k]["calls"])
    return f"; {name} slots {tl['by_provider'][name]['utilization']:.0%} busy"


def _flow_rows(res: dict[str, Any]) -> list[Row]:
    flows, rows = res.get("flows") or {}, []
    pt, cold, seq, warm, bf = (flows.get(k) for k in ("prefect_tasks", "cold", "sequential", "warm", "backfill"))
    if pt:
        rows.append((
            "6 · Prefect engine per task run (empty task)",
            f"{pt['seq_ms']:.1f} ms wall / {pt['seq_cpu_ms']:.1f} ms CPU one at a time; "
            f"{pt['bulk_ms']:.1f} ms wall / {pt['bulk_cpu_ms']:.1f} ms CPU submitted together "
            f"(process start → flow body {pt['startup_s']:.1f} s)",
            "info", None,
        ))
    if cold:
        b = cold["bound"]
        ratio = cold["beyond_startup_s"] / b["bound_s"]
        n_tasks = 2 + cold["stats"]["requests"]["pdf"] + 5 * cold["papers"]  # feed, PDFs, 5 LLM steps, zh
        prefect = f" (Prefect ≈ {n_tasks * pt['bulk_cpu_ms'] / 1e3:.1f} s of it for ~{n_tasks} task runs)" if pt else ""
        rows.append((
            f"1 · cold day: {cold['papers']} papers, every step",
            f"**{cold['beyond_startup_s']:.1f} s** beyond start-up ({cold['startup_s']:.1f} s start-up, "
            f"{cold['wall_s']:.1f} s wall); {cold['calls']} LLM calls ({_calls(cold['stats'])}); "
            f"lower bound {b['bound_s']:.1f} s → **ratio {ratio:.2f}**; CPU {cold['cpu_tree_s']:.1f} s{prefect}; "
            f"{len(cold['not_ok'])} steps not ok",
            f"≤ {TARGETS['cold_ratio']} × bound", ratio <= TARGETS["cold_ratio"] and not cold["not_ok"],
        ))
        if tl := cold.get("timeline"):
            busiest = max(tl["by_provider"], key=lambda k: tl["by_provider"][k]["calls"])
            bp = tl["by_provider"][busiest]
            rows.append((
                "1 · cold day: where the time went (from the flow body's start)",
                f"first LLM request at {tl['first_call_s']:.1f} s; {busiest} ({bp['calls']} calls) from "
                f"{bp['first_s']:.1f} to {bp['last_end_s']:.1f} s ({bp['utilization']:.0%} of its slots busy), "
                f"median request {tl['median_call_s'] * 1e3:.0f} ms "
                f"(latency {LATENCY['llm'] * 1e3:.0f} ms); last request ends at {tl['last_call_end_s']:.1f} s, "
                f"then {tl['after_last_call_s']:.1f} s to store, render and publish",
                "info", None,
            ))
    if seq:
        b = lower_bound(seq["stats"], 1, 1)
        if cold:
            speedup = seq["beyond_startup_s"] / cold["beyond_startup_s"]
            result = (f"**speed-up {speedup:.1f}×** (ratio of the two bounds: {cold['bound']['max_speedup']:.1f}×; "
                      f"8× needs the cold day in {seq['beyond_startup_s'] / TARGETS['speedup']:.1f} s)")
        else:
            speedup, result = None, "no cold run to compare with"
        rows.append((
            "2 · sequential baseline (concurrency 1 everywhere), same day, fresh data dir",
            f"{seq['beyond_startup_s']:.1f} s beyond start-up (bound {b['sequential_bound_s']:.1f} s); {result}; "
            f"{len(seq['not_ok'])} steps not ok",
            f"≥ {TARGETS['speedup']:g}×", None if speedup is None else speedup >= TARGETS["speedup"],
        ))
    if warm:
        wreq = warm["stats"]["requests"]
        llm = sum(wreq.get(p, 0) for p in PROVIDERS)
        rows.append((
            "3 · warm re-run of the same day",
            f"**{warm['beyond_startup_s']:.2f} s** beyond start-up ({warm['startup_s']:.1f} s start-up); "
            f"LLM requests {llm}, PDF requests {wreq.get('pdf', 0)} (HF {wreq.get('hf', 0)})",
            f"≤ {TARGETS['warm_s']:g} s, 0 requests",
            warm["beyond_startup_s"] <= TARGETS["warm_s"] and llm == 0 and wreq.get("pdf", 0) == 0,
        ))
    if bf:
        rss = bf["peak_tree_rss_mb"]
        ppm = bf["papers"] / (bf["beyond_startup_s"] / 60)
        bound_ppm = bf["papers"] / (bf["bound"]["bound_s"] / 60) if bf["bound"]["bound_s"] else 0.0
        largest = max(bf["maxrss_self_mb"], bf["maxrss_children_mb"])
        days = int(res["args"]["backfill_days"])
        rows.append((
            f"4 · backfill {days} days (max_parallel {bf['max_parallel']})",
            f"{bf['papers']} papers in {bf['beyond_startup_s']:.1f} s = **{ppm:.0f} papers/min** "
            f"(bound {bound_ppm:.0f}{_utilization(bf)}); peak RSS **{rss:.0f} MB** summed over "
            f"{bf['peak_tree_processes']} processes (largest single {largest:.0f} MB)",
            f"RSS ≤ {TARGETS['backfill_rss_mb']:g} MB", rss <= TARGETS["backfill_rss_mb"],
        ))
        errors = "; ".join(f"{d}: {why[:150]}" for d, why in bf.get("failures", {}).items())
        rows.append((
            "4 · backfill: every date done, every step ok",
            f"{days - len(bf['failed'])} of {days} dates done, {bf['not_ok']} steps not ok"
            + (f"; **failed** {errors}" if errors else "")
            + (f"; the server answered 503 {bf['api_503_retries']}× (database locked), "
               f"{bf['refused_starts']} child runs started again" if bf.get("api_503_retries") else ""),
            "all", not bf["failed"] and not bf["not_ok"],
        ))
    return rows


def table(res: dict[str, Any]) -> str:
    rows: list[Row] = []
    if "scale" in res:
        from benchmarks.scale import rows as scale_rows

        a = res["args"]
        rows += scale_rows(res["scale"], a["scale_small_days"], a["scale_days"])
    if (srv := res.get("prefect_server_startup_s")) is not None:
        rows.append(("Prefect server start-up (`prefect server start` → healthy)", f"{srv:.1f} s", "info", None))
    rows += _flow_rows(res)
    from benchmarks.workers import rows as worker_rows

    rows += worker_rows(res, LATENCY)
    if rd := res.get("render"):
        rows.append((
            f"5 · render {rd['days']} days × {res['args']['papers']} papers with first-page pictures (render_site: "
            "the pages, median of 3)",
            f"**{rd['render_site_s']:.2f} s** ({rd['papers']} papers, {rd['store_mb']:.0f} MB of JSON); the first "
            f"render, copying every picture to the site once: {rd['render_cold_s']:.2f} s",
            f"≤ {TARGETS['render_s']:g} s", rd["render_site_s"] <= TARGETS["render_s"],
        ))
    if pdf := res.get("pdf"):
        if "skipped" in pdf:
            rows.append(("5 · PDF parse (extract_text), real fixtures", f"skipped: {pdf['skipped']}", "≤ 0.3 s", None))
        else:
            rows.append((
                f"5 · PDF parse (extract_text), median of {len(pdf['papers'])} real PDFs",
                f"**{pdf['median_s']:.3f} s** (max {pdf['max_s']:.3f} s)",
                f"≤ {TARGETS['pdf_median_s']:g} s", pdf["median_s"] <= TARGETS["pdf_median_s"],
            ))
    head = "| measurement | result | target | status |\n|---|---|---|---|\n"
    return head + "\n".join(f"| {a} | {b} | {c} | {_ok(d)} |" for a, b, c, d in rows)


def context_line(res: dict[str, Any]) -> str:
    a = res["args"]
    mode = "ephemeral Prefect server per run" if a["ephemeral"] else "one `prefect server start` for all runs"
    return (f"{res['started']} · {platform.node()} · {os.cpu_count()} cores · load average "
            f"{res['load_before'][0]:.1f} before, {res['load_after'][0]:.1f} after · {mode} · latencies HF "
            f"{LATENCY['hf'] * 1e3:.0f} ms, PDF {LATENCY['pdf'] * 1e3:.0f} ms, LLM {LATENCY['llm'] * 1e3:.0f} ms · "
            f"caps: provider {CONCURRENT['HFDAILY_PROVIDER_CONCURRENCY']}, "
            f"PDF {CONCURRENT['HFDAILY_PDF_CONCURRENCY']}, workers {CONCURRENT['HFDAILY_MAX_WORKERS']} · "
            f"day {a['date']}" + (f" · sandbox round trip at zero latency {res['sandbox_round_trip_s'] * 1e3:.1f} ms"
                                  if "sandbox_round_trip_s" in res else ""))


# --------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="hfdaily benchmark suite.")
    p.add_argument("--date", default="2025-01-29", help="the cold/warm day; the backfill ends on it")
    p.add_argument("--papers", type=int, default=25, help="papers per day in the sandbox")
    p.add_argument("--backfill-days", type=int, default=10)
    p.add_argument("--max-parallel", type=int, default=2, help="dates at once in the backfill (the CLI default)")
    p.add_argument("--render-days", type=int, default=250)
    p.add_argument("--ephemeral", action="store_true", help="no shared server: each run starts Prefect's own")
    parts = (*FLOW_PARTS, "render", "pdf", "month", "search", "workers")
    p.add_argument("--only", nargs="+", choices=(*parts, "scale"), default=list(parts),
                   help="measure only these parts (scale: the rate-limited suite, with render and pdf)")
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2, 3],
                   help="worker counts of rows 7 (backfill on PostgreSQL + S3)")
    p.add_argument("--scale-days", type=int, default=60, help="scale: dates of the long online backfill")
    p.add_argument("--scale-small-days", type=int, default=10, help="scale: dates of the short one (RSS growth)")
    p.add_argument("--scale-papers", type=int, default=25, help="scale: papers a date in the online backfills")
    p.add_argument("--time-scale", type=float, default=4.0,
                   help="scale: how much faster than real time the sandbox's providers run in the backfills")
    p.add_argument("--scale-parallel", type=int, default=4, help="scale: dates in flight in the backfills")
    p.add_argument("--deployed-papers", type=int, default=10,
                   help="scale: papers a date in the deployment-mode RSS runs (no limits: memory only)")
    p.add_argument("--scale-parts", nargs="+", choices=("cold", "backfill", "batch", "deployed"),
                   default=["cold", "backfill", "batch", "deployed"], help="scale: which of its parts to run")
    p.add_argument("--scale-batch-days", type=int, default=None,
                   help="scale: dates of the batch backfill rows (default: --scale-days, the online backfill's dates)")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data, site)")
    args = p.parse_args(argv)

    res: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_before": load_average()}
    tmp = Path(tempfile.mkdtemp(prefix="hfdaily-bench-"))
    if "scale" in args.only:
        args.only = [*args.only, "render", "pdf"]
        # Built PDFs kept between sessions: building 1,500 of them costs the machine minutes of CPU each time.
        os.environ.setdefault("SANDBOX_PDF_DIR", str(RESULTS / "sandbox-pdfs"))
    try:
        parts = tuple(x for x in FLOW_PARTS if x in args.only)
        if "scale" in args.only:
            res["scale"] = _measure_scale(args, tmp)
        if parts or "workers" in args.only:
            from sandbox.client import spawn_sandbox

            server = None
            if not args.ephemeral and parts:
                (tmp / "server").mkdir()
                server = PrefectServer(tmp / "server")
                res["prefect_server_startup_s"] = server.startup_s
            try:
                with spawn_sandbox(papers_per_day=args.papers) as sandbox:
                    bench = Bench(tmp, sandbox, server, args.papers)
                    end = date.fromisoformat(args.date)
                    dates = [(end - timedelta(days=i)).isoformat() for i in range(args.backfill_days)]
                    res["sandbox_prewarm_s"] = prewarm_sandbox(bench, dates)
                    res["sandbox_round_trip_s"] = sandbox_round_trip(bench)
                    if parts:
                        res["flows"] = measure_flows(bench, args.date, args.backfill_days, args.max_parallel, parts)
                        res["server_settle_s"] = bench.results.get("server_settle_s", {})
                    if "workers" in args.only:
                        res["workers"] = _measure_workers(bench, args)
            finally:
                if server is not None:
                    server.stop()
        if "render" in args.only:
            res["render"] = measure_render(args.render_days, args.papers)
        if "pdf" in args.only:
            from benchmarks.pdfparse import measure

            res["pdf"] = measure()
        if "month" in args.only:  # the month page of 600+ cards in Chromium (benchmarks/month_page.py)
            from benchmarks import month_page

            res["month"] = month_page.measure()
            res["month"]["report"] = month_page.report(res["month"])
        if "search" in args.only:  # archive search latency over HTTP (benchmarks/search_page.py)
            from benchmarks import search_page

            res["search"] = search_page.measure(args.render_days, args.papers)
            res["search"]["report"] = search_page.report(res["search"])
    finally:
        res["load_after"] = load_average()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    md = table(res)
    md += "".join(f"\n\n{res[part]['report']}" for part in ("month", "search") if part in res)
    res["markdown"] = md
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(res, indent=2, default=str))
    if "scale" in res:
        from benchmarks.scale import last_line, summary

        print(scale_context(res, args) + "\n\n" + md + f"\n\nJSON: {out}\n")
        print(last_line(summary(res["scale"], args.scale_small_days, args.scale_days)))
        return 0
    print(context_line(res) + "\n\n" + md + f"\n\nJSON: {out}")
    return 0


def _measure_scale(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """The rate-limited suite: its own sandbox (PDFs pre-built) and, unless --ephemeral, one Prefect server."""
    from benchmarks.scale import _dates, measure
    from sandbox.client import spawn_sandbox

    server = None
    if not args.ephemeral:
        (tmp / "server").mkdir()
        server = PrefectServer(tmp / "server")
    try:
        with spawn_sandbox(papers_per_day=args.papers) as sandbox:
            bench = Bench(tmp, sandbox, server, args.papers)
            began = time.perf_counter()
            prewarm_sandbox(bench, [args.date])
            prewarm_sandbox(bench, _dates(args.date, max(args.scale_days, args.scale_small_days)), args.scale_papers)
            result = measure(bench, day=args.date, papers=args.papers, backfill_papers=args.scale_papers,
                             backfill_days=args.scale_days,
                             small_days=args.scale_small_days, time_scale=args.time_scale,
                             max_parallel=args.scale_parallel, deployed_papers=args.deployed_papers,
                             parts=tuple(args.scale_parts),
                             batch_days=args.scale_batch_days or args.scale_days)
            result["prewarm_s"] = time.perf_counter() - began
            result["server_startup_s"] = server.startup_s if server else None
            return result
    finally:
        if server is not None:
            server.stop()


def scale_context(res: dict[str, Any], args: argparse.Namespace) -> str:
    from benchmarks.scale import BURST_S, FIXED_LATENCY, LLM_LATENCY, PROVIDER_LIMITS

    limits = "; ".join(f"{p} " + ", ".join(f"{v:,.0f} {k.upper()}" for k, v in kinds.items())
                       for p, kinds in PROVIDER_LIMITS.items())
    return (f"{res['started']} · {platform.node()} · {os.cpu_count()} cores · load average "
            f"{res['load_before'][0]:.1f} before, {res['load_after'][0]:.1f} after · sandbox limits (= hfdaily's "
            f"budgets): {limits}; bursts of {BURST_S:g} s · LLM latency log-normal, median {LLM_LATENCY['median']:g} "
            f"s, p99 {LLM_LATENCY['p99']:g} s; HF {FIXED_LATENCY['hf']:g} s, PDF {FIXED_LATENCY['pdf']:g} s · "
            f"cold day in real time, backfills at time scale {args.time_scale:g} with {args.scale_parallel} dates in "
            f"flight · {args.papers} papers on the cold day {args.date}, {args.scale_papers} a date in the backfills")


if __name__ == "__main__":
    raise SystemExit(main())
