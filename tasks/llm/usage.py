"""Token accounting, prices and the per-run spending cap."""

from __future__ import annotations

import threading

from tasks.errors import HfDailyError
from tasks.models import Usage


class BudgetExceeded(HfDailyError):
    """The run reached its --max-cost: no new LLM call starts; the next run picks up what is left."""


def cost_usd(model: str, input_tokens: int, output_tokens: int, prices: dict[str, tuple[float, float]]) -> float:
    """Cost from a per-1M-token price table; an unknown model costs 0 (and is visible as such)."""
    price_in, price_out = prices.get(model, (0.0, 0.0))
    return round((input_tokens * price_in + output_tokens * price_out) / 1_000_000, 8)


class UsageMeter:
    """Thread-safe running total of a run's LLM usage, with an optional spending cap."""

    def __init__(self, max_cost: float | None = None) -> None:
        self.max_cost = max_cost
        self._total = Usage()
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
            if self.max_cost is not None and self._total.cost_usd >= self.max_cost:
                raise BudgetExceeded(
                    f"budget of ${self.max_cost:g} reached (${self._total.cost_usd:.6f} spent); "
                    "left for the next run"
                )

    def add(self, usage: Usage) -> None:
        with self._lock:
            self._total = self._total + usage

    @property
    def exhausted(self) -> bool:
        try:
            self.check()
        except BudgetExceeded:
            return True
        return False
