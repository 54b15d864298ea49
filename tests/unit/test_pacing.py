"""The per-provider pacer: budgets as spacing, corrections from usage, 429 pauses, AIMD window, header sync."""

from __future__ import annotations

import threading
import time

import pytest

from tasks.llm.pacing import ProviderPacer, Spacing, costs, estimate_tokens
from tasks.llm.ratelimits import Quota, RateInfo


class Clock:
    """A clock tests move by hand (the pacer's waits use it to decide; they never sleep with it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_spacing_charges_settles_and_an_idle_budget_stays_full():
    s = Spacing(per_minute=600)  # 10 a second
    s.take(5, now=0.0)
    assert s.delay(0.0) == pytest.approx(0.5)
    s.settle(+5, now=0.1)  # it cost 10: the next waits for all of it
    assert s.delay(0.1) == pytest.approx(0.9)
    s.settle(-8, now=0.1)  # it cost 2 after all
    assert s.delay(0.1) == pytest.approx(0.1)
    s.settle(-100, now=5.0)  # a refund while idle does not store up a burst
    assert s.ready == pytest.approx(0.2) and s.delay(5.0) == 0


def test_costs_count_what_each_provider_counts():
    assert costs("openai", 100, 20) == {"rpm": 1.0, "tpm": 120.0, "otpm": 20.0}
    assert costs("anthropic", 100, 20)["tpm"] == 100.0  # Anthropic's token budget is input tokens
    assert estimate_tokens("abcd" * 10, "ab") == 11


def _starts(pacer: ProviderPacer, n: int, threads: int = 4, hold: float = 0.0) -> list[float]:
    starts: list[float] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        permit = pacer.acquire("summary_en", 10, 10)
        with lock:
            starts.append(time.monotonic())
        time.sleep(hold)
        permit.done(10, 10)

    ts = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    return sorted(starts)


def test_calls_start_no_faster_than_the_request_budget():
    pacer = ProviderPacer("openai", {"rpm": 1200, "tpm": 10**9}, max_in_flight=8)  # 20 a second
    starts = _starts(pacer, 8)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.05 - 0.005, gaps  # 1/20 s apart, never bunched
    assert starts[-1] - starts[0] >= 7 * 0.05 - 0.01


def test_token_budget_paces_by_estimated_then_actual_tokens():
    clock = Clock()
    pacer = ProviderPacer("openai", {"rpm": 10**6, "tpm": 6000}, max_in_flight=8, clock=clock)  # 100 tokens/s
    first = pacer.acquire("topics", 50, 400)  # 50 in + 50 expected out (an eighth of max_tokens before any answer)
    assert pacer.spacing["tpm"].delay(clock()) == pytest.approx(1.0)
    first.done(50, 150)  # it answered with 150: 100 more than charged
    assert pacer.spacing["tpm"].delay(clock()) == pytest.approx(2.0)
    assert pacer.expected_output("topics", 100) == 150  # what the step's next call is charged for


def test_a_429_pauses_the_provider_and_halves_the_window_once():
    pacer = ProviderPacer("anthropic", {"rpm": 10**6, "tpm": 10**9}, max_in_flight=8)
    permits = [pacer.acquire("review_ru", 10, 10) for _ in range(3)]
    permits[0].throttled(retry_after=0.2)
    permits[1].throttled(retry_after=0.2)  # the same congestion: no second halving
    assert pacer.window == 4 and pacer.paused_until - time.monotonic() == pytest.approx(0.2, abs=0.05)
    assert pacer.stats.throttled == 2 and pacer.stats.backoffs == 1
    permits[2].done(10, 10)
    began = time.monotonic()
    for _ in range(4):  # grows back by one per window of successes
        pacer.acquire("review_ru", 10, 10).done(10, 10)
    assert time.monotonic() - began >= 0.15  # the first of them waited out the pause
    assert 5 <= pacer.window < 6


def test_waiting_calls_keep_their_order_and_wait_out_a_pause():
    pacer = ProviderPacer("mistral", {"rpm": 10**6, "tpm": 10**9}, max_in_flight=1)
    held = pacer.acquire("zh_reading", 1, 1)
    order: list[int] = []

    def call(i: int) -> None:
        pacer.acquire("zh_reading", 1, 1).done(1, 1)
        order.append(i)

    ts = []
    for i in range(4):
        ts.append(threading.Thread(target=call, args=(i,)))
        ts[-1].start()
        time.sleep(0.05)  # they queue in this order
    began = time.monotonic()
    held.throttled(retry_after=0.3)
    for t in ts:
        t.join(5)
    assert order == [0, 1, 2, 3]
    assert time.monotonic() - began >= 0.3 - 0.01


def test_headers_that_show_someone_else_spending_the_budget_slow_us_down():
    clock = Clock()
    pacer = ProviderPacer("openai", {"rpm": 600, "tpm": 10**9}, max_in_flight=8, clock=clock)
    permit = pacer.acquire("summary_en", 10, 10)
    clock.t += 1.0  # our next call may start now (10 a second)...
    drained = RateInfo({"rpm": Quota(limit=600, remaining=0, reset_s=3.0)})
    permit.done(10, 10, drained)  # ...but the provider has nothing left: another caller on the key
    assert pacer.spacing["rpm"].delay(clock()) == pytest.approx(0.1)  # one request's worth at 10 a second
    assert pacer.window == 4


def test_headers_our_own_calls_explain_change_nothing():
    clock = Clock()
    pacer = ProviderPacer("anthropic", {"rpm": 50, "tpm": 10**9}, max_in_flight=8, clock=clock)
    permit = pacer.acquire("review_ru", 10, 10)  # next one in 1.2 s
    clock.t += 0.3
    own = RateInfo({"rpm": Quota(limit=50, remaining=0, reset_s=0.9)})  # drained by this very call
    permit.done(10, 10, own)
    assert pacer.window == 8 and pacer.spacing["rpm"].delay(clock()) == pytest.approx(0.9)


def test_a_lower_limit_reported_by_the_provider_is_adopted():
    pacer = ProviderPacer("openai", {"rpm": 10_000, "tpm": 10**9}, max_in_flight=8)
    pacer.acquire("topics", 10, 10).done(10, 10, RateInfo({"rpm": Quota(limit=500, remaining=499)}))
    assert pacer.spacing["rpm"].per_minute == 500


def test_a_shared_budget_is_drawn_after_admission_and_settled_with_usage():
    class Shared:
        def __init__(self) -> None:
            self.taken: list[dict[str, float]] = []
            self.settled: list[dict[str, float]] = []

        def take(self, cost):
            self.taken.append(dict(cost))

        def settle(self, delta):
            self.settled.append(dict(delta))

    pacer = ProviderPacer("openai", {"rpm": 10**6, "tpm": 10**9}, max_in_flight=8)
    pacer.shared = shared = Shared()
    pacer.acquire("summary_en", 100, 400).done(100, 30)  # charged 100 in + 50 expected out; it used 30
    assert shared.taken == [{"rpm": 1.0, "tpm": 150.0}] and shared.settled == [{"rpm": 0.0, "tpm": -20.0}]
