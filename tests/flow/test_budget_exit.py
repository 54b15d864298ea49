"""Shared budgets against a real Prefect server (the test harness): the slots request, and a process whose LLM work
is over exiting at once even with a top-up waiting on the server.

The child process configures a run's LLM runtime against this session's Prefect API, whose limits allow one
request a minute: the reservoir's first round trip takes the only slot, the call spends it, and the top-up
behind the call is refused by the server (423, retry in about a minute). The run releases its runtime and the
process ends; it must be gone within seconds, not when the top-up would have given up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tasks.llm import shared
from tasks.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow

# Budgets no other test uses, so the server's limits and this process's pacers are this test's alone.
BUDGETS = {"HFDAILY_OPENAI_RPM": "1", "HFDAILY_OPENAI_TPM": "200003", "HFDAILY_ANTHROPIC_RPM": "53",
           "HFDAILY_ANTHROPIC_TPM": "30003", "HFDAILY_ANTHROPIC_OTPM": "8003", "HFDAILY_MISTRAL_RPM": "63",
           "HFDAILY_MISTRAL_TPM": "500003"}

CHILD = """
import sys, time
from tasks.llm import runner
from tasks.settings import Settings

runtime = runner.configure(Settings(), key="exit-test")
pacer = runtime.pacers["openai"]
assert pacer.shared is not None, "the shared budget was not found on the server"
permit = pacer.acquire("affiliations", 500, 200)  # the reservoir's first round trip took the minute's request
permit.done(500, 40)
time.sleep(1.0)  # the top-up behind the call was refused and now sleeps out the server's retry-after
assert "rpm" in pacer.shared._refilling and pacer.shared.balance["rpm"] < 1, "no top-up waiting on the server"
runner.release("exit-test")
print("released", flush=True)
"""


def test_the_process_exits_promptly_with_a_top_up_waiting_on_the_server(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HFDAILY_", "PREFECT_"))}
    env |= BUDGETS | {"HFDAILY_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "prefect-home"),
                      "PREFECT_API_URL": get_current_settings().api.url, "PYTHONPATH": str(PROJECT_ROOT)}
    settings = Settings(_env_file=None, **{k: v for k, v in BUDGETS.items()})
    with get_client(sync_client=True) as client:
        made = shared.ensure_limits(settings, client)
    try:
        child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            released = time.monotonic()
            child.wait(timeout=120)
            exited = time.monotonic() - released
        finally:
            child.kill()
        assert line.strip() == "released", child.stderr.read()[:3000]
        assert child.returncode == 0, child.stderr.read()[:3000]
        assert exited < 5, f"the process lived {exited:.1f} s after its LLM work ended"
    finally:
        with get_client(sync_client=True) as client:
            for spec, _ in made:
                client.delete_global_concurrency_limit_by_name(spec.name)
        shared.forget()


def test_the_servers_answers_granted_refused_with_retry_after_or_no_such_limit(prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    name = "hfdaily-slotstest-rpm"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
            name=name, limit=1000, slot_decay_per_second=100.0, active=True))
    slots = shared.ServerSlots()
    try:
        assert slots.ask(name, 1000) is None  # granted: the whole limit
        retry_after = slots.ask(name, 1000)  # spent: refused, with the server's estimate of the wait (10 s)
        assert retry_after is not None and 1.0 < retry_after < 60.0
        with pytest.raises(LookupError, match="no limit hfdaily-slotstest-none"):
            slots.ask("hfdaily-slotstest-none", 1)
    finally:
        slots.close()
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)
    assert slots._current is None
