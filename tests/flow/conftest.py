"""Flow tests: the real Prefect engine (test harness) against the sandbox over real HTTP."""

from __future__ import annotations

import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.cli import sandbox_env
from sandbox.client import SandboxClient, spawn_sandbox


@pytest.fixture(scope="session")
def prefect_harness():
    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def sandbox_proc():
    with spawn_sandbox(papers_per_day=5) as proc:
        yield proc


@pytest.fixture
def sandbox(sandbox_proc) -> SandboxClient:
    client = SandboxClient(sandbox_proc.url)
    client.reset()
    client.config(papers_per_day=5)
    return client


@pytest.fixture
def env(sandbox, prefect_harness, tmp_path, monkeypatch):
    """Settings pointing at the sandbox, a fresh data dir, and fast retries."""
    for key, value in sandbox_env(sandbox.url, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HFDAILY_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("HFDAILY_RETRY_MAX_WAIT", "0.2")
    monkeypatch.setenv("HFDAILY_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("HFDAILY_LLM_TIMEOUT", "5")
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return tmp_path
