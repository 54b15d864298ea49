"""Reading the three providers' rate-limit headers into one shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.llm.ratelimits import parse_duration, parse_rate_headers, parse_reset, rate_headers


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("1.5s", 1.5),
                                                 ("1h2m3s", 3723.0), ("0ms", 0.0)])
def test_openai_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "1x", "-1s"])
def test_not_durations(text):
    assert parse_duration(text) is None


def test_rfc3339_resets_are_seconds_from_now():
    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_reset("2025-01-01T00:00:30Z", now) == 30.0
    assert parse_reset("2025-01-01T00:00:00.250Z", now) == pytest.approx(0.25)
    assert parse_reset("2024-12-31T23:59:00Z", now) == 0.0  # past: now
    assert parse_reset("not a time", now) is None


def test_openai_headers():
    info = parse_rate_headers("openai", {
        "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "199000", "x-ratelimit-reset-tokens": "300ms", "retry-after-ms": "250",
        "retry-after": "1", "content-type": "application/json",
    })
    assert info is not None and info.retry_after == 0.25  # the millisecond header is the precise one
    assert info.quotas["rpm"].limit == 500 and info.quotas["rpm"].remaining == 499
    assert info.quotas["tpm"].reset_s == pytest.approx(0.3)


def test_anthropic_headers_map_input_tokens_to_its_token_budget():
    info = parse_rate_headers("anthropic", {
        "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-input-tokens-limit": "30000", "anthropic-ratelimit-input-tokens-remaining": "29000",
        "anthropic-ratelimit-output-tokens-limit": "8000", "anthropic-ratelimit-output-tokens-remaining": "7900",
        "anthropic-ratelimit-tokens-limit": "8000", "retry-after": "2",
    })
    assert info is not None and info.retry_after == 2.0
    assert set(info.quotas) == {"rpm", "tpm", "otpm"}
    assert info.quotas["tpm"].limit == 30000 and info.quotas["otpm"].remaining == 7900


def test_mistral_headers():
    info = parse_rate_headers("mistral", {
        "x-ratelimit-limit-req-minute": "60", "x-ratelimit-remaining-req-minute": "58",
        "x-ratelimit-limit-tokens-minute": "500000", "x-ratelimit-remaining-tokens-minute": "499000",
        "x-ratelimit-tokens-query-cost": "52",
    })
    assert info is not None and info.quotas["rpm"].remaining == 58 and info.quotas["tpm"].limit == 500000
    assert info.quotas["rpm"].reset_s is None and info.retry_after is None


def test_no_rate_headers_no_info():
    assert parse_rate_headers("openai", {"content-type": "application/json"}) is None
    assert parse_rate_headers("openai", None) is None
    assert rate_headers({"X-RateLimit-Remaining-Tokens": "5", "Server": "x"}) == {"x-ratelimit-remaining-tokens": "5"}
