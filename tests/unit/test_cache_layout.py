"""benchmarks/cache_layout.py: the arithmetic of a cached prefix, as the providers bill it."""

from __future__ import annotations

import pytest

from benchmarks.cache_layout import Call, cached_part, layouts
from tasks.settings import DEFAULT_PRICES


def test_a_prefix_under_the_minimum_is_never_cached_and_openai_reads_in_steps_of_128() -> None:
    assert cached_part("openai", 1023) == 0 and cached_part("anthropic", 1023) == 0
    assert cached_part("openai", 1300) == 1280 and cached_part("anthropic", 1300) == 1300


def test_sharing_one_long_prefix_costs_more_than_short_uncached_ones_at_half_price() -> None:
    # Five steps of one provider, each with its own 240-token static part (under the minimum): today nothing is
    # cached; one shared 1,200-token prefix is cached from the second call on, at half price.
    statics = [chr(65 + i) * 960 for i in range(5)]
    calls = [Call("openai", "gpt-4o-mini", f"s{i}", "p1", statics[i], "x" * 400) for i in range(5)]
    res = layouts(calls)
    price = DEFAULT_PRICES["gpt-4o-mini"][0] / 1e6
    assert res["today"]["openai"] == pytest.approx(5 * (240 + 100) * price)
    one = res["one prefix"]["openai"]
    assert one > res["today"]["openai"]  # 5 × 1,200 tokens at ≥ half price > 5 × 240 at full
    shared = 5 * 240 + 5  # the joined statics and their newlines
    assert one == pytest.approx((shared + 100) * price + 4 * ((shared + 100 - 1152) * price + 1152 * price / 2),
                                rel=0.01)
