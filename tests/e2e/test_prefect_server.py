"""hfdaily on a real Prefect server: deploy from prefect.yaml, a process worker, runs triggered like the UI does.

One module-wide stack (started once, torn down in reverse): `prefect server start` on a free port with a
temporary PREFECT_HOME (SQLite), the sandbox, `prefect work-pool create`, `prefect --no-prompt deploy --all`
from the repository root, `hfdaily alerts` pointed at a webhook receiver in this process, and `prefect worker
start`. Every subprocess gets the sandbox's URLs and fast retries. The daily run, the in-process backfill
and the runs made to go wrong (for the alerts) are triggered together, the deployment-mode backfill as soon
as the daily run is done, so the waits overlap. The tests look at the results only through the Prefect API,
the day files, the alerts received and (in Chromium) Prefect's own run form. Timings are printed (`pytest -s`)
at the end of the module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests

from flows.cli import sandbox_env
from sandbox.client import SandboxClient, spawn_sandbox

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DATE = "2025-01-23"
BACKFILL = ("2025-01-20", "2025-01-22")
PAPERS = 5
LLM_STEPS = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh")
RUN_TIMEOUT = 180.0
PREFECT = [sys.executable, "-m", "prefect"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
SITE_URL = "https://digest.example"
# Runs made to go wrong, one per alert: each must bring exactly one alert, every other run none.
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAIL_DATE = "2025-01-27"  # the HF feed answers 400: the daily run fails at once
ERROR_DATE = "2025-01-21"  # a date of the in-process backfill; one paper's PDF is missing: a step in error
BUDGET_DATE = "2025-01-28"  # a daily run with max_cost=0 stops at its budget before any LLM call
BAD_RANGE = ("2025-01-22", "2025-01-20")  # a backfill whose end is before its start
BAD_ENV_DATE = "2025-01-29"  # a daily run whose process gets HFDAILY_MAX_COST=-1 from its job variables
REVIEW = ["https://arxiv.org/abs/2501.04001v2", "2412.12345"]  # papers reviewed on request, as the run form takes them


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
    alerts: AlertReceiver | None = None
    broken_pdf: str = ""
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

    def create_run(self, deployment: str, params: dict[str, Any], env: dict[str, str] | None = None) -> UUID:
        """A run created through the API, as the UI's run form does (POST /deployments/{id}/create_flow_run);
        `env` is added to the environment the worker gives the run's process (a job variable)."""
        with self.client() as client:
            found = client.read_deployment_by_name(deployment)
            job = {"env": env} if env else None
            return client.create_flow_run_from_deployment(found.id, parameters=params, job_variables=job).id

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


class AlertReceiver:
    """A local webhook endpoint (a thread of this process) that records every alert the server posts to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.received.append({"at": time.time(), **json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """The alerts once at least `count` arrived (or what arrived by the deadline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    break
            time.sleep(0.2)
        with self._lock:
            return list(self.received)


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
            "HFDAILY_SITE_URL": SITE_URL,
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

        t0 = time.monotonic()
        st.alerts = cleanup.enter_context(AlertReceiver())
        done = subprocess.run([sys.executable, "-m", "flows.cli", "alerts", "--webhook-url", st.alerts.url],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"hfdaily alerts exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        timings["hfdaily alerts"] = time.monotonic() - t0
        st.broken_pdf = _plant_faults(sandbox.url)

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
        st.runs["fail"] = st.create_run("daily/daily", {"date": FAIL_DATE})
        st.runs["budget"] = st.create_run("daily/daily", {"date": BUDGET_DATE, "max_cost": 0})
        st.runs["bad_range"] = st.create_run("backfill/backfill", {"start": BAD_RANGE[0], "end": BAD_RANGE[1]})
        st.runs["bad_env"] = st.create_run("daily/daily", {"date": BAD_ENV_DATE}, env={"HFDAILY_MAX_COST": "-1"})
        st.runs["review"] = st.create_run("review/review", {"papers": REVIEW})
        yield st
        t0 = time.monotonic()
    timings["shutdown"] = time.monotonic() - t0
    timings["module total"] = time.monotonic() - began
    print("\ne2e timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def _plant_faults(sandbox_url: str) -> str:
    """The sandbox faults behind FAIL_DATE and ERROR_DATE; returns the paper whose PDF is missing."""
    feed = requests.get(f"{sandbox_url}/api/daily_papers", params={"date": ERROR_DATE}, timeout=5).json()
    broken = feed[0]["paper"]["id"]
    client = SandboxClient(sandbox_url)
    client.faults([{"target": "hf", "status": 400, "match": f"date={FAIL_DATE}"},
                   {"target": "pdf", "status": 404, "match": broken}])
    client.close()
    return broken


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


def _task_runs(st: Stack, run_id: UUID, timeout: float = 20.0) -> list[Any]:
    """The flow run's task runs, once all read Completed or Cached (or as they are at the deadline). Task run
    states reach the API as events, recorded a moment after they happen: on a busy machine the flow run can be
    final while some of its tasks still read Running."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    while True:
        with st.client() as client:
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        if all(t.state_name in ("Completed", "Cached") for t in tasks) or time.monotonic() > deadline:
            return tasks
        time.sleep(0.5)


def _day(st: Stack, date: str) -> dict[str, Any]:
    return json.loads((st.data / "days" / f"{date}.json").read_text())


def test_daily_deployment_run_names_tasks_and_artifacts(stack: Stack) -> None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    run = stack.wait(stack.runs["daily"])
    stack.timings["daily run (trigger to final)"] = time.monotonic() - stack.triggered_at
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"
    assert run.name == f"daily-{DATE}"

    ids = [p["arxiv_id"] for p in _day(stack, DATE)["papers"]]
    assert len(ids) == PAPERS
    expected = {f"feed-{DATE}", f"zh_reading-{DATE}"}
    expected |= {f"{step}-{i}" for i in ids for step in ("pdf", "image", *LLM_STEPS)}
    expected |= {f"render-{DATE}", "render-shared"}  # the pages: Completed, or Cached if nothing they read changed
    tasks = _task_runs(stack, run.id)
    # The neighbouring dates' pages are rendered too when their prev/next links may change (a backfill runs beside).
    names = sorted(t.name for t in tasks if not (t.name.startswith("render-2") and t.name != f"render-{DATE}"))
    assert len(names) == len(expected) == 4 + PAPERS * 7, sorted(set(names) ^ expected) or names
    assert set(names) == expected
    assert all(t.state_name == "Completed" or (t.name.startswith("render-") and t.state_name == "Cached")
               for t in tasks), [(t.name, t.state_name) for t in tasks]

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


def test_the_run_forms_are_dates_with_bounds_and_the_server_refuses_bad_values(stack: Stack) -> None:
    """The parameter schema as the UI gets it from the server, and what the server does with bad values."""
    from prefect.exceptions import PrefectHTTPStatusError

    with stack.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
        backfill = client.read_deployment_by_name("backfill/backfill")
    forms = {"daily": daily.parameter_openapi_schema, "backfill": backfill.parameter_openapi_schema}
    print("\nparameter_openapi_schema (descriptions cut):\n" + json.dumps(
        {name: {k: {**v, "description": v["description"][:40] + "…"} for k, v in form["properties"].items()}
         for name, form in forms.items()}, indent=1))
    assert daily.enforce_parameter_schema and backfill.enforce_parameter_schema
    for name, fields in (("daily", ["date"]), ("backfill", ["start", "end"])):
        for field_ in fields:
            assert forms[name]["properties"][field_]["format"] == "date", (name, field_)
        assert all(len(p["description"]) > 30 and "anyOf" not in p for p in forms[name]["properties"].values())
        assert forms[name]["properties"]["max_cost"]["minimum"] == 0
    assert forms["backfill"]["properties"]["max_parallel"]["minimum"] == 1
    assert forms["backfill"]["required"] == ["start"] and "required" not in forms["daily"]

    refused = [(daily.id, {"date": "2025-13-45"}), (daily.id, {"date": "23.01.2025"}),
               (daily.id, {"date": DATE, "max_cost": -1}),
               (backfill.id, {"start": "2025-01-20", "max_parallel": 0}), (backfill.id, {"end": "2025-01-20"})]
    with stack.client() as client:
        for deployment_id, params in refused:
            with pytest.raises(PrefectHTTPStatusError) as err:
                client.create_flow_run_from_deployment(deployment_id, parameters=params)
            assert err.value.response.status_code == 409, (params, err.value.response.text)
    cli = subprocess.run([*PREFECT, "deployment", "run", "daily/daily", "--param", "date=2025-13-45"], cwd=ROOT,
                         env=stack.env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "Validation failed for field 'date'" in " ".join(cli.stdout.split()), cli.stdout
    # The run form asks the server to check its values as the user types; a non-date is an error there too.
    answer = requests.post(f"{stack.api}/ui/schemas/validate", timeout=10,
                           json={"schema": forms["daily"], "values": {"date": "2025-13-45"}}).json()
    assert answer["valid"] is False and answer["errors"][0]["property"] == "date"
    assert requests.post(f"{stack.api}/ui/schemas/validate", timeout=10,
                         json={"schema": forms["daily"], "values": {"date": DATE}}).json()["valid"] is True


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


LINGER_S = 8.0  # how long each date's process lives on after its run is final, in the test below

# Loaded by the interpreter at start (sitecustomize), in flow-run processes only: an exit handler that runs after
# Prefect's own (handlers run last-registered first), like a process still shipping its last logs to a busy API.
_LINGER = f"""
import atexit, os, time
if os.environ.get("PREFECT__FLOW_RUN_ID"):
    atexit.register(time.sleep, {LINGER_S})
"""


def test_a_deployment_backfill_starts_a_date_once_the_previous_process_exited(stack: Stack) -> None:
    # One at a time over two (empty, quick) weekend dates whose processes linger after their final state: the
    # second run is created only after the worker reported that the first one's process exited.
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventRelatedFilter

    from tasks.run_exit import EXECUTED

    hook = stack.tmp / "linger"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_LINGER)
    path = os.pathsep.join(p for p in (str(hook), stack.env.get("PYTHONPATH", "")) if p)
    with stack.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
        before = daily.job_variables
        env = {**(before or {}).get("env", {}), "PYTHONPATH": path}
        client.update_deployment(daily.id, DeploymentUpdate(job_variables={**(before or {}), "env": env}))
    try:
        [parent] = stack.trigger(("backfill/backfill", {"start": "2025-01-25", "end": "2025-01-26",
                                                        "max_parallel": 1, "use_deployments": True}))
        run = stack.wait(parent, timeout=2 * RUN_TIMEOUT)  # queued behind the module's other runs
    finally:
        with stack.client() as client:
            client.update_deployment(daily.id, DeploymentUpdate(job_variables=before))
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"
    first, second = sorted(_children(stack, run.id), key=lambda c: c.created)
    assert (first.name, second.name) == ("daily-2025-01-25", "daily-2025-01-26")
    with stack.client() as client:
        found = client.read_events(EventFilter(
            occurred=EventOccurredFilter(since=first.created, until=second.created + timedelta(hours=1)),
            event=EventNameFilter(name=[EXECUTED]), related=EventRelatedFilter(id=[f"prefect.flow-run.{first.id}"])),
            limit=1)
    [exited] = found.events
    lingered = (exited.occurred - first.end_time).total_seconds()
    assert lingered >= LINGER_S - 1, f"the process exited {lingered:.1f} s after its final state: no linger"
    assert exited.occurred < second.created, (first.end_time, exited.occurred, second.created)


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
    assert f"| {ERROR_DATE} | ran | {PAPERS} | {PAPERS} | 1 |" in table  # its missing PDF: one paper with errors


def test_one_alert_per_run_gone_wrong_and_none_for_clean_runs(stack: Stack) -> None:
    """`hfdaily alerts` automations on the real server, delivered by a Custom Webhook block to a local receiver."""
    assert stack.alerts is not None
    runs = {key: stack.wait(stack.runs[key])
            for key in ("fail", "budget", "bad_range", "bad_env", "daily", "backfill")}
    fail, budget, bad_range = runs["fail"], runs["budget"], runs["bad_range"]
    assert (fail.name, fail.state_name) == (f"daily-{FAIL_DATE}", "Failed")
    assert "HTTP 400" in fail.state.message and "\n" not in fail.state.message
    assert (budget.name, budget.state_name) == (f"daily-{BUDGET_DATE}", "Completed")
    assert (bad_range.name, bad_range.state_name) == (f"backfill-{BAD_RANGE[0]}-to-{BAD_RANGE[1]}", "Failed")
    assert f"end {BAD_RANGE[1]} is before start {BAD_RANGE[0]}" in bad_range.state.message
    assert "\n" not in bad_range.state.message and _children(stack, bad_range.id) == []  # checked first thing
    [error_child] = [c for c in _children(stack, runs["backfill"].id) if c.name == f"daily-{ERROR_DATE}"]

    expected = {
        f"hfdaily: daily-{FAIL_DATE} failed",
        f"hfdaily: backfill-{BAD_RANGE[0]}-to-{BAD_RANGE[1]} failed",
        f"hfdaily {ERROR_DATE}: 1 step(s) in error",
        f"hfdaily {BUDGET_DATE}: stopped at its budget",
        f"hfdaily: daily-{BAD_ENV_DATE} failed",
    }
    stack.alerts.wait_for(len(expected), timeout=60)
    time.sleep(3)  # a second alert for the same run would come within the same second or two
    by_subject = {a["subject"]: a["body"] for a in stack.alerts.received}
    assert sorted(a["subject"] for a in stack.alerts.received) == sorted(expected), stack.alerts.received
    arrived = {a["subject"]: a["at"] for a in stack.alerts.received}
    ends = [(fail, "daily-" + FAIL_DATE), (budget, BUDGET_DATE), (bad_range, "backfill-"), (error_child, ERROR_DATE)]
    stack.timings["slowest alert (run end to webhook)"] = max(
        arrived[next(s for s in arrived if key in s)] - run.end_time.timestamp() for run, key in ends)
    print("\nalerts received:\n" + "\n---\n".join(f"{a['subject']}\n{a['body']}" for a in stack.alerts.received))

    ui = stack.api.removesuffix("/api")
    failed = by_subject[f"hfdaily: daily-{FAIL_DATE} failed"].splitlines()
    assert f"Date: {FAIL_DATE}" in failed and any("HTTP 400" in line for line in failed)
    assert f"Run: {ui}/runs/flow-run/{fail.id}" in failed and f"Page: {SITE_URL}/d/{FAIL_DATE}.html" in failed
    steps = by_subject[f"hfdaily {ERROR_DATE}: 1 step(s) in error"].splitlines()
    assert steps[0].startswith(f"{ERROR_DATE} ended with 1 step(s) in error (1 new since the run before)")
    assert any(line.startswith(f"- {stack.broken_pdf} pdf: ") and "404" in line for line in steps)
    assert f"Run: {ui}/runs/flow-run/{error_child.id}" in steps and f"Page: {SITE_URL}/d/{ERROR_DATE}.html" in steps
    spent = by_subject[f"hfdaily {BUDGET_DATE}: stopped at its budget"].splitlines()
    assert spent[0].startswith(f"{BUDGET_DATE} stopped at its budget of 0.0 USD") and "26 LLM step(s) left" in spent[0]
    assert f"Run: {ui}/runs/flow-run/{budget.id}" in spent
    ranged = by_subject[f"hfdaily: backfill-{BAD_RANGE[0]}-to-{BAD_RANGE[1]} failed"]
    assert f"Date: {BAD_RANGE[0]} to {BAD_RANGE[1]}" in ranged and f"/runs/flow-run/{bad_range.id}" in ranged
    clean = [DATE, *BACKFILL, "2025-01-24"]  # the clean daily run, the backfills' other dates
    subjects = [a["subject"] for a in stack.alerts.received]
    assert not [s for s in subjects for d in clean if f"daily-{d} " in s or f" {d}:" in s]


def test_the_review_deployment_reviews_papers_on_request(stack: Stack) -> None:
    run = stack.wait(stack.runs["review"])
    assert run.state_name == "Completed", f"{run.state}\n{stack.tail('worker')}"
    assert run.name == "review-2501.04001-and-1-more"
    ids = ["2501.04001", "2412.12345"]
    for arxiv_id in ids:
        record = json.loads((stack.data / "requests" / f"{arxiv_id}.json").read_text())
        steps = record["paper"]["steps"]
        assert set(steps) == {"pdf", "image", *LLM_STEPS} and all(s["status"] == "ok" for s in steps.values())
        assert (stack.tmp / "out" / "site" / "u" / f"{arxiv_id}.html").is_file()
    index = (stack.tmp / "out" / "site" / "u" / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{i}.html"' in index for i in ids)
    names = {t.name for t in _task_runs(stack, run.id)}
    assert {f"{step}-{i}" for i in ids for step in ("pdf", "image", *LLM_STEPS)} <= names, sorted(names)


def test_a_bad_setting_in_the_workers_environment_fails_the_run_at_once_in_one_line(stack: Stack) -> None:
    """Not left Running (what a pydantic error in the engine's set-up did), not a traceback as its reason."""
    run = stack.wait(stack.runs["bad_env"], timeout=90)
    assert run.state_type.value == "FAILED", f"{run.state}\n{stack.tail('worker')}"
    assert run.name == f"daily-{BAD_ENV_DATE}"
    assert "HFDAILY_MAX_COST='-1': input should be greater than or equal to 0" in run.state.message
    assert "\n" not in run.state.message and not (stack.data / "days" / f"{BAD_ENV_DATE}.json").exists()


@pytest.mark.browser
def test_the_ui_run_form_sends_only_what_is_filled_and_blocks_bad_values(stack: Stack) -> None:
    """Prefect's own run form (the V2 UI the server opens on) in Chromium, against this server's deployments."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    stack.wait(stack.runs["daily"])  # DATE is complete, so the backfill made below skips it at once
    t0 = time.monotonic()
    with stack.client() as client:
        daily = client.read_deployment_by_name("daily/daily")
        backfill = client.read_deployment_by_name("backfill/backfill")
    ui = stack.api.removesuffix("/api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(30_000)  # a busy machine renders slowly
        expect = sync_api.expect

        # daily, submitted as it opens: the empty date must be left out (a run for the scheduled date). The
        # request is held back (no run for today is wanted here) and its parameters checked by the server.
        page.route("**/create_flow_run", lambda route: route.abort())
        page.goto(f"{ui}/v2/deployments/deployment/{daily.id}/run")
        expect(page.get_by_text("Leave it empty for the run's scheduled date", exact=False)).to_be_visible()
        expect(page.get_by_text("Pick a date")).to_have_count(1)  # a date picker, no type toggle
        with page.expect_request("**/create_flow_run") as request:
            page.get_by_role("button", name="Submit").click()
        form = json.loads(request.value.post_data)["parameters"]
        # Only the fields that have defaults: the empty date is left out.
        assert "date" not in form and form["render"] is True and form["post"] is True, form
        assert set(form) <= {"render", "post", "mode"} and form.get("mode", "online") == "online", form
        check = requests.post(f"{stack.api}/ui/schemas/validate", timeout=10,
                              json={"schema": daily.parameter_openapi_schema, "values": form})
        assert check.json()["valid"] is True
        page.unroute("**/create_flow_run")

        # backfill: pick start and end, a negative budget is stopped by the form, 0 goes through.
        page.goto(f"{ui}/v2/deployments/deployment/{backfill.id}/run")
        for left in (1, 0):  # start, then end: a picker shows its date once set
            page.get_by_text("Pick a date").first.click()
            page.get_by_label("Date (yyyy-MM-dd)").fill(DATE)
            page.keyboard.press("Escape")
            expect(page.get_by_text("Pick a date")).to_have_count(left)
        budget = page.locator("input[type=number]").nth(1)
        budget.fill("-1")
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/create_flow_run") else None)
        page.get_by_role("button", name="Submit").click()
        page.wait_for_timeout(2000)
        assert sent == [] and page.url.endswith("/run")  # the form did not send it
        budget.fill("0")
        for _ in range(3):  # a SQLite server busy with the other runs may answer 503: an operator submits again
            with page.expect_response("**/create_flow_run") as answer:
                page.get_by_role("button", name="Submit").click()
            if answer.value.status != 503:
                break
            page.wait_for_timeout(2000)
        assert answer.value.status == 201, answer.value.text()
        made = answer.value.json()
        browser.close()
    sent_params = {k: v for k, v in made["parameters"].items() if k != "mode"}  # the mode's default, if the UI sends it
    assert sent_params == {"start": DATE, "end": DATE, "force": False, "max_parallel": 2, "max_cost": 0,
                           "use_deployments": False}
    assert made["parameters"].get("mode", "online") == "online"
    run = stack.wait(UUID(made["id"]), timeout=90)
    assert (run.name, run.state_name) == (f"backfill-{DATE}-to-{DATE}", "Completed")  # planned, skipped
    stack.timings["run forms in Chromium"] = time.monotonic() - t0


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
