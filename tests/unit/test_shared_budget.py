"""Budgets shared through Prefect global concurrency limits: the limits' shape, chunked draws, refusals waited out,
falling back, closing and reopening."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from prefect.exceptions import ObjectNotFound

from tasks.llm import shared
from tasks.llm.shared import SharedBudget, ensure_limits, specs
from tasks.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path)


def test_one_limit_per_provider_and_budget_with_decay_at_the_budget(settings):
    by_name = {s.name: s for s in specs(settings)}
    assert sorted(by_name) == ["hfdaily-anthropic-otpm", "hfdaily-anthropic-rpm", "hfdaily-anthropic-tpm",
                               "hfdaily-mistral-rpm", "hfdaily-mistral-tpm", "hfdaily-openai-rpm",
                               "hfdaily-openai-tpm"]
    rpm = by_name["hfdaily-anthropic-rpm"]  # 50 a minute: a request is 1000 slots, so the decay is not floored away
    assert rpm.slot_decay_per_second == pytest.approx(50 / 60 * 1000) and rpm.limit >= 1000
    tpm = by_name["hfdaily-openai-tpm"]
    assert tpm.slot_decay_per_second == pytest.approx(200_000 / 60) and tpm.limit >= 16_000
    assert "500 requests a minute" in by_name["hfdaily-openai-rpm"].describe()


class FakeClient:
    def __init__(self) -> None:
        self.limits: dict[str, object] = {}
        self.calls: list[str] = []

    def read_global_concurrency_limit_by_name(self, name):
        if name not in self.limits:
            raise ObjectNotFound(http_exc=Exception(name))
        return self.limits[name]

    def create_global_concurrency_limit(self, spec):
        from types import SimpleNamespace

        self.calls.append(f"create {spec.name}")
        self.limits[spec.name] = SimpleNamespace(limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second,
                                                 active=True)

    def update_global_concurrency_limit(self, name, spec):
        self.calls.append(f"update {name}")
        lim = self.limits[name]
        lim.limit, lim.slot_decay_per_second = spec.limit, spec.slot_decay_per_second


def test_ensure_limits_creates_then_changes_only_what_differs(settings, tmp_path):
    client = FakeClient()
    assert {what for _, what in ensure_limits(settings, client)} == {"created"}
    assert {what for _, what in ensure_limits(settings, client)} == {"unchanged"}
    faster = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path, HFDAILY_OPENAI_RPM=5000)
    done = {spec.name: what for spec, what in ensure_limits(faster, client)}
    assert done["hfdaily-openai-rpm"] == "updated" and list(done.values()).count("updated") == 1


def _budget(settings, ask):
    """OpenAI's budgets; `ask(name, slots)` stands for the server: None grants, a number is a refusal's
    Retry-After."""
    limits = {s.kind: s for s in specs(settings) if s.name.startswith("hfdaily-openai-")}
    return SharedBudget("openai", limits, settings.budget("openai"), ask=ask)


def test_calls_draw_from_a_reservoir_topped_up_in_chunks_behind_them(settings):
    taken: list[tuple[str, int]] = []
    budget = _budget(settings, lambda name, occupy: taken.append((name, occupy)))
    for _ in range(10):
        budget.take({"rpm": 1.0, "tpm": 700.0})
    _settled(budget)
    # half a second of the budget per round trip (4.2 requests, 1,667 tokens), never one per call
    assert 2 <= [n for n, _ in taken].count("hfdaily-openai-rpm") <= 4
    assert 4 <= [n for n, _ in taken].count("hfdaily-openai-tpm") <= 7
    assert budget.balance["rpm"] >= budget.chunk["rpm"] and budget.balance["tpm"] >= budget.chunk["tpm"]
    assert budget.round_trips == len(taken)
    budget.settle({"tpm": 5000.0})  # a call that used 5,000 more than it drew: the next ones pay for it
    budget.take({"rpm": 1.0, "tpm": 1.0})
    _settled(budget)
    prepaid = sum(occupy for name, occupy in taken if name.endswith("tpm"))
    assert prepaid == budget.balance["tpm"] + 10 * 700 + 5000 + 1  # every token used was paid to the server
    assert budget.balance["tpm"] >= budget.chunk["tpm"]


def _settled(budget: SharedBudget) -> None:
    deadline = time.monotonic() + 5
    while budget._refilling and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_server_that_fails_means_local_pacing_for_a_while_said_once(settings, caplog, monkeypatch):
    calls = []

    def down(name, occupy):
        calls.append(name)
        raise ConnectionError("connection refused")

    budget = _budget(settings, down)
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            budget.take({"rpm": 1.0, "tpm": 100.0})  # never raises, never waits long
        _settled(budget)
    # One round trip per budget that was short (rpm and tpm, in parallel threads), then none: said once.
    assert 1 <= len(calls) <= 2 and sum("pacing in-process" in r.getMessage() for r in caplog.records) == 1
    asked = len(calls)
    real = shared.time.monotonic
    monkeypatch.setattr(shared.time, "monotonic", lambda: real() + 10**6)  # the cool-down is over: ask again
    budget.take({"rpm": 1.0, "tpm": 100.0})
    _settled(budget)
    assert asked < len(calls) <= asked + 2


def test_without_a_server_budgets_are_local(settings, monkeypatch, caplog):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    shared.forget()
    with caplog.at_level(logging.DEBUG):
        assert shared.shared_budgets(settings) == {}
    assert any("in this process only" in r.getMessage() for r in caplog.records)


class SpentServer:
    """A server whose rpm budget is spent: it refuses with a long Retry-After until told to grant."""

    def __init__(self, retry_after: float = 30.0) -> None:
        self.retry_after = retry_after
        self.asked: list[tuple[str, float]] = []  # (limit, when)
        self.grant = threading.Event()

    def __call__(self, name: str, occupy: int) -> float | None:
        self.asked.append((name, time.monotonic()))
        return None if name.endswith("tpm") or self.grant.is_set() else self.retry_after


def _waiting(budget: SharedBudget, server: SpentServer) -> None:
    """Prime it and wait until the rpm top-up is refused and waits out the Retry-After."""
    budget.prime()
    deadline = time.monotonic() + 5
    while not any(n.endswith("rpm") for n, _ in server.asked) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "rpm" in budget._refilling


def test_closing_ends_a_top_up_waiting_for_the_server_at_once_and_starts_none(settings, caplog):
    server = SpentServer(retry_after=30.0)
    budget = _budget(settings, server)
    _waiting(budget, server)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        budget.close()
        _settled(budget)
    assert not budget._refilling and time.monotonic() - began < 1.0  # not the 30 s Retry-After
    assert not caplog.records, "closing is not the server failing"
    asked = len(server.asked)
    budget.take({"rpm": 1.0, "tpm": 100.0})  # a stray call once closed: paced in-process, no round trip
    budget.prime()
    time.sleep(0.1)
    assert len(server.asked) == asked and not budget._refilling and budget.closed


def test_a_refusal_is_waited_out_as_told_not_taken_for_a_server_failure(settings, caplog, monkeypatch):
    server = SpentServer(retry_after=0.2)
    budget = _budget(settings, server)
    with caplog.at_level(logging.WARNING):
        _waiting(budget, server)
        time.sleep(0.7)
        server.grant.set()
        granted = time.monotonic()
        budget.take({"rpm": 1.0, "tpm": 100.0})
        _settled(budget)
    refused = [when for name, when in server.asked if name.endswith("rpm") and when < granted]
    # asked again only once each Retry-After passed: a refusal restarts the limit's decay clock on the server
    assert len(refused) >= 3 and all(b - a >= 0.19 for a, b in zip(refused, refused[1:], strict=False))
    assert budget.refused >= 3 and budget._off_until == 0.0 and not caplog.records
    assert budget.balance["rpm"] >= budget.chunk["rpm"] - 1.0


def test_refused_for_longer_than_the_timeout_means_down(settings, caplog, monkeypatch):
    monkeypatch.setattr(shared, "ACQUIRE_TIMEOUT_S", 0.3)
    server = SpentServer(retry_after=0.1)
    budget = _budget(settings, server)
    with caplog.at_level(logging.WARNING):
        budget.take({"rpm": 1.0, "tpm": 100.0})  # waits for the reservoir until the server counts as down
        _settled(budget)
    assert budget._off_until > time.monotonic() and budget.refused >= 2
    assert sum("pacing in-process" in r.getMessage() for r in caplog.records) == 1


def test_a_reopened_budget_tops_up_again(settings):
    server = SpentServer(retry_after=30.0)
    budget = _budget(settings, server)
    _waiting(budget, server)
    budget.close()
    _settled(budget)
    server.grant.set()
    budget.open()
    began = time.monotonic()
    budget.take({"rpm": 1.0, "tpm": 100.0})  # drawn from the server again
    _settled(budget)
    assert time.monotonic() - began < 2 and budget.round_trips >= 2 and not budget.closed
    assert budget.balance["rpm"] >= budget.chunk["rpm"] - 1.0


def test_the_last_run_released_closes_the_processs_budgets_and_the_next_run_reopens_them(settings, monkeypatch):
    from tasks.llm import pacing, runner

    server = SpentServer(retry_after=30.0)
    budget = _budget(settings, server)
    monkeypatch.setattr(shared, "shared_budgets", lambda s: {"openai": budget})
    pacer = pacing.pacer_for("openai", {"rpm": 7.0, "tpm": 7.0}, 1)  # this test's own
    monkeypatch.setattr(runner, "pacer_for", lambda p, b, n: pacer if p == "openai" else pacing.pacer_for(p, b, n))
    monkeypatch.setattr(runner, "_runtimes", {})
    try:
        runner.configure(settings, key="a")
        runner.configure(settings, key="b")
        assert pacer.shared is budget and not budget.closed
        runner.release("a")
        assert not budget.closed  # run b still calls
        runner.release("b")
        assert budget.closed
        runner.configure(settings, key="c")
        assert not budget.closed
        runner.release("c")
    finally:
        pacer.shared = None
        budget.close()
