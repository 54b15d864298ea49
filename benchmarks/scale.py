"""`python -m benchmarks --only scale`: hfdaily at provider-like limits and long-tailed latencies, against the
lower bound of the very run it measured.

The sandbox plays the providers at their lowest paid tiers (PROVIDER_LIMITS) with log-normal latencies (median
1.5 s, p99 8 s), time-scaled for the long runs; hfdaily's budgets are set to the same limits (× the time scale).
The sandbox logs every request (GET /_requests): the drawn latency, the tokens charged to each limit. From that log
the bound of a run is the larger of
- each provider's limits: a limit of r per second whose bucket holds C admits no more than C + r·t (plus one
  call's overshoot) by time t, so its calls end no sooner than feed + (Σcost − C − largest)/r + the shortest
  latency among them — per limit, the largest of all;
- the longest dependency chain of the drawn latencies: feed, then per paper the longest of its steps, each the
  sum of its calls in order (the PDF before affiliations; a fallback after the call it replaced), per date.
Overlapping paths combine by max. CPU (PDF parsing, Prefect) is not in the bound: it is hfdaily's own cost.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.proc import Member, TreeMemorySampler, load_average

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = ("openai", "anthropic", "mistral")
# The lowest paid tiers (README.md#rate-limits): the sandbox's limits and hfdaily's budgets alike.
PROVIDER_LIMITS: dict[str, dict[str, float]] = {
    "openai": {"rpm": 500, "tpm": 200_000},
    "anthropic": {"rpm": 50, "tpm": 30_000, "otpm": 8_000},
    "mistral": {"rpm": 60, "tpm": 500_000},
}
LLM_LATENCY = {"median": 1.5, "p99": 8.0}  # simulated seconds, log-normal
FIXED_LATENCY = {"hf": 0.1, "pdf": 0.2}  # simulated seconds
BURST_S = 2.0  # seconds of each limit a bucket holds: at 50 RPM, 1.7 requests
SEED = 20230501
TARGETS = {"cold_ratio": 1.2, "backfill_share": 0.9, "rss_growth": 0.10, "rate_429": 0.02}
CHAINED_AFTER_PDF = "affiliations"
PAPER_STEPS = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh")


# --------------------------------------------------------------------------------------------------- settings

def arm(client: Any, papers: int, time_scale: float, limits: bool = True) -> None:
    """Reset the sandbox and set provider-like latencies (and limits) at this time scale."""
    client.reset()
    client.config(papers_per_day=papers)
    if limits:
        client.latency(**FIXED_LATENCY, llm=LLM_LATENCY, seed=SEED)
        client.limits(**PROVIDER_LIMITS, burst_s=BURST_S, time_scale=time_scale)
    else:
        client.latency(hf=0, pdf=0, llm=0)


def budget_env(time_scale: float, factor: float = 1.0) -> dict[str, str]:
    """hfdaily's budgets for providers that run `time_scale` times faster (factor > 1: far above the limits)."""
    return {f"HFDAILY_{p.upper()}_{k.upper()}": f"{v * time_scale * factor:g}"
            for p, kinds in PROVIDER_LIMITS.items() for k, v in kinds.items()}


# ------------------------------------------------------------------------------------------------------ bound

def rate_bound(records: Iterable[Mapping[str, Any]], feed_s: float,
               limits: Mapping[str, Mapping[str, float]] = PROVIDER_LIMITS, burst_s: float = BURST_S,
               strict: bool = False) -> dict[str, dict[str, float]]:
    """Per provider and limit, how long its calls take at the limit (simulated seconds): feed + Σcost / rate.

    strict: the earliest they could end under the sandbox's buckets, which hold `burst_s` of the limit and let
    one call overshoot: feed + (Σcost − bucket − largest cost) / rate + the shortest latency among them.
    """
    out: dict[str, dict[str, float]] = {}
    for provider, kinds in limits.items():
        admitted = [r for r in records if r.get("target") == provider and r.get("charged")]
        if not admitted:
            continue
        shortest = min(r["latency_s"] for r in admitted)
        for kind, per_minute in kinds.items():
            costs = [r["charged"][kind] for r in admitted if kind in r["charged"]]
            rate = per_minute / 60.0
            if not strict:
                out.setdefault(provider, {})[kind] = feed_s + sum(costs) / rate
                continue
            spread = max(0.0, (sum(costs) - rate * burst_s - max(costs)) / rate) if costs else 0.0
            out.setdefault(provider, {})[kind] = feed_s + spread + shortest
    return out


def chain_bound(records: Iterable[Mapping[str, Any]], date_of: Mapping[str, str]) -> dict[str, float]:
    """Per date, its longest dependency chain of drawn latencies (simulated seconds). `date_of`: title → date."""
    feed: dict[str, float] = {}
    pdf: dict[str, float] = {}
    steps: dict[tuple[str, str], float] = defaultdict(float)  # (subject, step) → its calls' latencies in order
    for r in records:
        if r.get("status") != 200:
            continue  # refused at once: no latency, and the call it was repeated as counts
        subject, lat = r.get("subject"), float(r.get("latency_s") or 0.0)
        if r["target"] == "hf":
            feed[subject] = max(feed.get(subject, 0.0), lat)
        elif r["target"] == "pdf" and subject:
            pdf[subject] = max(pdf.get(subject, 0.0), lat)
        elif r.get("step") and subject:
            steps[(subject, r["step"])] += lat
    per_date: dict[str, float] = {}
    for (subject, step), total in steps.items():
        day = date_of.get(subject)  # the day's reading exercise is about its top paper: that paper's date
        if day is None:
            continue
        path = total + (pdf.get(subject, 0.0) if step == CHAINED_AFTER_PDF else 0.0)
        per_date[day] = max(per_date.get(day, 0.0), path)
    return {d: feed.get(d, 0.0) + path for d, path in per_date.items()}


def titles_by_date(dates: Iterable[str], papers: int) -> dict[str, str]:
    from sandbox.synth import papers_for_date

    return {p.title: d for d in dates for p in papers_for_date(d, papers)}


def run_bound(records: list[dict[str, Any]], dates: list[str], papers: int) -> dict[str, Any]:
    """The bound of one run (simulated seconds): the larger of the limits' (every provider's calls and tokens at
    its limits) and the longest chain; `strict_s` the same with the strict limits' bound (see rate_bound)."""
    feed_s = min((r["latency_s"] for r in records if r["target"] == "hf"), default=0.0)
    rates = rate_bound(records, feed_s)
    strict = rate_bound(records, feed_s, strict=True)
    chains = chain_bound(records, titles_by_date(dates, papers))
    rate_s = max((s for kinds in rates.values() for s in kinds.values()), default=0.0)
    strict_rate_s = max((s for kinds in strict.values() for s in kinds.values()), default=0.0)
    chain_s = max(chains.values(), default=0.0)
    binding = max(((p, k) for p, kinds in rates.items() for k in kinds), key=lambda pk: rates[pk[0]][pk[1]],
                  default=("-", "-"))
    return {"bound_s": max(rate_s, chain_s), "strict_s": max(strict_rate_s, chain_s), "rate_s": rate_s,
            "chain_s": chain_s, "by_limit": rates, "strict_by_limit": strict,
            "binding": f"{binding[0]} {binding[1]}" if rate_s >= chain_s else "chain"}


def llm_facts(records: list[dict[str, Any]]) -> dict[str, Any]:
    """429 share, and how long after the first OpenAI request the first Anthropic one started (wall seconds)."""
    llm = [r for r in records if r["target"] in PROVIDERS]
    refused = sum(r["status"] == 429 for r in llm)
    first = {p: min((r["start"] for r in llm if r["target"] == p), default=None) for p in PROVIDERS}
    gap = first["anthropic"] - first["openai"] if first["anthropic"] and first["openai"] else None
    return {"llm_requests": len(llm), "refused_429": refused, "rate_429": refused / len(llm) if llm else 0.0,
            "first_anthropic_after_openai_s": gap,
            "by_provider": {p: sum(r["target"] == p for r in llm) for p in PROVIDERS}}


# ------------------------------------------------------------------------------------------- batch backfills

BATCH_ROUNDS = 6  # batch backfill runs until every paper is complete (a fallback provider's call takes a round)


def cache_share(records: Iterable[Mapping[str, Any]]) -> float:
    """Share of the input tokens of answered LLM requests that the provider billed as read from its prompt cache."""
    ok = [r for r in records if r.get("target") in PROVIDERS and r.get("status") == 200]
    total = sum(r.get("input_tokens") or 0 for r in ok)
    return sum(r.get("cached_tokens") or 0 for r in ok) / total if total else float("nan")


def _batch_rounds(bench: Any, name: str, dates: list[str], max_parallel: int, data: Path) -> dict[str, Any]:
    args = ["backfill", "--start", dates[0], "--end", dates[-1], "--max-parallel", str(max_parallel),
            "--mode", "batch"]
    run: dict[str, Any] = {}
    wall = 0.0
    for i in range(BATCH_ROUNDS):
        run = bench.child(f"{name}-{i}", args, {}, data, data.parent / "prefect", timeout=3600)
        wall += run["wall_s"]
        run.update(rounds=i + 1, rounds_wall_s=wall)
        if run["usage"]["complete"]:
            break
    return run


def measure_batch(bench: Any, dates: list[str], papers: int, max_parallel: int,
                  online: dict[str, Any] | None = None) -> dict[str, Any]:
    """The same dates online and in batches (no rate limits, batches answered at their first poll), then a batch
    backfill SIGKILLed once it has queued calls and restarted: cost per paper, and calls submitted twice.

    `online`: the online backfill row of this invocation, if it ran over these dates and papers; its cost is the
    baseline (the cost of a call does not depend on limits or latency). Without it an online baseline over the
    same dates runs here first."""
    client = bench.sandbox.client
    out: dict[str, Any] = {"batch_dates": dates}
    # The sandbox is armed here, once per row: a child run must not reset it (the provider keeps its batches).
    bench.setup = lambda: None
    if online is None:
        arm(client, papers, 1.0, limits=False)
        name = "scale-batch-online"
        online = bench.child(name, ["backfill", "--start", dates[0], "--end", dates[-1], "--max-parallel",
                                    str(max_parallel)], {}, bench.tmp / name / "data", bench.tmp / name / "prefect")
        online["cache_share"] = cache_share(client.requests())
        online["baseline"] = "own online run"
    else:
        online = {**online, "baseline": "online backfill row"}
    out["batch_online"] = online

    arm(client, papers, 1.0, limits=False)
    client.batches(seconds=0)
    name = "scale-batch"
    run = _batch_rounds(bench, name, dates, max_parallel, bench.tmp / name / "data")
    run["cache_share"] = cache_share(client.requests())
    run["sandbox_batches"] = client.batches()
    out["batch"] = run

    arm(client, papers, 1.0, limits=False)
    client.batches(seconds=0)
    # Killed in the middle of its first run: about half of the ~6 calls a paper that run queues (weekends empty).
    out["batch_resume"] = _killed_and_resumed(bench, dates, max_parallel, kill_at=max(3, len(dates) * papers * 2))
    return out


def _killed_and_resumed(bench: Any, dates: list[str], max_parallel: int, kill_at: int = 3) -> dict[str, Any]:
    """A batch backfill killed (SIGKILL, whole process group) once `kill_at` calls are queued, then run to the
    end."""
    name = "scale-batch-resume"
    data = bench.tmp / name / "data"
    home = bench.tmp / name / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = bench.child_env(data, home)
    args = ["backfill", "--start", dates[0], "--end", dates[-1], "--max-parallel", str(max_parallel),
            "--mode", "batch"]
    queue = Path(env["HFDAILY_DATA_DIR"]) / "batches" / "queue"
    with (bench.tmp / f"{name}-killed.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.child", *args], cwd=data.parent if
                                data.parent.exists() else ROOT, env=env, stdout=log, stderr=log,
                                start_new_session=True)
        began = time.time()
        deadline = began + 1800
        while proc.poll() is None and time.time() < deadline:
            if queue.exists() and len(list(queue.iterdir())) >= kill_at:
                break
            time.sleep(0.2)
        killed_with = len(list(queue.iterdir())) if queue.exists() else 0
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_after = time.time() - began
    run = _batch_rounds(bench, name, dates, max_parallel, data)
    run.update(killed=killed, killed_with_queued=killed_with, killed_after_s=killed_after,
               sandbox_batches=bench.sandbox.client.batches())
    return run


# ------------------------------------------------------------------------------------------- the deployment

class Deployed:
    """The deployments of prefect.yaml on the benchmark's server, one process worker, and `hfdaily limits`."""

    def __init__(self, tmp: Path, server_url: str, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env | {"PREFECT_API_URL": server_url, "HFDAILY_PROJECT_DIR": str(ROOT)}
        tmp.mkdir(parents=True, exist_ok=True)
        self.worker: subprocess.Popen[bytes] | None = None
        self._cli("prefect", "work-pool", "create", "hfdaily", "--type", "process")
        self._cli("prefect", "--no-prompt", "deploy", "--all")
        self.limits = self._cli("flows.cli", "limits")

    def _cli(self, module: str, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done.stdout

    def start_worker(self, env: dict[str, str]) -> None:
        log = (self.tmp / "worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "hfdaily", "--type", "process"],
            cwd=self.tmp, env=self.env | env | {"PREFECT_WORKER_QUERY_SECONDS": "2"}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)  # its own session: the worker and its runs
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker.pid, signal.SIGKILL)
                self.worker.wait(5)
        self.worker = None

    def backfill(self, start: str, end: str, max_parallel: int, timeout: float = 7200.0) -> dict[str, Any]:
        """Trigger backfill/backfill with use_deployments and wait; the worker tree's peak RSS meanwhile."""
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        assert self.worker is not None
        out = subprocess.run(
            [sys.executable, "-m", "prefect", "deployment", "run", "backfill/backfill", "--param", f"start={start}",
             "--param", f"end={end}", "--param", f"max_parallel={max_parallel}", "--param", "use_deployments=true"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        run_id = next(line.split("UUID:")[1].strip() for line in out.stdout.splitlines() if "UUID:" in line)
        began, since = time.monotonic(), datetime.now(UTC)
        with TreeMemorySampler(self.worker.pid) as mem, \
                temporary_settings(updates={PREFECT_API_URL: self.env["PREFECT_API_URL"]}), \
                get_client(sync_client=True) as client:
            while True:
                run = client.read_flow_run(run_id)
                if run.state_type is not None and run.state_type.value in {"COMPLETED", "FAILED", "CRASHED",
                                                                           "CANCELLED"}:
                    break
                if time.monotonic() - began > timeout:
                    raise RuntimeError(f"backfill {start}..{end} still {run.state_name} after {timeout:g} s")
                time.sleep(2)
            wall_s = time.monotonic() - began
            members = peak_roles(mem.peak_tree, self.worker.pid, mem.peak_at, client)
            exits = exit_delays(client, since, skip=run_id)
        return {"state": run.state_name, "wall_s": wall_s, "peak_tree_rss_mb": mem.peak / 2**20,
                "peak_tree_processes": mem.peak_processes, "peak_members": members, "exit_s": exits}


def exit_delays(client: Any, since: datetime, skip: str) -> list[float]:
    """How long each flow-run process (but `skip`'s) lived on after its run was final: the time of its worker's
    report that it exited (tasks/run_exit.py) minus the run's end time, in seconds."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

    from tasks.run_exit import EXECUTED

    page = client.read_events(EventFilter(
        occurred=EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(hours=1)),
        event=EventNameFilter(name=[EXECUTED])), limit=50)
    events = list(page.events)
    while page.next_page:
        page = client.read_events_page(page.next_page)
        events += page.events
    out = []
    for event in events:
        ids = [r.id.removeprefix("prefect.flow-run.") for r in event.related if r.id.startswith("prefect.flow-run.")]
        if not ids or ids[0] == skip:
            continue
        run = client.read_flow_run(ids[0])
        if run.end_time is not None:
            out.append((event.occurred - run.end_time).total_seconds())
    return sorted(out)


def peak_roles(tree: list[Member], worker: int, at: float, client: Any) -> list[dict[str, Any]]:
    """The worker tree at its peak sample, one entry per flow-run process (its helpers' RSS folded in): the run's
    name, MB, and how long before the peak the server had already recorded the run final (None: not final yet,
    i.e. the process was still working rather than exiting)."""
    by_pid = {m.pid: m for m in tree}

    def owner(m: Member) -> Member | None:
        """The flow-run process m belongs to: the topmost with its run id (Pagefind inherits the engine's
        environment, the PDF workers get a clean one)."""
        while m.flow_run is None:
            if (m := by_pid.get(m.parent)) is None:  # type: ignore[assignment]
                return None
        while (up := by_pid.get(m.parent)) is not None and up.flow_run == m.flow_run:
            m = up
        return m

    groups: dict[int, dict[str, Any]] = {}
    for m in tree:
        top = owner(m) if m.pid != worker else None
        entry = groups.setdefault(top.pid if top else worker, {"role": "worker", "mb": 0.0, "own_mb": 0.0,
                                                               "helpers": 0, "flow_run": top and top.flow_run})
        entry["mb"] += m.mb
        if top is not None and m.pid != top.pid:
            entry["helpers"] += 1
        else:
            entry["own_mb"] += m.mb
    for entry in groups.values():
        if entry["flow_run"] is None:
            continue
        try:
            run = client.read_flow_run(entry["flow_run"])
        except Exception:
            continue
        entry["role"] = run.name
        end = run.end_time.timestamp() if run.end_time is not None and run.state and run.state.is_final() else None
        entry["final_before_s"] = None if end is None or end > at else at - end
    return sorted(groups.values(), key=lambda e: -e["mb"])


def peak_line(members: list[dict[str, Any]]) -> str:
    """`worker 190 · backfill-… 260 · daily-2026-05-01 310 (+2 helpers; final 1.2 s before) · …` (MB)."""
    parts = []
    for e in members:
        notes = [f"+{e['helpers']} helpers" if e["helpers"] else "",
                 f"final {e['final_before_s']:.1f} s before" if e.get("final_before_s") is not None else ""]
        extra = "; ".join(n for n in notes if n)
        parts.append(f"{e['role']} {e['mb']:.0f}" + (f" ({extra})" if extra else ""))
    return " · ".join(parts)


# ------------------------------------------------------------------------------------------------ measuring

def _dates(end: str, days: int) -> list[str]:
    last = date.fromisoformat(end)
    return [(last - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]


def measure(bench: Any, *, day: str, papers: int, backfill_papers: int, backfill_days: int, small_days: int,
            time_scale: float, max_parallel: int, deployed_papers: int, parts: tuple[str, ...],
            batch_days: int | None = None) -> dict[str, Any]:
    """Every scale measurement; `bench` is benchmarks.run.Bench (the sandbox, the server, child runs). The batch
    rows run over the online backfill's dates unless `batch_days` says otherwise."""
    batch_days = batch_days or backfill_days
    client = bench.sandbox.client
    res: dict[str, Any] = {"time_scale": time_scale, "limits": PROVIDER_LIMITS, "latency": LLM_LATENCY,
                           "fixed_latency": FIXED_LATENCY, "burst_s": BURST_S}
    knobs = budget_env(1.0) | {"HFDAILY_MAX_WORKERS": "16", "HFDAILY_PDF_CONCURRENCY": "4"}

    if "cold" in parts:
        bench.setup = lambda: arm(client, papers, 1.0)
        cold = bench.child("scale-cold", ["daily", "--date", day], knobs, bench.tmp / "scale-cold" / "data",
                           bench.tmp / "scale-cold" / "prefect")
        records = client.requests()
        dump(records, bench.tmp / "scale-cold-requests.json")
        cold.update(bound=run_bound(records, [day], papers), llm=llm_facts(records), load=load_average(),
                    cache_share=cache_share(records))
        res["cold"] = cold
        bench.setup = lambda: arm(client, papers, 1.0)
        warm = bench.child("scale-warm", ["daily", "--date", day], knobs, bench.tmp / "scale-cold" / "data",
                           bench.tmp / "scale-cold" / "prefect")
        warm["llm"] = llm_facts(client.requests())
        res["warm"] = warm

    if "backfill" in parts:
        scaled = budget_env(time_scale) | {"HFDAILY_MAX_WORKERS": "16", "HFDAILY_PDF_CONCURRENCY": "4"}
        for days in (small_days, backfill_days):
            name = f"scale-backfill-{days}"
            dates = _dates(day, days)
            bench.setup = lambda: arm(client, backfill_papers, time_scale)
            args = ["backfill", "--start", dates[0], "--end", dates[-1], "--max-parallel", str(max_parallel)]
            run = bench.child(name, args, scaled, bench.tmp / name / "data", bench.tmp / name / "prefect",
                              timeout=6 * 3600)
            records = client.requests()
            dump(records, bench.tmp / f"{name}-requests.json")
            run.update(bound=run_bound(records, dates, backfill_papers), llm=llm_facts(records),
                       load=load_average(), cache_share=cache_share(records),
                       days=days, max_parallel=max_parallel)
            res[f"backfill_{days}"] = run

    if "batch" in parts:
        dates = _dates(day, batch_days)
        same = res.get(f"backfill_{backfill_days}") if batch_days == backfill_days else None
        res.update(measure_batch(bench, dates, backfill_papers, max_parallel, online=same))

    if "deployed" in parts and bench.server is not None:
        home = bench.tmp / "deployed" / "home"
        # No limits here: only memory is measured, and the runs go as fast as the machine lets them.
        stack = Deployed(bench.tmp / "deployed", bench.server.url,
                         bench.child_env(bench.tmp / "deployed" / "data", home) | budget_env(1.0, factor=1000.0))
        res["deployed_limits"] = stack.limits
        try:
            for days in (small_days, backfill_days):
                arm(client, deployed_papers, 1.0, limits=False)
                dates = _dates(day, days)
                # A fresh data dir per run: the worker's runs and the backfill's plan read it.
                stack.start_worker({"HFDAILY_DATA_DIR": str(bench.tmp / f"deployed-{days}" / "data"),
                                    "HFDAILY_SITE_DIR": str(bench.tmp / f"deployed-{days}" / "site")})
                try:
                    run = stack.backfill(dates[0], dates[-1], max_parallel)
                finally:
                    stack.stop_worker()
                run.update(days=days, papers_per_day=deployed_papers, load=load_average(),
                           llm=llm_facts(client.requests()))
                res[f"deployed_{days}"] = run
        finally:
            stack.stop_worker()
    return res


# ------------------------------------------------------------------------------------------------- reporting

Row = tuple[str, str, str, "bool | None"]


def _met(value: float | None, target: float, higher: bool = False) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value >= target if higher else value <= target


def summary(res: dict[str, Any], small_days: int, backfill_days: int) -> dict[str, float]:
    nan = float("nan")
    cold, big, small = res.get("cold"), res.get(f"backfill_{backfill_days}"), res.get(f"backfill_{small_days}")
    cold_ratio = cold["beyond_startup_s"] / cold["bound"]["bound_s"] if cold else nan
    share = nan
    if big:
        share = big["bound"]["bound_s"] / (big["beyond_startup_s"] * res["time_scale"])
    growth = []
    for a, b in ((small, big), (res.get(f"deployed_{small_days}"), res.get(f"deployed_{backfill_days}"))):
        if a and b:
            growth.append(b["peak_tree_rss_mb"] / a["peak_tree_rss_mb"] - 1)
    runs = [r for r in (cold, small, big) if r]
    llm = sum(r["llm"]["llm_requests"] for r in runs)
    refused = sum(r["llm"]["refused_429"] for r in runs)
    batch, online, resume = res.get("batch"), res.get("batch_online"), res.get("batch_resume")
    cost_share = nan
    if batch and online and batch["usage"]["complete"] and online["usage"]["cost_usd"]:
        per = batch["usage"]["cost_usd"] / max(1, batch["usage"]["papers"])
        cost_share = per / (online["usage"]["cost_usd"] / max(1, online["usage"]["papers"]))
    dupes = float(resume["sandbox_batches"]["duplicates"]) if resume and resume["usage"]["complete"] else nan
    return {"cold_ratio": cold_ratio, "backfill_share": share, "rss_growth": max(growth) if growth else nan,
            "rate_429": refused / llm if llm else nan, "batch_cost_share": cost_share, "batch_resume_dupes": dupes}


def last_line(s: Mapping[str, float]) -> str:
    def f(x: float) -> str:
        return "nan" if math.isnan(x) else f"{x:.3f}"

    dupes = s.get("batch_resume_dupes", float("nan"))
    return (f"scale: cold_ratio={f(s['cold_ratio'])} backfill_share={f(s['backfill_share'])} "
            f"batch_cost_share={f(s.get('batch_cost_share', float('nan')))} "
            f"rss_growth={f(s['rss_growth'])} rate_429={f(s['rate_429'])} "
            f"batch_resume_dupes={'nan' if math.isnan(dupes) else int(dupes)}")


def rows(res: dict[str, Any], small_days: int, backfill_days: int) -> list[Row]:
    out: list[Row] = []
    s = summary(res, small_days, backfill_days)
    ts = res["time_scale"]
    if cold := res.get("cold"):
        b, llm = cold["bound"], cold["llm"]
        out.append((
            f"S1 · cold day: {cold['papers']} papers at tier-1 limits, real time",
            f"**{cold['beyond_startup_s']:.1f} s** beyond start-up ({cold['startup_s']:.1f} s start-up); bound "
            f"**{b['bound_s']:.1f} s** ({b['binding']}; limits {b['rate_s']:.1f} s, longest chain {b['chain_s']:.1f} s)"
            f" → **ratio {s['cold_ratio']:.2f}** (strict bound {b['strict_s']:.1f} s: ratio "
            f"{cold['beyond_startup_s'] / b['strict_s']:.2f}); {llm['llm_requests']} LLM requests "
            f"({', '.join(f'{p} {n}' for p, n in llm['by_provider'].items())}), {llm['refused_429']} answered 429 "
            f"({llm['rate_429']:.1%}); first Anthropic request {llm['first_anthropic_after_openai_s']:.1f} s after "
            f"the first OpenAI one; {len(cold['not_ok'])} steps not ok; load {cold['load'][0]:.1f}",
            f"≤ {TARGETS['cold_ratio']} × bound, 429 ≤ 2 %",
            _met(s["cold_ratio"], TARGETS["cold_ratio"]) and llm["rate_429"] <= TARGETS["rate_429"]
            and not cold["not_ok"],
        ))
    if warm := res.get("warm"):
        out.append((
            "S1 · warm re-run of the cold day",
            f"**{warm['beyond_startup_s']:.2f} s** beyond start-up; LLM requests {warm['llm']['llm_requests']}, "
            f"PDF requests {warm['stats']['requests'].get('pdf', 0)}",
            "≤ 2 s, 0 requests", warm["beyond_startup_s"] <= 2.0 and warm["llm"]["llm_requests"] == 0,
        ))
    for days in (small_days, backfill_days):
        if not (run := res.get(f"backfill_{days}")):
            continue
        b, llm = run["bound"], run["llm"]
        sim_h = run["beyond_startup_s"] * ts / 3600
        pph, bound_pph = run["papers"] / sim_h, run["papers"] / (b["bound_s"] / 3600)
        share = b["bound_s"] / (run["beyond_startup_s"] * ts)
        is_big = days == backfill_days
        out.append((
            f"S2 · online backfill of {days} dates, {run['papers']} papers (weekends are empty; max_parallel "
            f"{run['max_parallel']}, time scale {ts:g})",
            f"{run['papers']} papers in {run['beyond_startup_s']:.0f} s = {sim_h:.2f} simulated h → "
            f"**{pph:.0f} papers/simulated h**, bound {bound_pph:.0f} ({b['binding']}; {b['bound_s'] / 60:.1f} "
            f"simulated min) → **{share:.0%} of it** (of the strict bound: "
            f"{b['strict_s'] / (run['beyond_startup_s'] * ts):.0%}); {llm['llm_requests']} LLM requests, "
            f"{llm['refused_429']} answered 429 ({llm['rate_429']:.1%}); {len(run['failed'])} dates failed, "
            f"{run['not_ok']} steps not ok; "
            f"peak RSS **{run['peak_tree_rss_mb']:.0f} MB** over {run['peak_tree_processes']} processes; "
            f"load {run['load'][0]:.1f}",
            f"≥ {TARGETS['backfill_share']:.0%} of bound" if is_big else "info",
            _met(share, TARGETS["backfill_share"], higher=True) and not run["failed"] if is_big else None,
        ))
    small, big = res.get(f"backfill_{small_days}"), res.get(f"backfill_{backfill_days}")
    if small and big:
        g = big["peak_tree_rss_mb"] / small["peak_tree_rss_mb"] - 1
        out.append((f"S3 · peak RSS, in-process backfill: {small_days} vs {backfill_days} dates",
                    f"{small['peak_tree_rss_mb']:.0f} → {big['peak_tree_rss_mb']:.0f} MB: **{g:+.1%}**",
                    f"≤ +{TARGETS['rss_growth']:.0%}", g <= TARGETS["rss_growth"]))
    out += batch_rows(res, s)
    small, big = res.get(f"deployed_{small_days}"), res.get(f"deployed_{backfill_days}")
    if small and big:
        g = big["peak_tree_rss_mb"] / small["peak_tree_rss_mb"] - 1
        out.append((f"S3 · peak RSS, backfill as deployment runs ({big['papers_per_day']} papers a date, worker "
                    f"tree): {small_days} vs {backfill_days} dates",
                    f"{small['peak_tree_rss_mb']:.0f} → {big['peak_tree_rss_mb']:.0f} MB over up to "
                    f"{big['peak_tree_processes']} processes: **{g:+.1%}** ({small['state']}/{big['state']}, "
                    f"{big['wall_s']:.0f} s for {backfill_days} dates)",
                    f"≤ +{TARGETS['rss_growth']:.0%}", g <= TARGETS["rss_growth"] and big["state"] == "Completed"))
    for days in (small_days, backfill_days):
        if (run := res.get(f"deployed_{days}")) and (exits := run.get("exit_s")):
            out.append((f"S3 · deployment mode, {days} dates: a date run's process exits this long after its run is "
                        f"final (the worker's reports)",
                        f"median **{exits[len(exits) // 2]:.1f} s**, 90th percentile "
                        f"{exits[min(len(exits) - 1, int(len(exits) * 0.9))]:.1f} s, longest **{exits[-1]:.1f} s** "
                        f"over {len(exits)} runs", "info", None))
    for days in (small_days, backfill_days):
        if (run := res.get(f"deployed_{days}")) and run.get("peak_members"):
            flows = [e for e in run["peak_members"] if e["role"] != "worker"]
            final = sum(e.get("final_before_s") is not None for e in flows)
            out.append((f"S3 · the deployment mode's peak, {days} dates: MB per flow-run process (with its helpers)",
                        f"{run['peak_tree_rss_mb']:.0f} MB = {peak_line(run['peak_members'])}; "
                        f"{len(flows)} flow runs, {final} already final",
                        "info", None))
    return out


def batch_rows(res: dict[str, Any], s: Mapping[str, float]) -> list[Row]:
    out: list[Row] = []
    batch, online, resume = res.get("batch"), res.get("batch_online"), res.get("batch_resume")
    if batch and online:
        b, o = batch["usage"], online["usage"]
        n = len(res["batch_dates"])
        out.append((
            f"S4 · batch backfill, the same {n} dates and {o['papers']} papers as the online baseline "
            f"({online.get('baseline', 'own online run')}; batches: no limits)",
            f"online ${o['cost_usd']:.4f} for {o['papers']} papers (${o['cost_usd'] / max(1, o['papers']):.5f} a "
            f"paper, {o['calls']} calls); batch ${b['cost_usd']:.4f} for {b['papers']} papers "
            f"(${b['cost_usd'] / max(1, b['papers']):.5f} a paper, {b['calls']} calls, {b['batch_calls']} in "
            f"batches, {batch['rounds']} runs in {batch.get('rounds_wall_s', 0):.0f} s, complete: {b['complete']}) "
            f"→ **{s['batch_cost_share']:.0%} of online per paper**",
            "≤ 55 %, every paper complete", _met(s["batch_cost_share"], 0.55) and b["complete"],
        ))
    if resume:
        sb = resume["sandbox_batches"]
        out.append((
            "S4 · batch backfill SIGKILLed once calls were queued, then restarted",
            f"{'killed' if resume.get('killed', True) else 'NOT killed (it ended first)'} "
            f"{resume.get('killed_after_s', 0):.0f} s into its first run, with "
            f"{resume['killed_with_queued']} calls queued; {resume['rounds']} runs to complete "
            f"in {resume.get('rounds_wall_s', 0):.0f} s "
            f"({resume['usage']['complete']}); {sb['requests']} batch requests in {sb['batches']} batches, "
            f"**{sb['duplicates']} submitted twice**",
            "0 twice", sb["duplicates"] == 0 and resume["usage"]["complete"] and resume.get("killed", True),
        ))
    shares = [(label, run["cache_share"]) for label, run in (("online backfill", online), ("batch backfill", batch))
              if run and "cache_share" in run]
    if cold := res.get("cold"):
        shares.insert(0, ("cold day", cold.get("cache_share", float("nan"))))
    if shares:
        out.append((
            "S5 · prompt caching: input tokens billed as cached (sandbox: the real 1,024-token minimum)",
            "; ".join(f"{label} **{v:.1%}**" for label, v in shares), "info", None,
        ))
    return out


def dump(value: Any, path: Path) -> None:
    """Kept beside the run's log (see --keep): the request log a bound was computed from."""
    path.write_text(json.dumps(value, default=str))
