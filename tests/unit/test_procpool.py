"""tasks.procpool: real worker processes running the jobs in tests/pool_targets.py.

Time limits kill and replace a worker, a crash is reported with its exit code, the memory cap holds, replies are
JSON only, and a worker's environment holds none of the parent's secrets (read from /proc, not only os.environ).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.procpool import (
    JobFailed,
    JobTimeout,
    PoolError,
    ProcessPool,
    WorkerCrashed,
    WorkerStartError,
    clean_env,
)
from tests.planted_secrets import SECRETS

T = "tests.pool_targets"


def _environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie has stopped running too


@pytest.fixture
def pool() -> Iterator[ProcessPool]:
    with ProcessPool(f"{T}:pid_after", size=2) as p:
        yield p


def test_a_worker_serves_many_jobs(pool: ProcessPool) -> None:
    first = pool.run(0, timeout=30)
    assert [pool.run(0, timeout=30) for _ in range(5)] == [first] * 5
    assert first != os.getpid() and pool.idle_pids() == [first]


def test_time_limit_kills_the_worker_and_the_next_job_gets_a_fresh_one(pool: ProcessPool) -> None:
    old = pool.run(0, timeout=30)
    start = time.monotonic()
    with pytest.raises(JobTimeout, match="exceeded 0.2 s"):
        pool.run(30, timeout=0.2)
    assert time.monotonic() - start < 5
    assert _gone(old) and pool.idle_pids() == []
    new = pool.run(0, timeout=30)
    assert new != old


def test_a_crash_is_reported_with_its_exit_code_and_the_worker_replaced() -> None:
    with ProcessPool(f"{T}:exit_now", size=1) as pool, pytest.raises(WorkerCrashed) as info:
        pool.run(3, timeout=30)
    assert info.value.exit_code == 3
    with ProcessPool(f"{T}:exit_now", size=1) as pool:
        with pytest.raises(WorkerCrashed):
            pool.run(0, timeout=30)
        with pytest.raises(WorkerCrashed):  # a new worker was started for the second job
            pool.run(0, timeout=30)


def test_an_exception_in_the_job_keeps_the_worker() -> None:
    with ProcessPool(f"{T}:fail", size=1) as pool:
        with pytest.raises(JobFailed, match="ValueError: bad input"):
            pool.run("bad input", timeout=30)
        pid = pool.idle_pids()
        with pytest.raises(JobFailed):
            pool.run("again", timeout=30)
        assert pool.idle_pids() == pid and len(pid) == 1


def test_replies_are_json_only() -> None:
    with ProcessPool(f"{T}:not_json", size=1) as pool, pytest.raises(JobFailed, match="not JSON serializable"):
        pool.run(timeout=30)


def test_memory_limit_caps_the_address_space() -> None:
    with ProcessPool(f"{T}:allocate", size=1, memory_limit=2**30) as pool:
        assert pool.run(10 * 2**20, timeout=30) == 10 * 2**20
        with pytest.raises(JobFailed, match="MemoryError"):
            pool.run(3 * 2**30, timeout=30)  # would succeed on this 24 GiB machine without the cap
        assert pool.run(2**20, timeout=30) == 2**20


def test_at_most_size_workers_run_at_once(pool: ProcessPool) -> None:
    pids: list[int] = []

    def job() -> None:
        pids.append(pool.run(0.3, timeout=30))

    threads = [threading.Thread(target=job) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pids) == 6 and len(set(pids)) <= 2


def test_an_initializer_that_fails_is_a_start_error() -> None:
    with ProcessPool(f"{T}:pid_after", size=1, initializer=f"{T}:fail_init") as pool, pytest.raises(
        WorkerStartError
    ):
        pool.run(0, timeout=30)


def test_a_closed_pool_runs_nothing() -> None:
    pool = ProcessPool(f"{T}:pid_after", size=1)
    pid = pool.run(0, timeout=30)
    pool.close()
    assert _gone(pid)
    with pytest.raises(PoolError, match="closed"):
        pool.run(0, timeout=30)


# ------------------------------------------------------------------------------------- the environment


def test_workers_start_with_no_secret_of_the_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TZ", "UTC")
    with ProcessPool(f"{T}:environ", size=1) as pool:
        seen = pool.run(timeout=30)
        initial = _environ_of(pool.idle_pids()[0])  # what the process was started with, not what it kept
    assert not [name for name, value in SECRETS.items() if value.encode() in initial]
    assert not [name for name, value in SECRETS.items() if value in seen.values() or name in seen]
    assert seen["TZ"] == "UTC" and "PATH" in seen  # harmless variables do pass


def test_a_given_environment_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS["OPENAI_API_KEY"])
    with ProcessPool(f"{T}:environ", size=1, env={"HFDAILY_PROBE": "1"}) as pool:
        seen = pool.run(timeout=30)
    assert seen["HFDAILY_PROBE"] == "1" and set(seen) <= {"HFDAILY_PROBE", "LC_CTYPE"}  # CPython may set LC_CTYPE


def test_clean_env_keeps_only_harmless_names() -> None:
    environ = {**SECRETS, "PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/root", "PYTHONPATH": "/x",
               "LC_API_KEY": "nope", "VIRTUAL_ENV": "/venv"}
    assert clean_env(environ) == {"PATH": "/bin", "LANG": "C.UTF-8", "LC_ALL": "C", "HOME": "/root"}
