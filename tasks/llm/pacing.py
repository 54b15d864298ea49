"""Pacing LLM calls by each provider's budgets (requests and tokens per minute), with adaptive concurrency.

Providers limit requests and tokens per minute and answer 429 past them; a fixed cap on calls in flight either
wastes the budget or overruns it. So each provider gets one pacer per process (the runs in a process share the
provider's key, and so its budget):

- one spacing limiter per budget (`rpm`, `tpm`, Anthropic's `otpm`): a call starts once the cost of the calls
  before it has drained at the budget's rate. No burst: providers enforce per-minute limits over short intervals.
  A call's token cost is estimated before it (the prompt's length / 4, plus the output its step usually gets) and
  corrected from the answer's usage;
- a pause until `retry-after` after a 429, for every call of that provider still waiting;
- an AIMD window of calls in flight: halved on a 429, or when a response's rate-limit headers show the budget
  drained further than this process's own calls explain (someone else on the key); grown by one per window of
  successes, up to HFDAILY_PROVIDER_CONCURRENCY. A budget the provider reports lower than configured is adopted;
- optionally a shared budget (tasks/llm/shared.py, Prefect global concurrency limits), taken after the local
  admission, so several processes or machines on one key stay within one budget.

Calls wait in FIFO order per provider; a call waiting for one provider never waits for another's.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tasks.llm.ratelimits import RateInfo
from tasks.log import get_logger

KINDS = ("rpm", "tpm", "otpm")
PAUSE_WITHOUT_RETRY_AFTER = 1.0  # seconds to hold a provider after a 429 that did not say how long
OUTPUT_SMOOTHING = 0.3  # weight of the newest answer in a step's expected output tokens


def estimate_tokens(*texts: str) -> int:
    """Input tokens of a prompt before sending it: ~4 characters a token (corrected from the answer's usage)."""
    return max(1, math.ceil(sum(len(t) for t in texts) / 4))


def costs(provider: str, input_tokens: float, output_tokens: float) -> dict[str, float]:
    """A call's cost per budget kind; Anthropic's token budget counts input tokens only, the others both."""
    tokens = input_tokens if provider == "anthropic" else input_tokens + output_tokens
    return {"rpm": 1.0, "tpm": float(tokens), "otpm": float(output_tokens)}


@dataclass
class Spacing:
    """A budget as strict spacing: `ready` is when the next call may start (monotonic seconds)."""

    per_minute: float
    ready: float = 0.0

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0

    def delay(self, now: float) -> float:
        return max(0.0, self.ready - now)

    def take(self, cost: float, now: float) -> None:
        self.ready = max(self.ready, now) + cost / self.rate

    def settle(self, delta: float, now: float) -> None:
        """Correct by the difference between what a call cost and what was charged; an idle budget stays full."""
        moved = self.ready + delta / self.rate
        self.ready = moved if delta >= 0 else max(moved, min(self.ready, now))

    def hold_until(self, when: float) -> None:
        self.ready = max(self.ready, when)


class SharedBudget(Protocol):
    """What the pacer needs from a budget shared with other processes (tasks/llm/shared.py)."""

    def take(self, cost: Mapping[str, float]) -> None: ...

    def settle(self, delta: Mapping[str, float]) -> None: ...

    def prime(self) -> None: ...

    def open(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class PacerStats:
    calls: int = 0
    throttled: int = 0  # 429s
    backoffs: int = 0  # window halvings
    waited_s: float = 0.0  # time calls spent waiting to start


@dataclass
class Permit:
    """One admitted call; report how it ended with `done`, `throttled` or `failed` (exactly once)."""

    pacer: ProviderPacer
    step: str
    charged: dict[str, float]
    admitted_at: float
    _open: bool = field(default=True, repr=False)

    def done(self, input_tokens: int, output_tokens: int, rate: RateInfo | None = None) -> None:
        if self._close():
            self.pacer._done(self, input_tokens, output_tokens, rate)

    def throttled(self, retry_after: float | None, rate: RateInfo | None = None) -> None:
        if self._close():
            self.pacer._throttled(self, retry_after, rate)

    def failed(self) -> None:
        if self._close():
            self.pacer._release()

    def _close(self) -> bool:
        was, self._open = self._open, False
        return was


class ProviderPacer:
    """The budgets, the pause and the window of one provider, for every run in this process (thread-safe)."""

    def __init__(self, provider: str, budget: Mapping[str, float], max_in_flight: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self.spacing = {k: Spacing(float(v)) for k, v in budget.items() if k in KINDS and v}
        self.max_window = max(1, int(max_in_flight))
        self.window = float(self.max_window)
        self.in_flight = 0
        self.paused_until = 0.0
        self.shared: SharedBudget | None = None
        self.stats = PacerStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: deque[threading.Condition] = deque()  # one condition per waiting call, on `_lock`
        self._last_backoff = -math.inf
        self._expected_out: dict[str, float] = {}
        self._adopted: set[str] = set()

    # -- admission -------------------------------------------------------------------------------------------
    def expected_output(self, step: str, max_tokens: int) -> float:
        """Output tokens a call of `step` is charged before its answer: what the step's answers used, smoothed;
        an eighth of max_tokens before the first (answers seldom come near it; the answer's usage corrects)."""
        with self._lock:
            return self._expected_out.get(step, max(16.0, max_tokens / 8))

    def acquire(self, step: str, input_tokens: int, max_tokens: int) -> Permit:
        """Wait (FIFO) until the budgets, the pause and the window let one more call start; charge it."""
        cost = costs(self.provider, input_tokens, self.expected_output(step, max_tokens))
        ticket = threading.Condition(self._lock)
        began = self._clock()
        with self._lock:
            self._queue.append(ticket)
            try:
                while True:
                    now = self._clock()
                    timeout: float | None = None
                    if self._queue[0] is ticket:  # only the first in line watches the clock
                        wait = max([self.paused_until - now, *(s.delay(now) for s in self.spacing.values())])
                        if wait <= 0 and self.in_flight < int(self.window):
                            break
                        timeout = wait if wait > 0 else None  # else a call must end first: it wakes us
                    ticket.wait(timeout)
                for kind, limiter in self.spacing.items():
                    limiter.take(cost[kind], now)
                self.in_flight += 1
                self.stats.calls += 1
                self.stats.waited_s += now - began
            finally:
                head = self._queue[0] is ticket
                self._queue.remove(ticket)
                if head:
                    self._wake()  # the next in line takes over
        permit = Permit(self, step, {k: cost[k] for k in self.spacing}, now)
        if self.shared is not None:
            try:
                self.shared.take(permit.charged)
            except BaseException:
                permit.failed()
                raise
        return permit

    def _wake(self) -> None:
        """Wake the first call in line (the others wait for their turn, not for the clock). Holds `_lock`."""
        if self._queue:
            self._queue[0].notify()

    # -- outcomes --------------------------------------------------------------------------------------------
    def _release(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._wake()

    def _done(self, permit: Permit, input_tokens: int, output_tokens: int, rate: RateInfo | None) -> None:
        actual = costs(self.provider, input_tokens, output_tokens)
        if self.shared is not None:
            self.shared.settle({k: actual[k] - v for k, v in permit.charged.items()})
        with self._lock:
            now = self._clock()
            self.in_flight -= 1
            for kind, limiter in self.spacing.items():
                limiter.settle(actual[kind] - permit.charged[kind], now)
            old = self._expected_out.get(permit.step)
            self._expected_out[permit.step] = (
                float(output_tokens) if old is None else old + OUTPUT_SMOOTHING * (output_tokens - old))
            if rate is None or not self._sync(permit, rate, now):
                self.window = min(float(self.max_window), self.window + 1.0 / max(1.0, self.window))
            self._wake()

    def _throttled(self, permit: Permit, retry_after: float | None, rate: RateInfo | None) -> None:
        with self._lock:
            now = self._clock()
            self.in_flight -= 1
            self.stats.throttled += 1
            pause = retry_after if retry_after is not None else PAUSE_WITHOUT_RETRY_AFTER
            self.paused_until = max(self.paused_until, now + pause)
            self._back_off(permit, now)
            if rate is not None:
                self._adopt_limits(rate)
            self._wake()

    def _back_off(self, permit: Permit, now: float) -> None:
        """Halve the window, once per congestion: answers to calls started before the last halving add nothing."""
        if permit.admitted_at < self._last_backoff:
            return
        self.window = max(1.0, self.window / 2)
        self._last_backoff = now
        self.stats.backoffs += 1
        get_logger().info("%s: rate limit near or hit; %d calls in flight at most for now",
                          self.provider, int(self.window))

    def _adopt_limits(self, rate: RateInfo) -> None:
        """A budget the provider reports lower than configured is the real one (a lower tier than set)."""
        for kind, quota in rate.quotas.items():
            limiter = self.spacing.get(kind)
            if limiter is None or quota.limit is None or not 0 < quota.limit < limiter.per_minute:
                continue
            if kind not in self._adopted:
                self._adopted.add(kind)
                get_logger().warning("%s reports a %s budget of %g a minute, below the configured %g; pacing to it",
                                     self.provider, kind, quota.limit, limiter.per_minute)
            limiter.per_minute = quota.limit

    def _sync(self, permit: Permit, rate: RateInfo, now: float) -> bool:
        """Compare where the provider says the budget stands with where this process's own calls put it.

        If the provider will take the next call later than our spacing expects (by more than half a call's worth),
        someone else spends the same budget: wait for the provider and halve the window. True if it did.
        """
        self._adopt_limits(rate)
        slowed = False
        for kind, quota in rate.quotas.items():
            limiter = self.spacing.get(kind)
            if limiter is None or quota.remaining is None:
                continue
            need = permit.charged[kind] or 1.0  # a call like this one
            if quota.remaining >= need:
                continue
            wait = (need - quota.remaining) / limiter.rate
            if quota.reset_s is not None:
                wait = min(wait, quota.reset_s)  # it is full again by then
            if now + wait > limiter.ready + 0.5 * need / limiter.rate + 0.05:
                limiter.hold_until(now + wait)
                self._back_off(permit, now)
                slowed = True
        return slowed


_pacers: dict[tuple[str, tuple[tuple[str, float], ...], int], ProviderPacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(provider: str, budget: Mapping[str, float], max_in_flight: int) -> ProviderPacer:
    """The process-wide pacer of `provider` for these budgets: runs in one process share it, as they share the
    provider's key."""
    key = (provider, tuple(sorted((k, float(v)) for k, v in budget.items())), int(max_in_flight))
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = ProviderPacer(provider, budget, max_in_flight)
        return _pacers[key]


def all_pacers() -> list[ProviderPacer]:
    """Every pacer of this process (the runner opens and closes their shared budgets)."""
    with _pacers_lock:
        return list(_pacers.values())
