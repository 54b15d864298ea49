"""Batch backfills: submitted without waiting, collected by a later run at half the cost, resumed without sending a
call twice, and the calls a batch expired on made online."""

from __future__ import annotations

from flows.backfill import backfill
from flows.batches import batch_collect
from tasks.settings import Settings
from tasks.steps import is_complete
from tasks.store import load_day

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")


def _online_requests(sandbox) -> int:
    return sum(1 for r in sandbox.requests() if r.get("target") in LLM and not r.get("batch"))


def _until_complete(runs: int = 4) -> list[dict]:
    results = []
    for _ in range(runs):
        results.append(backfill(start=DATE, end=DATE, mode="batch"))
        day = load_day(Settings(), DATE)
        if is_complete(day):
            break
    return results


def test_a_batch_backfill_completes_at_about_half_the_cost(env, sandbox, monkeypatch):
    sandbox.batches(seconds=0)
    first = backfill(start=DATE, end=DATE, mode="batch")
    assert first["batches"]["submitted"]["calls"] > 0 and _online_requests(sandbox) == 0
    day = load_day(Settings(), DATE)
    assert not is_complete(day)
    assert {s.status for p in day.papers for s in p.steps.values() if s.status != "ok"} == {"deferred"}

    _until_complete()
    day = load_day(Settings(), DATE)
    assert is_complete(day) and _online_requests(sandbox) == 0
    assert day.usage.batch_calls == day.usage.calls > 0
    assert sandbox.batches()["duplicates"] == 0

    # The same date online, in a fresh data dir: the batch cost about half as much.
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(env / "data-online"))
    sandbox.reset()  # a cold prompt cache, as the batch run had
    sandbox.config(papers_per_day=5)
    backfill(start=DATE, end=DATE)
    online = load_day(Settings(), DATE)
    assert is_complete(online) and online.usage.batch_calls == 0
    assert day.usage.cost_usd <= 0.55 * online.usage.cost_usd


def test_calls_a_batch_expired_on_are_made_online(env, sandbox):
    sandbox.batches(seconds=0, expire=True)
    backfill(start=DATE, end=DATE, mode="batch")
    sandbox.batches(expire=False)
    result = backfill(start=DATE, end=DATE, mode="batch")  # collects the expired batches, then asks online
    assert result["batches"]["collected"]["failed"] > 0
    _until_complete()
    day = load_day(Settings(), DATE)
    assert is_complete(day) and _online_requests(sandbox) > 0
    assert sandbox.batches()["duplicates"] == 0


def test_the_collect_flow_waits_for_nothing_and_runs_the_dates_of_finished_batches(env, sandbox):
    sandbox.batches(seconds=3600)  # a batch that takes an hour
    backfill(start=DATE, end=DATE, mode="batch")
    idle = batch_collect()
    assert idle["backfill"] is None and idle["collected"]["still_open"] > 0
    sandbox.batches(seconds=0)
    done = batch_collect()
    assert done["collected"]["dates"] == [DATE] and done["backfill"]["dates"][DATE].startswith("ran")
    assert sandbox.batches()["duplicates"] == 0
