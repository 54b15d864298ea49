"""hfdaily on a real Prefect server: deploy from prefect.yaml, a process worker, runs triggered like the UI does.

One module-wide stack (started once, torn down in reverse): `prefect server start` on a free port with a
temporary PREFECT_HOME (SQLite), the sandbox, `prefect work-pool create`, `prefect --no-prompt deploy --all`
from the repository root and `prefect worker start`. Every subprocess gets the sandbox's URLs and fast
retries. The daily run and the in-process backfill are triggered together, the deployment-mode backfill
as soon as the daily run is done, so the waits overlap. The tests look at the results only through the
Prefect API and the day files. Timings are printed (`pytest -s`) at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests

from flows.cli import sandbox_env
from sandbox.client import spawn_sandbox

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DATE = "2025-01-23"
BACKFILL = ("2025-01-20", "2025-01-22")
PAPERS = 5
LLM_STEPS = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh")
RUN_TIMEOUT = 180.0
PREFECT = [sys.executable, "-m", "prefect"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Stack:
    api: str
    env: dict[str, str]
    tmp: Path
    logs: dict[str, Path]
    runs: dict[str, UUID] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    triggered_at: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    limits_output: str = ""

    @property
    def data(self) -> Path:
        return self.tmp / "out" / "data"

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.api}), get_client(sync_client=True) as client:
            yield client

    def prefect(self, *args: str, timeout: float = 60) -> str:
        """A `prefect ...` command from the repository root; fails the test with its output."""
        done = subprocess.run([*PREFECT, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def hfdaily(self, *args: str, timeout: float = 60) -> str:
        """An `hfdaily ...` command from the repository root; fails the test with its output."""
        done = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"hfdaily {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def trigger(self, *runs: tuple[str, dict[str, Any]]) -> list[UUID]:
        """`prefect deployment run NAME --param k=v ...` (what a custom run from the UI does), all at once."""
        procs = []
        for deployment, params in runs:
            args = [*PREFECT, "deployment", "run", deployment]
            for key, value in params.items():
                args += ["--param", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
            procs.append(subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        ids = []
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0, f"{' '.join(proc.args)} exited {proc.returncode}:\n{out}"
            line = next(line for line in out.splitlines() if "UUID:" in line)
            ids.append(UUID(line.split("UUID:")[1].strip()))
        return ids

    def wait(self, run_id: UUID, timeout: float = RUN_TIMEOUT) -> Any:
        """The flow run once it is final (Completed, Failed …); fails with the worker's log on timeout."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                run = client.read_flow_run(run_id)
                if run.state_type is not None and run.state_type.value in FINAL:
                    return run
                if time.monotonic() > deadline:
                    pytest.fail(f"run {run.name} still {run.state_name} after {timeout:.0f} s\n{self.tail('worker')}")
                time.sleep(0.5)

    def tail(self, name: str, lines: int = 60) -> str:
        path = self.logs[name]
        text = path.read_text(errors="replace").splitlines() if path.exists() else []
        return f"--- {name} log ---\n" + "\n".join(text[-lines:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """A long-running child in its own process group (so stopping it stops what it started)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError):  # anything the child left behind in its group
        os.killpg(proc.pid, signal.SIGKILL)


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        _stop(proc)


def _wait_healthy(api: str, server: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{api}/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"prefect server did not come up: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    began = time.monotonic()
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HFDAILY_"))}
    base |= {"PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
             "PYTHONUNBUFFERED": "1"}
    logs = {name: tmp / f"{name}.log" for name in ("server", "worker")}
    timings: dict[str, float] = {}
    with contextlib.ExitStack() as cleanup:
        t0 = time.monotonic()
        server_env = base | {"PREFECT_UI_API_URL": api}
        server = _start([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], server_env,
                        logs["server"])
        cleanup.callback(_stop, server)
        sandbox = cleanup.enter_context(spawn_sandbox(papers_per_day=PAPERS))  # starts while the server does
        _wait_healthy(api, server, logs["server"])
        timings["server + sandbox up"] = time.monotonic() - t0

        env = base | sandbox_env(sandbox.url, tmp / "out") | {
            "PREFECT_API_URL": api,
            "PREFECT_LOGGING_LEVEL": "INFO",
            "HFDAILY_RETRY_BASE_DELAY": "0.01",
            "HFDAILY_RETRY_MAX_WAIT": "0.2",
            "HFDAILY_HTTP_TIMEOUT": "10",
            "HFDAILY_LLM_TIMEOUT": "10",
        }
        st = Stack(api=api, env=env, tmp=tmp, logs=logs, timings=timings)

        t0 = time.monotonic()
        st.prefect("work-pool", "create", "hfdaily", "--type", "process")
        # Deployed without HFDAILY_PROJECT_DIR: the pull step keeps the placeholder and the worker fills it in.
        st.prefect("--no-prompt", "deploy", "--all")
        st.limits_output = st.hfdaily("limits")  # the deploy step that makes the shared LLM budgets
        timings["work-pool create + deploy --all + hfdaily limits"] = time.monotonic() - t0
        _pause_daily_schedule(st)

        worker_env = env | {"HFDAILY_PROJECT_DIR": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "1",
                            "PREFECT_WORKER_PREFETCH_SECONDS": "5"}
        cleanup.callback(_stop_all, st.procs)  # the worker, or `hfdaily serve` once a test swapped it in
        st.procs["worker"] = _start([*PREFECT, "worker", "start", "--pool", "hfdaily", "--type", "process"],
                                    worker_env, logs["worker"], cwd=tmp)
        st.triggered_at = time.monotonic()
        st.runs["daily"], st.runs["backfill"] = st.trigger(
            ("daily/daily", {"date": DATE}),
            ("backfill/backfill", {"start": BACKFILL[0], "end": BACKFILL[1], "max_parallel": 2}),
        )
        yield st
        t0 = time.monotonic()
    timings["shutdown"] = time.monotonic() - t0
    timings["module total"] = time.monotonic() - began
    print("\ne2e timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def _pause_daily_schedule(st: Stack) -> None:
    """Check the cron of daily/daily, then switch it off so no scheduled run races the test's runs."""
    with st.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
        assert [(s.schedule.cron, s.schedule.timezone) for s in daily.schedules] == [("0 */2 * * *", "UTC")]
        assert daily.work_pool_name == "hfdaily"
        assert daily.pull_steps == [{"prefect.deployments.steps.set_working_directory":
                                     {"directory": "{{ $HFDAILY_PROJECT_DIR }}"}}]
        for schedule in daily.schedules:
            client.update_deployment_schedule(daily.id, schedule.id, active=False)


def _artifacts(st: Stack, keys: list[str]) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with st.client() as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
    latest: dict[str, Any] = {}
    for a in sorted(found, key=lambda a: a.created):
        latest[a.key] = a
    return latest


def _children(st: Stack, parent: UUID) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with st.client() as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])))


def _day(st: Stack, date: str) -> dict[str, Any]:
    return json.loads((st.data / "days" / f"{date}.json").read_text())


def test_daily_deployment_run_names_tasks_and_artifacts(stack: Stack) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    run = stack.wait(stack.runs["daily"])
    stack.timings["daily run (trigger to final)"] = time.monotonic() - stack.triggered_at
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"
    assert run.name == f"daily-{DATE}"

    ids = [p["arxiv_id"] for p in _day(stack, DATE)["papers"]]
    assert len(ids) == PAPERS
    expected = {f"feed-{DATE}", f"zh_reading-{DATE}"}
    expected |= {f"{step}-{i}" for i in ids for step in ("pdf", *LLM_STEPS)}
    with stack.client() as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    names = sorted(t.name for t in tasks)
    assert len(names) == len(expected) == 2 + PAPERS * 6
    assert set(names) == expected
    assert all(t.state_name == "Completed" for t in tasks), [(t.name, t.state_name) for t in tasks]

    keys = [f"hfdaily-day-{DATE}", f"hfdaily-day-{DATE}-papers", f"hfdaily-day-{DATE}-page",
            f"hfdaily-day-{DATE}-progress"]
    arts = _artifacts(stack, keys)
    assert sorted(arts) == sorted(keys)
    assert {a.flow_run_id for a in arts.values()} == {run.id}
    summary = arts[f"hfdaily-day-{DATE}"]
    assert summary.type == "markdown" and summary.data.startswith(f"# hfdaily {DATE}")
    assert "All steps finished." in summary.data
    table = arts[f"hfdaily-day-{DATE}-papers"]
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert table.type == "table" and sorted(r["arxiv_id"] for r in rows) == sorted(ids)
    assert float(arts[f"hfdaily-day-{DATE}-progress"].data) == 100.0
    assert f"d/{DATE}.html" in arts[f"hfdaily-day-{DATE}-page"].data
    print(f"\nsummary artifact of {run.name}:\n{summary.data}")

    # The run's last lines reach the API in the log handler's next batch, after the run is final.
    done_line = f"{DATE}: done - {PAPERS} papers"
    deadline = time.monotonic() + 15
    while True:
        with stack.client() as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200)
        text = "\n".join(log.message for log in logs)
        if done_line in text or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert done_line in text and len(logs) < 200  # all of them, for the secrets check below
    assert any(log.message.startswith(done_line) and log.level == 20 and log.task_run_id is None for log in logs)
    for secret in ("sandbox-openai-key", "sandbox-anthropic-key", "sandbox-mistral-key"):
        assert secret not in text


def test_limits_are_created_once_and_the_runs_share_them(stack: Stack) -> None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    created = [line for line in stack.limits_output.splitlines() if ": created - " in line]
    assert len(created) == 7 and any(line.startswith("hfdaily-anthropic-rpm: created - 50 requests a minute")
                                     for line in created), stack.limits_output
    again = stack.hfdaily("limits")
    assert again.count(": unchanged - ") == 7, again
    with stack.client() as client:
        rpm = client.read_global_concurrency_limit_by_name("hfdaily-openai-rpm")
    assert rpm.active and rpm.slot_decay_per_second == pytest.approx(500 / 60 * 1000)

    run = stack.wait(stack.runs["daily"])
    with stack.client() as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200)
    assert any("shared through the Prefect server" in log.message for log in logs), [log.message for log in logs]


def test_backfill_as_deployment_runs_skips_complete_dates(stack: Stack) -> None:
    # Triggered once the daily run is done (so its date is complete), while the in-process backfill still runs.
    stack.wait(stack.runs["daily"])
    t0 = time.monotonic()
    [parent] = stack.trigger(("backfill/backfill", {"start": DATE, "end": "2025-01-24", "use_deployments": True}))
    run = stack.wait(parent)
    stack.timings["backfill via deployments"] = time.monotonic() - t0
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"

    with stack.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
    children = _children(stack, run.id)
    assert [(c.name, c.state_name) for c in children] == [("daily-2025-01-24", "Completed")]
    assert children[0].deployment_id == daily.id  # a deployment run any worker could have taken
    assert len(_day(stack, "2025-01-24")["papers"]) == PAPERS

    key = f"hfdaily-backfill-{DATE}-2025-01-24"
    table = _artifacts(stack, [key])[key].data
    assert table.count("| skipped (complete) |") == 1 and table.count("| ran |") == 1
    assert "as daily/daily deployment runs" in table


def test_backfill_in_process_runs_one_child_per_date(stack: Stack) -> None:
    run = stack.wait(stack.runs["backfill"])
    stack.timings["backfill run (trigger to final)"] = time.monotonic() - stack.triggered_at
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"
    assert run.name == f"backfill-{BACKFILL[0]}-to-{BACKFILL[1]}"

    dates = ["2025-01-20", "2025-01-21", "2025-01-22"]
    children = _children(stack, run.id)
    assert sorted(c.name for c in children) == [f"daily-{d}" for d in dates]
    assert all(c.state_name == "Completed" and c.deployment_id is None for c in children)
    for d in dates:
        day = _day(stack, d)
        assert len(day["papers"]) == PAPERS and day["runs"][-1]["flow_run_id"] in {str(c.id) for c in children}

    key = f"hfdaily-backfill-{BACKFILL[0]}-{BACKFILL[1]}"
    table = _artifacts(stack, [key])[key].data
    assert table.count("| ran |") == 3 and "in process" in table
    assert all(f"[daily-{d}](" in table for d in dates)


def test_hfdaily_serve_runs_the_same_deployments(stack: Stack) -> None:
    """`hfdaily serve` instead of a worker: it takes over the deployments of prefect.yaml and runs them."""
    stack.wait(stack.runs["daily"])  # the site needs a day to render
    _stop(stack.procs.pop("worker"))
    t0 = time.monotonic()
    log = stack.tmp / "serve.log"
    stack.logs["serve"] = log
    stack.procs["serve"] = _start([sys.executable, "-m", "flows.cli", "serve"],
                                  stack.env | {"PREFECT_RUNNER_POLL_FREQUENCY": "1"}, log)
    [run_id] = stack.trigger(("rebuild-site/rebuild-site", {}))
    run = stack.wait(run_id, timeout=60)
    stack.timings["hfdaily serve + rebuild-site"] = time.monotonic() - t0
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('serve')}"
    assert (stack.tmp / "out" / "site" / "index.html").exists()
    with stack.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
        assert daily.entrypoint == "flows.daily.daily_digest"  # now served from the `hfdaily serve` process
        assert [(s.schedule.cron, s.schedule.timezone) for s in daily.schedules] == [("0 */2 * * *", "UTC")]
    out = log.read_text()
    assert "LLM keys: openai from env, anthropic from env, mistral from env" in out
    assert "sandbox-openai-key" not in out
