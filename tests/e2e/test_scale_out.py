"""Scaling out, as the README's "Scaling out" describes it: a Prefect server on PostgreSQL, process workers that
share nothing local but the checkout, and the data dir and the site in a bucket of an S3-compatible server.

The module starts, all on this machine: a private PostgreSQL cluster (Debian's package), `prefect server start`
on it, moto's S3 server, the sandbox, the `hfdaily` work pool with the deployments of prefect.yaml, and three
`prefect worker start` processes, each in its own empty working directory with its own PREFECT_HOME and
HFDAILY_DATA_DIR / HFDAILY_SITE_DIR = s3://… . Leases have a short ttl here (LEASE_TTL) so that a killed
worker's dates are taken over quickly.

1. A 10-date backfill with use_deployments=true; one worker that is running dates is SIGKILLed (with its flow
   run processes) half-way. Every date completes, no PDF or LLM call is paid twice beyond those in flight in the
   killed runs, and the site in the bucket lists all 10 dates.
2. Two runs of one date at once on two workers: the second waits for the first's lease and pays nothing.

Timings are printed (`pytest -s`).
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from flows.cli import sandbox_env
from sandbox.client import SandboxClient, spawn_sandbox
from tests.e2e.stack import (
    FINAL,
    PREFECT,
    ROOT,
    Postgres,
    clean_env,
    descendants,
    free_port,
    kill_tree,
    prefect,
    start,
    stop,
    stop_all,
    wait_healthy,
)
from tests.s3server import MotoServer

pytestmark = pytest.mark.e2e

START, DAYS = date(2025, 2, 3), 10
DATES = [(START + timedelta(days=i)).isoformat() for i in range(DAYS)]
WORKDAYS = [d for d in DATES if date.fromisoformat(d).weekday() < 5]  # HF (and the sandbox) list none on weekends
SAME_DATE = "2025-03-05"
PAPERS = 3
LLM = ("openai", "anthropic", "mistral")
WORKERS = ("a", "b", "c")
WORKER_LIMIT = 2  # flow runs at once per worker (`prefect worker start --limit`)
CAP, PDF_CAP = 2, 2  # HFDAILY_PROVIDER_CONCURRENCY, HFDAILY_PDF_CONCURRENCY of each run
LEASE_TTL = 5  # HFDAILY_LEASE_TTL (seconds; the default is 60)
RUN_TIMEOUT = 240.0


@dataclass
class Cluster:
    api: str
    env: dict[str, str]
    tmp: Path
    bucket: str
    s3: MotoServer
    sandbox: SandboxClient
    logs: dict[str, Path] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api}), get_client(sync_client=True) as client:
            yield client

    def start_worker(self, name: str, limit: int = WORKER_LIMIT) -> None:
        """A worker in its own empty folder (its cwd and PREFECT_HOME): nothing local is shared but the checkout."""
        home = self.tmp / f"worker-{name}"
        home.mkdir(exist_ok=True)
        env = self.env | {"PREFECT_HOME": str(home / "prefect-home"), "HFDAILY_PROJECT_DIR": str(ROOT),
                          "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2"}
        self.logs[name] = self.tmp / f"worker-{name}.log"
        self.workers[name] = start([*PREFECT, "worker", "start", "--pool", "hfdaily", "--type", "process",
                                    "--limit", str(limit), "--name", f"worker-{name}"], env, self.logs[name], cwd=home)

    def trigger(self, deployment: str, params: dict[str, Any]) -> UUID:
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api}):
            return run_deployment(deployment, parameters=params, timeout=0, as_subflow=False).id

    def run(self, run_id: UUID) -> Any:
        with self.client() as client:
            return client.read_flow_run(run_id)

    def wait(self, run_id: UUID, timeout: float = RUN_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run.state_type is not None and run.state_type.value in FINAL:
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"run {run.name} still {run.state_name} after {timeout:.0f} s\n{self.tail()}")
            time.sleep(0.5)

    def tail(self, lines: int = 40) -> str:
        out = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            out.append(f"--- {name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def read(self, key: str) -> bytes:
        return self.s3.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def day(self, d: str) -> dict[str, Any]:
        return json.loads(self.read(f"data/days/{d}.json"))

    def answers(self) -> int:
        return len(self.s3.keys(self.bucket, "data/cache/llm/"))

    def runs_of(self, worker: str) -> list[Any]:
        """Flow runs whose process is (or was) below this worker's process."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStateType

        pids = set(descendants(self.workers[worker].pid))
        with self.client() as client:
            running = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                state=dict(type=FlowRunFilterStateType(any_=["RUNNING"]))))
        return [r for r in running if r.infrastructure_pid and int(r.infrastructure_pid.rsplit(":", 1)[-1]) in pids]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    began, cpu_began = time.monotonic(), _cpu()
    tmp = tmp_path_factory.mktemp("scale")
    base = clean_env(tmp)
    timings: dict[str, float] = {}
    with contextlib.ExitStack() as cleanup:
        t0 = time.monotonic()
        s3 = MotoServer(tmp / "moto.log")
        cleanup.callback(s3.stop)
        pg = Postgres()
        cleanup.callback(pg.stop)
        timings["postgres + moto up"] = time.monotonic() - t0

        t0 = time.monotonic()
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        server_env = base | {"PREFECT_UI_API_URL": api, "PREFECT_API_DATABASE_CONNECTION_URL": pg.url}
        server = start([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], server_env,
                       tmp / "server.log")
        cleanup.callback(stop, server)
        sandbox = cleanup.enter_context(spawn_sandbox(papers_per_day=PAPERS))  # starts while the server does
        wait_healthy(api, server, tmp / "server.log")
        timings["prefect server on postgres up"] = time.monotonic() - t0

        bucket = s3.bucket()
        env = base | sandbox_env(sandbox.url, tmp / "unused") | s3.env | {
            "PREFECT_API_URL": api,
            "PREFECT_LOGGING_LEVEL": "INFO",
            "HFDAILY_DATA_DIR": f"s3://{bucket}/data",
            "HFDAILY_SITE_DIR": f"s3://{bucket}/site",
            "HFDAILY_LEASE_TTL": str(LEASE_TTL),
            "HFDAILY_PROVIDER_CONCURRENCY": str(CAP),
            "HFDAILY_PDF_CONCURRENCY": str(PDF_CAP),
            "HFDAILY_MAX_WORKERS": "8",
            "HFDAILY_RETRY_BASE_DELAY": "0.01",
            "HFDAILY_RETRY_MAX_WAIT": "0.2",
            "HFDAILY_HTTP_TIMEOUT": "10",
            "HFDAILY_LLM_TIMEOUT": "10",
        }
        cl = Cluster(api=api, env=env, tmp=tmp, bucket=bucket, s3=s3, sandbox=sandbox.client, timings=timings,
                     logs={"server": tmp / "server.log"})
        t0 = time.monotonic()
        prefect(env, "work-pool", "create", "hfdaily", "--type", "process")
        prefect(env | {"HFDAILY_PROJECT_DIR": str(ROOT)}, "--no-prompt", "deploy", "--all")
        with cl.client() as client:  # no scheduled run may race the test's runs
            daily = client.read_deployment_by_name("daily/daily")
            for schedule in daily.schedules:
                client.update_deployment_schedule(daily.id, schedule.id, active=False)
        timings["work-pool create + deploy --all"] = time.monotonic() - t0
        cleanup.callback(stop_all, cl.workers)
        yield cl
        t0 = time.monotonic()
    timings["shutdown"] = time.monotonic() - t0
    timings["module total"] = time.monotonic() - began
    # PostgreSQL daemonizes and is not counted; on an idle 2-core machine the wall time is at least half of this
    timings["CPU of the processes it reaped"] = _cpu() - cpu_began
    print("\nscale-out e2e timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def _cpu() -> float:
    """CPU seconds of this process and of every child it reaped (the workers reap their flow runs)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _local_files(folder: Path, since: float) -> list[str]:
    """Files written below `folder` after `since`, leaving out Prefect's own home, logs and Python's caches."""
    skip = ("prefect-home", ".venv", "__pycache__", ".git", ".pytest_cache", ".ruff_cache")
    out = []
    for path in folder.rglob("*"):
        if any(part in skip for part in path.parts) or path.suffix == ".log" or not path.is_file():
            continue
        if path.stat().st_mtime > since:
            out.append(str(path.relative_to(folder)))
    return out


def test_backfill_on_three_workers_survives_a_killed_worker(cluster: Cluster) -> None:
    t_start = time.time()
    cluster.sandbox.reset()
    cluster.sandbox.config(papers_per_day=PAPERS)
    cluster.sandbox.latency(llm=0.15, pdf=0.05)  # calls stay in flight long enough to be cut by the kill
    for name in WORKERS:
        cluster.start_worker(name)
    t0 = time.monotonic()
    parent = cluster.trigger("backfill/backfill", {"start": DATES[0], "end": DATES[-1], "use_deployments": True,
                                                   "max_parallel": 3})

    # Half-way: a date is done, and a worker that does not run the backfill itself is in the middle of dates
    # whose leases it holds. It dies with its flow run processes, as a machine would.
    killed: list[Any] = []
    while not killed:
        assert time.monotonic() - t0 < RUN_TIMEOUT, f"no worker ran a date\n{cluster.tail()}"
        done = sum(1 for d in DATES if cluster.s3.keys(cluster.bucket, f"data/days/{d}.json")
                   and any(r["finished_at"] for r in cluster.day(d)["runs"]))
        for name in WORKERS:
            mine = cluster.runs_of(name)
            if done < 1 or not mine or any(r.id == parent for r in mine):
                continue
            if all(_holds_lease(cluster, r) for r in mine):
                stats_before = cluster.sandbox.stats()
                kill_tree(cluster.workers[name])
                killed, victim = mine, name
                break
        time.sleep(0.3)
    t_kill = time.monotonic() - t0
    run = cluster.wait(parent)
    cluster.timings["backfill of 10 dates, one worker killed"] = time.monotonic() - t0
    assert run.state_name == "Completed", f"{run.state}\n{cluster.tail()}"

    # Every date completed: each day file has a finished run and, on working days, every step ok.
    for d in DATES:
        day = cluster.day(d)
        assert any(r["finished_at"] for r in day["runs"]), d
        if d not in WORKDAYS:
            assert day["papers"] == [], d
            continue
        assert len(day["papers"]) == PAPERS, d
        assert all(s["status"] == "ok" for p in day["papers"] for s in p["steps"].values()), d
        assert day["steps"]["zh_reading"]["status"] == "ok", d
    key = f"hfdaily-backfill-{DATES[0]}-{DATES[-1]}"
    with cluster.client() as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        table = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))[-1].data
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        for r in killed:  # the dead runs are marked Crashed; their dates ran again on a live worker
            assert client.read_flow_run(r.id).state_name == "Crashed", r.name
        cut = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in killed])))
        unfinished_pdfs = sum(1 for t in cut if t.name.startswith("pdf-") and t.state_name != "Completed")
    assert table.count("| ran |") == DAYS, table

    # Nothing paid twice beyond the work in flight in the killed runs: each had at most CAP calls per provider in
    # flight, and its PDFs whose task had not completed: PDF_CAP downloads, plus those downloaded and still being
    # read (the parser pool works outside the download slots; as the server saw the tasks, plus PDF_CAP a run for
    # tasks whose start had not reached it). Every LLM answer that was paid and accepted is one object in the bucket.
    stats = cluster.sandbox.stats()
    in_flight_llm = len(killed) * CAP * len(LLM)
    in_flight_pdf = unfinished_pdfs + len(killed) * PDF_CAP
    paid = sum(stats["requests"][p] for p in LLM)
    repaid_pdfs = sum(n - 1 for n in stats["pdf_ids"].values())
    assert len(stats["pdf_ids"]) == len(WORKDAYS) * PAPERS
    assert repaid_pdfs <= in_flight_pdf, (unfinished_pdfs, stats["pdf_ids"])
    assert cluster.answers() <= paid <= cluster.answers() + in_flight_llm, (paid, cluster.answers())

    # The site in the bucket lists every date with papers, and no page for the empty weekend.
    archive = cluster.read("site/archive.html").decode()
    assert all(f"d/{d}.html" in archive for d in WORKDAYS)
    assert not any(f"d/{d}.html" in archive for d in DATES if d not in WORKDAYS)
    assert len(cluster.s3.keys(cluster.bucket, "site/d/")) == len(WORKDAYS)
    feed = json.loads(cluster.read("site/feed.json"))
    fed = {re.search(r"d/(\d{4}-\d{2}-\d{2})", item["url"]).group(1) for item in feed["items"]}
    assert fed >= set(WORKDAYS[-5:]) and not fed & (set(DATES) - set(WORKDAYS))

    # No run left anything it needs on local disk: not in the workers' folders, nor in the shared checkout the
    # runs work in (where a local data dir or site would land, or a folder named `s3:`).
    for name in WORKERS:
        assert _local_files(cluster.tmp / f"worker-{name}", t_start) == [], name
    for folder in ("data", "site", "s3:"):
        assert not (ROOT / folder).exists() or _local_files(ROOT / folder, t_start) == [], folder
    print(f"\nbackfill: killed worker {victim} at {t_kill:.1f} s with {len(killed)} runs "
          f"({', '.join(r.name for r in killed)}); sandbox before the kill: "
          f"{sum(stats_before['requests'][p] for p in LLM)} LLM calls; in the end {paid} LLM calls for "
          f"{cluster.answers()} stored answers (bound +{in_flight_llm}), {repaid_pdfs} PDFs downloaded twice "
          f"(bound {in_flight_pdf})")


def _holds_lease(cluster: Cluster, run: Any) -> bool:
    from tasks.lease import LeaseRecord

    date_param = run.parameters.get("date")
    try:
        record = LeaseRecord.model_validate_json(cluster.read(f"data/leases/{date_param}.json"))
    except Exception:
        return False
    return record.run == str(run.id) and not record.released


def test_two_workers_on_one_date_at_once(cluster: Cluster) -> None:
    """Two runs of one date, each on its own worker: the second waits for the first's lease, then finds every
    step done and pays for nothing."""
    for name in [n for n in cluster.workers if cluster.workers[n].poll() is None]:
        stop(cluster.workers.pop(name))
    cluster.sandbox.reset()
    cluster.sandbox.config(papers_per_day=PAPERS)
    cluster.sandbox.latency(llm=0.15, pdf=0.05)
    cluster.start_worker("d", limit=1)
    cluster.start_worker("e", limit=1)
    answers_before = cluster.answers()
    t0 = time.monotonic()
    first = cluster.trigger("daily/daily", {"date": SAME_DATE})
    second = cluster.trigger("daily/daily", {"date": SAME_DATE})
    runs = [cluster.wait(first), cluster.wait(second)]
    cluster.timings["two runs of one date on two workers"] = time.monotonic() - t0
    assert [r.state_name for r in runs] == ["Completed", "Completed"], cluster.tail()
    took = {n: [r.name for r in runs if f"flow-run/{r.id}" in cluster.logs[n].read_text(errors="replace")]
            for n in ("d", "e")}
    assert sorted(len(v) for v in took.values()) == [1, 1], took  # each worker ran one of them

    day = cluster.day(SAME_DATE)
    early, late = sorted(day["runs"], key=lambda r: r["finished_at"])
    assert late["started_at"] < early["finished_at"]  # they overlapped; the later one waited for the lease
    assert (early["new"], late["new"]) == (PAPERS, 0) and late["usage"]["calls"] == 0
    stats = cluster.sandbox.stats()
    assert Counter(stats["pdf_ids"]) == Counter({p["arxiv_id"]: 1 for p in day["papers"]})
    paid = sum(stats["requests"][p] for p in LLM)
    assert paid == cluster.answers() - answers_before == day["usage"]["calls"]  # no call made twice
    waited = "\n".join(cluster.logs[n].read_text(errors="replace") for n in ("d", "e"))
    assert f"waiting for a run of {SAME_DATE} to finish" in waited
