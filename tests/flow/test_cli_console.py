"""`hfdaily` as an operator runs it, in a subprocess against this session's Prefect API and the sandbox: what a
clean run and a failed run print, bad settings, and runs that can no longer be left Running or unnamed.

The subprocesses get Prefect's default log level (INFO) and their own PREFECT_HOME; the dashboard side is read
back through the API (flow run states, names, logs).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from flows import launch
from flows.backfill import backfill
from flows.daily import daily_digest, daily_name
from flows.runs import name_if_crashed
from flows.site import rebuild_site
from tasks.lanes import LaneTaskRunner
from tasks.settings import PROJECT_ROOT

DATE = "2025-01-23"
TS = r"\d\d:\d\d:\d\d\.\d{3} \| "


def _hfdaily(env: Path, *args: str, timeout: float = 240, **more: str) -> subprocess.CompletedProcess[str]:
    from prefect.settings import get_current_settings

    child = {k: v for k, v in os.environ.items() if k != "PREFECT_LOGGING_LEVEL"}  # the session's is WARNING
    child |= {"PREFECT_HOME": str(env / "cli-prefect-home"), "PREFECT_API_URL": get_current_settings().api.url,
              "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "500", **more}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=env, env=child, capture_output=True,
                          text=True, timeout=timeout)


def _latest(name: str) -> Any:
    """The flow run of that name made last (the session's API server is shared by every flow test)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return max(runs, key=lambda r: r.created)


def _logs_of(run_id: UUID, wanted: str, timeout: float = 20) -> str:
    """The run's log lines in the API once `wanted` is among them (they arrive in batches after the run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        text = "\n".join(log.message for log in logs)
        if wanted in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def _log_file(env: Path, line: str) -> Path:
    match = re.search(r"\(full log: (.+)\)$", line)
    assert match, line
    path = Path(match.group(1))
    assert path.parent == env / "data" / "logs", path
    return path


@pytest.mark.slow
def test_a_clean_run_prints_only_the_promised_lines(env: Path, sandbox: Any) -> None:
    done = _hfdaily(env, "run", "--date", DATE)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0].startswith(f"{DATE}: 5 papers (5 new, 0 updated, 0 vanished, 0 with errors); ") and len(out) == 2
    assert out[1] == f"page: {(env / 'site' / 'd' / f'{DATE}.html').as_uri()}"
    promised = [
        rf"INFO    \| Task run 'feed-{DATE}' - feed {DATE}: 5 papers",
        rf"INFO    \| Flow run 'daily-{DATE}' - {DATE}: 5 in feed, 5 new, 0 updated, 0 vanished",
        r"INFO    \| Task run 'pdf-(\S+)' - pdf \1: \d+ pages, \d+ chars of front matter",
        r"WARNING \| Task run 'render-shared' - HFDAILY_SITE_URL is not set: feed links are relative, .*",
        r"INFO    \| Task run 'render-shared' - search index: 1 month bundles, \d+ records in .*",
        rf"INFO    \| Flow run 'daily-{DATE}' - {DATE}: done - 5 papers \(5 new, .*",
    ]
    lines = done.stderr.splitlines()
    kinds = [next((i for i, p in enumerate(promised) if re.fullmatch(TS + p, line)), None) for line in lines]
    assert None not in kinds, "\n".join(line for line, kind in zip(lines, kinds, strict=True) if kind is None)
    assert sorted(kinds) == [0, 1, 2, 2, 2, 2, 2, 3, 4, 5], done.stderr  # one line each, one per PDF

    # Prefect's per-task lines are still in the dashboard, and in the command's log file
    run = _latest(f"daily-{DATE}")
    assert run.state_name == "Completed"
    assert "Finished in state Completed(" in _logs_of(run.id, "Finished in state Completed(")
    [log] = (env / "data" / "logs").glob("*-run-*.log")
    assert log.read_text().count("Finished in state Completed(") >= 30


@pytest.mark.slow
def test_a_failed_run_shows_its_retries_and_ends_with_one_line(env: Path) -> None:
    unreachable = {"HFDAILY_HF_URL": "http://127.0.0.1:9", "HFDAILY_RETRY_BASE_DELAY": "0.05"}
    done = _hfdaily(env, "run", "--date", DATE, **unreachable)
    assert done.returncode == 1 and done.stdout == ""
    *retries, last = done.stderr.splitlines()
    reason = f"HF feed {DATE} page 0: connection failed (ConnectionError)"
    assert [re.sub(TS, "", line) for line in retries] == [
        f"INFO    | Task run 'feed-{DATE}' - {reason}; retry {n}/3 in about {0.05 * 2 ** (n - 1):.3g} s"
        for n in (1, 2, 3)]
    assert last.startswith(f"hfdaily: error: {reason} (full log: ")
    assert "Traceback" not in done.stderr
    log = _log_file(env, last).read_text()
    assert "Traceback (most recent call last)" in log and "ConnectionRefusedError" in log
    run = _latest(f"daily-{DATE}")
    assert run.state_type.value == "FAILED" and reason in run.state.message
    assert "Traceback (most recent call last)" in _logs_of(run.id, "Traceback")  # the dashboard keeps it

    verbose = _hfdaily(env, "run", "--date", DATE, "--verbose", **unreachable)
    assert verbose.returncode == 1 and "Traceback (most recent call last)" in verbose.stderr
    assert "Finished in state Failed(" in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith(f"hfdaily: error: {reason} (full log: ")


def test_a_bad_setting_is_one_line_and_creates_no_flow_run(env: Path) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        before = client.count_flow_runs()
    done = _hfdaily(env, "run", "--date", DATE, HFDAILY_MAX_COST="-1")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("hfdaily: error: bad setting: HFDAILY_MAX_COST='-1': input should be greater than or "
                           "equal to 0 (nothing was run)\n")
    with get_client(sync_client=True) as client:
        assert client.count_flow_runs() == before


# ---- in this process: runs end final and named -----------------------------------------------------------

def _read(run_id: UUID) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def test_a_bad_setting_on_a_worker_fails_its_run_at_once(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker's process does with a bad environment: the run is Failed, in one line, not left Running."""
    monkeypatch.setenv("HFDAILY_MAX_COST", "-1")
    state = daily_digest(date=DATE, return_state=True)
    assert state.is_failed() and "\n" not in state.message
    assert "HFDAILY_MAX_COST='-1': input should be greater than or equal to 0" in state.message
    run = _read(state.state_details.flow_run_id)
    assert (run.name, run.state_type.value) == (f"daily-{DATE}", "FAILED")
    assert not (env / "data").exists()


def test_a_run_that_breaks_before_its_body_is_left_crashed_not_running(env: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: LaneTaskRunner) -> LaneTaskRunner:
        raise RuntimeError("the task runner could not start")

    monkeypatch.setattr(LaneTaskRunner, "__enter__", broken)
    with pytest.raises(RuntimeError, match="could not start"):
        launch.run_here(daily_digest, f"daily-{DATE}", date=DATE, max_cost=None, render=False)
    run = _read(launch.STARTED[-1])
    assert (run.name, run.state_type.value) == (f"daily-{DATE}", "CRASHED")
    assert run.state.message == "RuntimeError: the task runner could not start"


def test_a_run_that_crashed_before_it_began_gets_its_name(env: Path) -> None:
    """The hook the worker (or `hfdaily serve`) calls for a crashed run, on a run still named by the server."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        made = client.create_flow_run(daily_digest, parameters={"date": "2025-01-21"}, state=Crashed(message="x"))
    assert made.name != "daily-2025-01-21"  # random, as the server made it
    asyncio.run(name_if_crashed(daily_name)(daily_digest, made, made.state))
    assert _read(made.id).name == "daily-2025-01-21"
    for flow in (daily_digest, backfill, rebuild_site):
        assert [hook.__name__ for hook in flow.on_crashed_hooks] == ["name_crashed_run"], flow.name


def test_rebuild_site_runs_are_named_after_their_minute(env: Path) -> None:
    state = rebuild_site(return_state=True)
    assert state.is_completed()
    assert re.fullmatch(r"rebuild-site-\d{4}-\d\d-\d\dT\d{4}", _read(state.state_details.flow_run_id).name)
