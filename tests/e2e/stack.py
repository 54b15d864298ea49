"""Pieces of a real deployment for the e2e tests: processes, a Prefect server, PostgreSQL, workers.

Each piece is started as a child process in its own process group and stopped with it; nothing touches the
user's ~/.prefect or a system PostgreSQL. PostgreSQL is Debian's package (`apt-get install postgresql`): a
private cluster in a temporary folder on a free port, run as the `postgres` user when the tests run as root
(initdb refuses root). Without it, the tests that need it skip with a message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """A long-running child in its own process group (so stopping it stops what it started)."""
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
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


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        stop(proc)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children first found through /proc), whatever session they started."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a child and everything below it at once, as a machine that dies would: returns the pids."""
    pids = [proc.pid, *descendants(proc.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(10)
    return pids


def wait_healthy(api: str, server: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
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


def clean_env(tmp: Path) -> dict[str, str]:
    """This process's environment without Prefect, hfdaily or AWS settings, with a private PREFECT_HOME."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HFDAILY_", "AWS_"))}
    return base | {"PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                   "PYTHONUNBUFFERED": "1"}


def prefect(env: dict[str, str], *args: str, timeout: float = 90) -> str:
    """A `prefect ...` command from the repository root; fails the test with its output."""
    done = subprocess.run([*PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# -- PostgreSQL --------------------------------------------------------------------------------------------

def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin folder, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class Postgres:
    """A private PostgreSQL cluster: initdb in a temporary folder, started on a free port, trust auth on
    127.0.0.1 only, fsync off (a test database), one database `prefect`."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does it)")
        self.bin = bin_dir
        self.as_root = os.geteuid() == 0
        # Not under pytest's tmp folder: that one is private to root, and the server runs as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="hfdaily-pg-"))
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/prefect"
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.dir / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "prefect")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} exited {done.returncode}: {done.stdout}\n{done.stderr}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    try:
        yield pg
    finally:
        pg.stop()
