"""Provider-like rate limits, long-tailed latency and a time scale for the sandbox's LLM APIs (all off by default).

Real APIs meter requests and tokens per minute, say in response headers where a caller stands, and answer 429
with `retry-after` past a limit; their latencies have long tails. The sandbox models each per-minute limit as a
bucket that refills continuously at limit/60 per second and holds `burst_s` seconds of it: the providers say they
enforce per-minute limits over shorter intervals, so a caller cannot spend a whole minute's budget at once. A
request is admitted when every bucket of its provider holds its cost (a request larger than a bucket needs a full
one and leaves it in debt); otherwise it is refused at once, before any latency.

Tokens are charged on admission, input and output together: the sandbox knows its answer before it sends it.
(Real APIs reserve `max_tokens` on admission and settle at the end; with their minute-long buckets that comes to
the same rate, and charging the real cost keeps a run's lower bound exact: benchmarks/scale.py.)

Time: the sandbox's clock runs `time_scale` times faster than the wall clock. Limits are per simulated minute and
latencies are drawn in simulated seconds; what the sandbox sleeps and what its headers say (retry-after, resets) are
wall-clock seconds. A client whose budgets are the limits × time_scale sees a provider `time_scale` times faster.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

LLM_PROVIDERS = ("openai", "anthropic", "mistral")
# Which per-minute limits each provider has. `tpm` is what the provider calls its token limit: input + output
# tokens for OpenAI and Mistral, input tokens for Anthropic (ITPM), whose output tokens have their own `otpm`.
KINDS: dict[str, tuple[str, ...]] = {
    "openai": ("rpm", "tpm"),
    "anthropic": ("rpm", "tpm", "otpm"),
    "mistral": ("rpm", "tpm"),
}
_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


@dataclass
class Bucket:
    """A per-minute limit as a continuously refilled bucket of `burst_s` seconds of it (simulated time)."""

    per_minute: float
    burst_s: float
    level: float = field(default=-1.0)
    at: float = 0.0

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst_s <= 0:
            raise ValueError("limits and burst_s must be positive")
        if self.level < 0:
            self.level = self.capacity

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0

    @property
    def capacity(self) -> float:
        return self.rate * self.burst_s

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, cost: float, now: float) -> float:
        """Simulated seconds until `cost` fits (a cost above the capacity needs a full bucket); 0: it fits now."""
        self.refill(now)
        need = min(cost, self.capacity)
        return 0.0 if self.level >= need - 1e-9 else (need - self.level) / self.rate

    def take(self, cost: float) -> None:
        self.level -= cost

    def full_in(self) -> float:
        """Simulated seconds until the bucket is full again (what the providers call the limit's reset)."""
        return max(0.0, (self.capacity - self.level) / self.rate)


@dataclass(frozen=True)
class LogNormal:
    """A long-tailed latency set by its median and 99th percentile (seconds)."""

    median: float
    p99: float

    def __post_init__(self) -> None:
        if not (0 < self.median <= self.p99):
            raise ValueError("latency needs 0 < median <= p99")

    @property
    def sigma(self) -> float:
        return math.log(self.p99 / self.median) / _Z99

    def draw(self, rng: random.Random) -> float:
        return self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "p99": self.p99}


def parse_latency(value: Any) -> float | LogNormal:
    """A fixed latency (seconds) or `{"median": s, "p99": s}` for a log-normal one."""
    if isinstance(value, dict):
        if set(value) != {"median", "p99"}:
            raise ValueError("a latency distribution is {'median': s, 'p99': s}")
        return LogNormal(float(value["median"]), float(value["p99"]))
    return max(0.0, float(value))


@dataclass
class Verdict:
    """The outcome of an admission: `wait` 0 means admitted; else the bucket that refused and for how long."""

    wait: float = 0.0  # simulated seconds
    refused_by: str | None = None
    charged: dict[str, float] = field(default_factory=dict)


class Limits:
    """Every provider's buckets and the sandbox's clock. Not thread-safe: SandboxState holds the lock."""

    def __init__(self) -> None:
        self.time_scale = 1.0
        self.burst_s = 1.0
        self.per_minute: dict[str, dict[str, float]] = {p: {} for p in LLM_PROVIDERS}
        self.buckets: dict[str, dict[str, Bucket]] = {p: {} for p in LLM_PROVIDERS}
        self._t0 = time.monotonic()

    # -- configuration ---------------------------------------------------------------------------------
    def configure(self, raw: Any) -> dict[str, Any]:
        """Merge `{"openai": {"rpm": n, "tpm": n}, …, "burst_s": s, "time_scale": x}`; null or 0 removes a limit.

        Buckets start full whenever they are (re)configured.
        """
        if not isinstance(raw, dict):
            raise ValueError("limits are a JSON object")
        unknown = set(raw) - {*LLM_PROVIDERS, "burst_s", "time_scale"}
        if unknown:
            raise ValueError(f"unknown limit keys {sorted(unknown)}; use {list(LLM_PROVIDERS)}, burst_s, time_scale")
        per_minute = {p: dict(v) for p, v in self.per_minute.items()}
        for provider in LLM_PROVIDERS:
            given = raw.get(provider)
            if given is None:
                continue
            if not isinstance(given, dict) or set(given) - set(KINDS[provider]):
                raise ValueError(f"{provider} limits take {list(KINDS[provider])}")
            for kind, value in given.items():
                if value in (None, 0):
                    per_minute[provider].pop(kind, None)
                elif not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{provider}.{kind} must be a positive number per minute")
                else:
                    per_minute[provider][kind] = float(value)
        burst_s = float(raw.get("burst_s", self.burst_s))
        time_scale = float(raw.get("time_scale", self.time_scale))
        if burst_s <= 0 or time_scale <= 0:
            raise ValueError("burst_s and time_scale must be positive")
        now = self.now()
        self.time_scale, self.burst_s, self.per_minute = time_scale, burst_s, per_minute
        self._t0 = time.monotonic() - now / time_scale  # the simulated clock goes on where it was
        self.buckets = {p: {k: Bucket(v, burst_s, at=now) for k, v in kinds.items()}
                        for p, kinds in per_minute.items()}
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        return {**{p: dict(v) for p, v in self.per_minute.items()}, "burst_s": self.burst_s,
                "time_scale": self.time_scale}

    # -- time ------------------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._t0) * self.time_scale

    def real(self, simulated_s: float) -> float:
        return simulated_s / self.time_scale

    # -- admission -------------------------------------------------------------------------------------
    def costs(self, provider: str, input_tokens: int, output_tokens: int) -> dict[str, float]:
        tokens = input_tokens if provider == "anthropic" else input_tokens + output_tokens
        return {"rpm": 1.0, "tpm": float(tokens), "otpm": float(output_tokens)}

    def admit(self, provider: str, input_tokens: int, output_tokens: int) -> Verdict:
        buckets = self.buckets.get(provider) or {}
        if not buckets:
            return Verdict()
        now = self.now()
        costs = self.costs(provider, input_tokens, output_tokens)
        waits = {kind: b.wait_for(costs[kind], now) for kind, b in buckets.items()}
        kind = max(waits, key=lambda k: waits[k])
        if waits[kind] > 0:
            return Verdict(wait=waits[kind], refused_by=kind)
        for k, b in buckets.items():
            b.take(costs[k])
        return Verdict(charged={k: costs[k] for k in buckets})

    def snapshot(self, provider: str) -> dict[str, dict[str, float]]:
        """Per limit, in wall-clock terms: the limit per minute, what is left now, seconds until the bucket is full.

        With a time scale the limit is per wall-clock minute (× time_scale): a client sees one consistent, faster
        provider, whose budgets it is configured with."""
        now = self.now()
        out = {}
        for kind, b in (self.buckets.get(provider) or {}).items():
            b.refill(now)
            out[kind] = {"limit": b.per_minute * self.time_scale, "remaining": max(0.0, b.level),
                         "reset_s": self.real(b.full_in())}
        return out
