"""The benchmark's lower bound: paths that run at the same time combine by max, never by sum."""

from __future__ import annotations

import pytest

from benchmarks.run import LATENCY, combine_bound, lower_bound

# The cold day of docs/benchmarks.md: 25 papers; Anthropic answers the affiliations OpenAI left empty.
COLD_DAY = {
    "requests": {"hf": 1, "pdf": 25, "openai": 125, "anthropic": 25, "mistral": 12},
    "by_step": {"openai:affiliations": 25, "anthropic:affiliations": 2, "anthropic:review_ru": 23,
                "mistral:zh_reading": 1, "mistral:summary_zh": 11},
}


def test_overlapping_paths_take_the_longest_not_the_sum() -> None:
    assert combine_bound(0.1, [9.6, 1.4, 0.8]) == pytest.approx(9.7)
    assert combine_bound(0.1, [0.3, 0.8]) == pytest.approx(0.9)  # a longer chain dominates
    assert combine_bound(0.1, []) == pytest.approx(0.1)


def test_cold_day_bound_is_the_busiest_provider_not_plus_the_pdf_chain() -> None:
    b = lower_bound(COLD_DAY, cap=4, pdf_cap=4)
    assert b["by_provider_s"]["openai"] == pytest.approx(32 * LATENCY["llm"])  # ceil(125 / 4) rounds
    assert b["critical_path_s"] == pytest.approx(LATENCY["pdf"] + 2 * LATENCY["llm"])  # PDF → OpenAI → Anthropic
    assert b["bound_s"] == pytest.approx(0.1 + 9.6)  # 9.7 s, not 0.1 + 9.6 + 0.8 = 10.5 s
    assert b["max_speedup"] == pytest.approx(53.7 / 9.7)


def test_a_chain_longer_than_every_provider_sets_the_bound() -> None:
    stats = {"requests": {"hf": 1, "pdf": 1, "openai": 1, "anthropic": 1},
             "by_step": {"openai:affiliations": 1, "anthropic:affiliations": 1}}
    assert lower_bound(stats, cap=4, pdf_cap=4)["bound_s"] == pytest.approx(0.1 + 0.2 + 2 * 0.3)
