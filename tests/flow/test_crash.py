"""Crash safety and concurrency: a run killed with SIGKILL mid-day, and two runs of one date at once.

The killed run is a real `hfdaily run` process (its own PREFECT_HOME, talking to this session's test API
server, so no ephemeral server start-up); the sandbox's counters tell which LLM calls were made, and the answer
cache (one file per validated answer) tells which of them had finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flows.daily import daily_digest
from tasks.models import DayFile
from tasks.settings import PROJECT_ROOT, Settings
from tasks.steps import paper_steps, pending
from tasks.store import load_day

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")
CAP = 2  # HFDAILY_PROVIDER_CONCURRENCY of the killed run: calls in flight per provider
LEASE_TTL = 3  # HFDAILY_LEASE_TTL of the killed run: its successor takes the date over this long after the kill
KEYS = {"OPENAI_API_KEY": "sk-CRASHTEST-openai-1b9d", "ANTHROPIC_API_KEY": "sk-ant-CRASHTEST-4c7e",
        "MISTRAL_API_KEY": "CRASHTEST-mistral-8a2f"}
STEP_FIELDS = {s.name: set(s.fields) for s in paper_steps()}


def _llm_requests(stats: dict[str, Any]) -> int:
    return sum(stats["requests"][p] for p in LLM)


def _answers(settings: Settings) -> int:
    """Validated LLM answers stored so far (the cache writes each one whole when it is accepted)."""
    return len(settings.data.list("cache/llm", recursive=True))


def _finished(day: DayFile) -> dict[tuple[str, str], Any]:
    """(paper, step) -> (when it finished, the values it stored) for every finished step."""
    return {(p.arxiv_id, step): (state.at, p.model_dump(include=STEP_FIELDS[step]))
            for p in day.papers for step, state in p.steps.items() if state.status == "ok"}


def test_sigkill_mid_day_loses_no_finished_work_and_repeats_no_finished_call(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import get_current_settings

    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    sandbox.config(papers_per_day=3)
    sandbox.latency(llm=0.5)  # calls stay in flight long enough to be cut by the kill
    child_env = {**os.environ, "PREFECT_HOME": str(env / "child-prefect-home"),
                 "PREFECT_API_URL": get_current_settings().api.url, "HFDAILY_PROVIDER_CONCURRENCY": str(CAP),
                 "HFDAILY_LEASE_TTL": str(LEASE_TTL),
                 "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--date", DATE, "--no-render"],
                            cwd=env, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while _answers(settings) < 4:  # some calls finished, more in flight
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no LLM answer within 90 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    assert proc.returncode == -signal.SIGKILL
    killed_stats = sandbox.stats()
    asked_before, answered_before = _llm_requests(killed_stats), _answers(settings)

    killed = load_day(settings, DATE)  # valid JSON of the day schema: writes are atomic
    assert len(killed.papers) == 3 and killed.runs == []  # the killed run never got to record itself
    finished = _finished(killed)
    pdfs_done = {p.arxiv_id for p in killed.papers if p.step_ok("pdf")}
    # The PDF a text step left for its picture step lived in the killed process: a picture not drawn yet costs
    # that one PDF once more (at most). Every other finished PDF is not downloaded again.
    undrawn = {p.arxiv_id for p in killed.papers if p.step_ok("pdf") and not p.step_ok("image")}
    assert not [key for key in KEYS.values() if key in output]  # no key in its console output

    sandbox.reset()
    sandbox.config(papers_per_day=3)
    began = time.monotonic()
    daily_digest(date=DATE, render=False)
    assert time.monotonic() - began > LEASE_TTL - 1  # it waited for the killed run's lease to expire
    stats = sandbox.stats()
    day = load_day(settings, DATE)
    unfinished = {p.arxiv_id: {s.name: p.steps.get(s.name) for s in pending(p)} for p in day.papers if pending(p)}
    assert unfinished == {}
    assert day.steps["zh_reading"].status == "ok"
    assert len(day.runs) == 1 and day.runs[0].failed == 0
    for (arxiv_id, step), (at, values) in finished.items():  # finished work is kept, not redone
        paper = day.paper(arxiv_id)
        assert paper.steps[step].at == at and paper.model_dump(include=STEP_FIELDS[step]) == values, step
    assert not set(stats["pdf_ids"]) & (pdfs_done - undrawn)
    assert all(stats["pdf_ids"].get(i, 0) <= 1 for i in undrawn)  # 0: drawn and cached, not yet stored

    asked_after, answered_total = _llm_requests(stats), _answers(settings)
    # The second run asked exactly the calls that had no stored answer: no finished call was sent again ...
    assert asked_after == answered_total - answered_before
    # ... so over both runs, only calls cut off in flight by the kill were paid twice.
    assert asked_before - answered_before <= CAP * len(LLM)
    assert asked_before + asked_after <= answered_total + CAP * len(LLM)


def test_two_runs_of_one_date_at_once_are_serialized(env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch,
                                                     store_urls: dict[str, str]) -> None:
    """The run holding the date's lease is held up (in its feed fetch) until the other one has found the lease
    taken, so the two really overlap, however slowly the second one starts. On a local folder and in a bucket."""
    import tasks.feed
    import tasks.lease

    for key, value in store_urls.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    sandbox.config(papers_per_day=2)
    contended = threading.Event()
    real_acquire, real_fetch = tasks.lease.acquire, tasks.feed.fetch_page
    holder = threading.Lock()

    def acquire(*args: Any, on_wait: Any = None, **kw: Any) -> Any:
        def waiting(record: Any) -> None:
            contended.set()
            if on_wait is not None:
                on_wait(record)

        return real_acquire(*args, on_wait=waiting, **kw)

    def fetch_page(*args: Any, **kw: Any) -> Any:
        if holder.acquire(blocking=False):  # the first fetch, made under the lease
            assert contended.wait(60), "the second run never reached the date's lease"
        return real_fetch(*args, **kw)

    monkeypatch.setattr(tasks.lease, "acquire", acquire)
    monkeypatch.setattr(tasks.feed, "fetch_page", fetch_page)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            outcomes.append(daily_digest(date=DATE, render=False))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outcomes) == 2 and all(isinstance(o, dict) for o in outcomes), outcomes

    day = load_day(settings, DATE)
    first, second = sorted(day.runs, key=lambda r: r.finished_at)
    assert second.started_at < first.finished_at  # they overlapped; the second waited for the lease
    assert (first.new, second.new) == (2, 0) and second.usage.calls == 0
    assert len(day.papers) == 2 and all(not pending(p) for p in day.papers)
    stats = sandbox.stats()
    assert stats["pdf_ids"] == {p.arxiv_id: 1 for p in day.papers}
    assert _llm_requests(stats) == _answers(settings) == day.usage.calls  # no call made twice
    if (days := settings.data.local_path("days")) is not None:
        assert [p.name for p in days.glob(f".{DATE}.*.tmp")] == []


def test_a_run_whose_lease_is_taken_over_stops_starting_steps_and_keeps_what_it_stored(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another holder takes the date's lease mid-run (as a waiter would after a renewal gap): the run notices at
    its next renewal, starts no further step, stores what finished (merged) and fails; a later run does the rest."""
    from tasks.lease import LeaseLost, LeaseRecord
    from tasks.models import utcnow

    monkeypatch.setenv("HFDAILY_LEASE_TTL", "3")  # renewed every second
    monkeypatch.setenv("HFDAILY_PROVIDER_CONCURRENCY", "1")
    settings = Settings()
    sandbox.config(papers_per_day=3)
    sandbox.latency(llm=0.3)
    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(_run_catching(DATE)))
    runner.start()
    deadline = time.monotonic() + 60
    while _answers(settings) < 2:
        assert time.monotonic() < deadline and runner.is_alive(), outcome
        time.sleep(0.05)
    now = utcnow()
    other = LeaseRecord(holder="elsewhere:1:x", what=f"a run of {DATE}", run="other", ttl=60, acquired_at=now,
                        renewed_at=now, expires_at=now)
    settings.data.write(f"leases/{DATE}.json", other.encode())  # taken over behind the run's back
    runner.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], LeaseLost), outcome
    assert "lost the lease leases/2025-01-23.json" in str(outcome[0])
    day = load_day(settings, DATE)
    assert day.runs == []  # it did not record itself as a finished run
    stopped = sum(1 for p in day.papers for s in pending(p))
    assert stopped > 0 and len(day.papers) == 3  # it stopped before the end, keeping what finished
    asked = _llm_requests(sandbox.stats())
    assert asked == _answers(settings)  # every call it paid for is stored

    settings.data.write(f"leases/{DATE}.json", other.model_copy(update={"released": True}).encode())
    sandbox.reset()
    sandbox.config(papers_per_day=3)
    daily_digest(date=DATE, render=False)
    assert all(not pending(p) for p in load_day(settings, DATE).papers)
    assert _llm_requests(sandbox.stats()) == _answers(settings) - asked  # only what was left is asked


def _run_catching(date: str) -> Any:
    try:
        return daily_digest(date=date, render=False)
    except Exception as exc:  # the flow re-raises the run's error
        return exc
