"""Token accounting, prices and the per-run spending cap."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from tasks.errors import HfDailyError
from tasks.models import Usage


class BudgetExceeded(HfDailyError):
    """The run reached its --max-cost: no new LLM call starts; the next run picks up what is left."""


def cost_usd(
    model: str, input_tokens: int, output_tokens: int, prices: Mapping[str, Sequence[float]], *,
    cached_tokens: int = 0, cache_write_tokens: int = 0, factor: float = 1.0,
) -> float:
    """Cost from a per-1M-token price table (settings.DEFAULT_PRICES); an unknown model costs 0 (and is visible as
    such). `input_tokens` counts every input token; of them, `cached_tokens` are billed at the cached-input price
    and `cache_write_tokens` at the cache-write price (a price table of two numbers has neither discount).
    `factor` scales the whole (a batch's price, settings.batch_price_factor)."""
    price = tuple(prices.get(model, (0.0, 0.0)))
    price_in, price_out = price[0], price[1]
    price_cached = price[2] if len(price) > 2 else price_in
    price_write = price[3] if len(price) > 3 else price_in
    plain = max(0, input_tokens - cached_tokens - cache_write_tokens)
    total = plain * price_in + cached_tokens * price_cached + cache_write_tokens * price_write
    return round(factor * (total + output_tokens * price_out) / 1_000_000, 8)


class UsageMeter:
    """Thread-safe running total of a run's LLM usage, with an optional spending cap."""

    def __init__(self, max_cost: float | None = None) -> None:
        self.max_cost = max_cost
        self._total = Usage()
        self._reserved = 0.0  # batch mode: what the calls this run queued may cost once a batch answers them
        self._lock = threading.Lock()
        self._stopped: str | None = None

    def stop(self, reason: str) -> None:
        """No new paid call from now on (the run lost its date to another run, say); `check` raises with reason."""
        with self._lock:
            self._stopped = reason

    def check(self) -> None:
        """Raise BudgetExceeded when the cap is reached or the run was stopped; called before every paid call."""
        with self._lock:
            if self._stopped is not None:
                raise BudgetExceeded(f"{self._stopped}; left for the next run")
            if self.max_cost is not None and self._total.cost_usd + self._reserved >= self.max_cost:
                queued = f", ${self._reserved:.6f} queued for batches" if self._reserved else ""
                raise BudgetExceeded(
                    f"budget of ${self.max_cost:g} reached (${self._total.cost_usd:.6f} spent{queued}); "
                    "left for the next run"
                )

    def add(self, usage: Usage) -> None:
        with self._lock:
            self._total = self._total + usage

    def reserve(self, cost: float) -> None:
        """Batch mode: count a queued call's estimated cost against the cap (checked before it is queued)."""
        self.check()
        with self._lock:
            self._reserved += cost

    @property
    def reserved(self) -> float:
        return self._reserved

    @property
    def exhausted(self) -> bool:
        try:
            self.check()
        except BudgetExceeded:
            return True
        return False
