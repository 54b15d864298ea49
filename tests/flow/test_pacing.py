"""LLM pacing in a real daily run: providers' limits in the sandbox, budgets, lanes and shared budgets."""

from __future__ import annotations

import pytest

from flows.daily import daily_digest
from tasks.llm import pacing, shared
from tasks.settings import Settings
from tasks.store import load_day

DATE = "2025-01-23"


def _ok(day) -> bool:
    papers_ok = all(s.status == "ok" for p in day.papers for s in p.steps.values())
    return papers_ok and day.steps["zh_reading"].status == "ok"


def test_a_provider_stricter_than_the_budget_is_waited_out_without_failing_a_step(env, sandbox, monkeypatch):
    # The key's real tier is far below what the settings claim: the first answers' headers and 429s teach it.
    sandbox.limits(anthropic={"rpm": 60, "tpm": 20_000})
    monkeypatch.setenv("HFDAILY_ANTHROPIC_RPM", "6000")
    monkeypatch.setenv("HFDAILY_ANTHROPIC_TPM", "2000000")
    daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    assert _ok(day)
    calls = [r for r in sandbox.requests() if r["target"] == "anthropic"]
    refused = [r for r in calls if r["status"] == 429]
    assert len(calls) - len(refused) == 5 and len(refused) <= 4, [(r["status"], r.get("refused_by")) for r in calls]
    pacer = next(p for (name, *_), p in pacing._pacers.items() if name == "anthropic" and p.spacing["rpm"]
                 .per_minute == 60)  # it adopted the limit the provider reported
    assert pacer.stats.calls >= 5


def test_steps_of_a_provider_with_budget_left_do_not_wait_behind_another_providers(env, sandbox, monkeypatch):
    # OpenAI's budget is the bottleneck (2 calls a second for 25 calls) and one worker thread is all the
    # non-LLM tasks get: Anthropic's steps still start at once, in their own lane.
    monkeypatch.setenv("HFDAILY_OPENAI_RPM", "120")
    monkeypatch.setenv("HFDAILY_MAX_WORKERS", "1")
    sandbox.latency(llm=0.05)
    daily_digest(date=DATE, render=False)
    assert _ok(load_day(Settings(), DATE))
    log = sandbox.requests()
    openai = sorted(r["start"] for r in log if r["target"] == "openai")
    anthropic = sorted(r["start"] for r in log if r["target"] == "anthropic")
    assert len(openai) == 25 and len(anthropic) == 5
    assert openai[-1] - openai[0] >= 24 / 2 * 0.9  # paced at the budget
    assert anthropic[-1] < openai[12], "Anthropic's steps waited for OpenAI's budget"


def test_budgets_are_shared_through_the_prefect_servers_limits_when_it_has_them(env, sandbox, monkeypatch):
    from prefect.client.orchestration import get_client

    # Budgets of their own, so this test's pacers (and their shared reservoirs) are not other tests'.
    for name, value in (("OPENAI_RPM", 6001), ("OPENAI_TPM", 2_000_001), ("ANTHROPIC_RPM", 601),
                        ("ANTHROPIC_TPM", 300_001), ("ANTHROPIC_OTPM", 80_001), ("MISTRAL_RPM", 601),
                        ("MISTRAL_TPM", 500_001)):
        monkeypatch.setenv(f"HFDAILY_{name}", str(value))
    settings = Settings()
    with get_client(sync_client=True) as client:
        made = shared.ensure_limits(settings, client)
    try:
        daily_digest(date=DATE, render=False)
        assert _ok(load_day(Settings(), DATE))
        pacer = pacing.pacer_for("openai", settings.budget("openai"), settings.provider_concurrency)
        # Prepaid in chunks: fewer round trips to the server than calls (how long calls waited is load-bound,
        # a benchmark's business, not a test's).
        assert pacer.shared is not None and 0 < pacer.shared.round_trips < pacer.stats.calls
    finally:
        with get_client(sync_client=True) as client:
            for spec, _ in made:
                client.delete_global_concurrency_limit_by_name(spec.name)
        shared.forget()


@pytest.fixture(autouse=True)
def _no_limits(sandbox):
    yield
    sandbox.limits(openai={"rpm": None, "tpm": None}, anthropic={"rpm": None, "tpm": None, "otpm": None},
                   mistral={"rpm": None, "tpm": None}, time_scale=1)
