"""`hfdaily` against Prefect's temporary server, as a new user runs it: offline, nothing configured."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.settings import PROJECT_ROOT


@pytest.mark.slow
def test_site_on_a_temporary_server_logs_no_telemetry_error(tmp_path: Path) -> None:
    # None of the test session's Prefect settings (it turns telemetry off itself): only a private home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HFDAILY_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_PROFILES_PATH": str(tmp_path / "none.toml"),
            "HFDAILY_DATA_DIR": str(tmp_path / "data"), "HFDAILY_SITE_DIR": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-m", "flows.cli", "site"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Starting temporary server" in output  # it did run against a temporary server
    assert "rendered" in done.stdout
    assert "telemetry" not in output.lower(), output


# A flow that ends right after a burst of task runs: the temporary server still has their events to write when
# the process is done (60 tasks on a busy 2-core machine: about 6 s behind).
BURST = """
import sys
from prefect import flow, task
from flows.launch import run_here, settle

@task
def step(i: int) -> int:
    return i

@flow(name="burst")
def burst() -> int:
    return sum(f.result() for f in [step.submit(i) for i in range(60)])

print(run_here(burst, "burst"))
if sys.argv[1:] == ["settle"]:
    print("left open:", settle())
"""


@pytest.mark.slow
def test_settle_writes_every_task_state_before_the_temporary_server_stops(tmp_path: Path) -> None:
    """Without settle() the temporary server was stopped while still writing the last task states: "Error flushing
    1 events" with two tracebacks on stderr, and task runs left Running in ~/.prefect's database for good."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HFDAILY_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_PROFILES_PATH": str(tmp_path / "none.toml"),
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", BURST, "settle"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(sum(range(60))), "left open: 0"]
    assert "Error flushing" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as db:
        states = dict(db.execute("SELECT state_type, count(*) FROM task_run GROUP BY state_type").fetchall())
    assert states == {"COMPLETED": 60}, states
