"""What a provider's response headers say about its rate limits, in one shape for the three providers.

OpenAI sends `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (resets as durations: `1s`, `6m0s`, `120ms`);
Anthropic `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining,reset}` (resets as RFC 3339
times); Mistral `x-ratelimit-{limit,remaining}-{req,tokens}-minute`. All send `retry-after` on a 429 (OpenAI also
`retry-after-ms`). Pure functions: the pacer (tasks/llm/pacing.py) decides what to do with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tasks.http import parse_retry_after


@dataclass(frozen=True)
class Quota:
    """One limit as a response reported it: per minute, what is left, seconds until it is full again."""

    limit: float | None = None
    remaining: float | None = None
    reset_s: float | None = None


@dataclass(frozen=True)
class RateInfo:
    """Where the caller stands, by budget kind (`rpm`, `tpm`, `otpm`, as in Settings.budget), and retry-after."""

    quotas: Mapping[str, Quota]
    retry_after: float | None = None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# Header name parts per provider and budget kind.
_NAMES: dict[str, dict[str, tuple[str, str, str]]] = {
    "openai": {
        "rpm": ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        "tpm": ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    },
    "anthropic": {
        kind: (f"anthropic-ratelimit-{name}-limit", f"anthropic-ratelimit-{name}-remaining",
               f"anthropic-ratelimit-{name}-reset")
        for kind, name in (("rpm", "requests"), ("tpm", "input-tokens"), ("otpm", "output-tokens"))
    },
    "mistral": {
        "rpm": ("x-ratelimit-limit-req-minute", "x-ratelimit-remaining-req-minute", ""),
        "tpm": ("x-ratelimit-limit-tokens-minute", "x-ratelimit-remaining-tokens-minute", ""),
    },
}


def parse_duration(value: str | None) -> float | None:
    """`6m0s` → 360.0, `120ms` → 0.12, `1.5s` → 1.5; None when it is not such a duration."""
    if not value:
        return None
    parts = _DURATION.findall(value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip():
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def parse_reset(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds until a reset given as a duration (`1s`) or an RFC 3339 time (`2025-01-01T00:00:01Z`)."""
    if not value:
        return None
    if (seconds := parse_duration(value)) is not None:
        return seconds
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_rate_headers(provider: str, headers: Mapping[str, str] | None) -> RateInfo | None:
    """The rate-limit facts of a response's headers; None when it carries none."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    quotas: dict[str, Quota] = {}
    for kind, (limit, remaining, reset) in _NAMES.get(provider, {}).items():
        quota = Quota(_number(lower.get(limit)), _number(lower.get(remaining)),
                      parse_reset(lower.get(reset)) if reset else None)
        if quota.limit is not None or quota.remaining is not None:
            quotas[kind] = quota
    retry_ms = _number(lower.get("retry-after-ms"))
    retry_after = retry_ms / 1000 if retry_ms is not None else parse_retry_after(lower.get("retry-after"))
    if not quotas and retry_after is None:
        return None
    return RateInfo(quotas, retry_after)


def rate_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Only the rate-limit headers of a response (what a Completion keeps)."""
    if not headers:
        return {}
    return {k.lower(): v for k, v in headers.items()
            if "ratelimit" in k.lower() or k.lower() in ("retry-after", "retry-after-ms")}
