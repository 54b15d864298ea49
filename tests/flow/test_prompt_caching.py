"""A day's second paper reads the static part of each prompt from the provider's prompt cache."""

from __future__ import annotations

from flows.daily import daily_digest
from tasks.settings import Settings
from tasks.store import load_day

DATE = "2025-01-23"


def _cached_by_provider(sandbox) -> dict[str, tuple[int, int]]:
    """provider -> (cached input tokens, input tokens), from the sandbox's request log."""
    out: dict[str, tuple[int, int]] = {}
    for r in sandbox.requests():
        if r.get("target") in ("openai", "anthropic", "mistral") and r.get("status") == 200:
            cached, total = out.get(r["target"], (0, 0))
            out[r["target"]] = (cached + r.get("cached_tokens", 0), total + r.get("input_tokens", 0))
    return out


def test_a_days_prompts_hit_each_providers_cache_and_cost_less(env, sandbox, monkeypatch):
    # The sandbox caches from 64 tokens here: the prompts' static parts (80-400 tokens) are shorter than the
    # real providers' 1,024-token minimum (README, "Prompt caching").
    sandbox.prompt_cache(min_tokens=64)
    daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    seen = _cached_by_provider(sandbox)
    assert seen["openai"][0] > 0 and seen["anthropic"][0] > 0
    assert day.usage.cached_input_tokens == sum(c for c, _ in seen.values()) > 0
    assert day.usage.cache_write_tokens > 0  # Anthropic wrote the marked prefix once
    assert any(p.usage.cached_input_tokens > 0 for p in day.papers)

    # The same day without a prompt cache: the same calls, at a higher price.
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(env / "data-uncached"))
    sandbox.reset()
    sandbox.config(papers_per_day=5)
    sandbox.prompt_cache(min_tokens=1_000_000)
    daily_digest(date=DATE, render=False)
    uncached = load_day(Settings(), DATE)
    assert uncached.usage.cached_input_tokens == 0 and uncached.usage.calls == day.usage.calls
    assert day.usage.cost_usd < uncached.usage.cost_usd


def test_mistral_prompts_hit_its_cache(env, sandbox):
    sandbox.prompt_cache(min_tokens=64)
    sandbox.faults([{"target": "openai", "status": 500}])  # topics and affiliations go to Mistral
    daily_digest(date=DATE, render=False)
    seen = _cached_by_provider(sandbox)
    assert seen["mistral"][0] > 0
    assert load_day(Settings(), DATE).usage.cached_input_tokens >= seen["mistral"][0]
