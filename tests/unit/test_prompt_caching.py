"""Prompt caching: the prompt layout, the cost of cached tokens, and the real SDKs reading the sandbox's caches."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox.prompt_cache import PromptCache, anthropic_breakpoints
from sandbox.server import RunningSandbox, start
from tasks.llm.prompts import STATIC_END, load_prompt
from tasks.llm.providers import CLIENTS, Completion, anthropic_content
from tasks.llm.runner import completion_usage
from tasks.llm.usage import cost_usd
from tasks.settings import DEFAULT_PRICES

INPUTS = {"title": "A paper", "abstract": "Words " * 40, "head": "Univ A", "deep": "Univ A", "text": "x"}


def test_cached_tokens_cost_the_cached_price() -> None:
    prices = {"m": (2.0, 8.0, 0.2, 2.5)}
    plain = cost_usd("m", 1_000_000, 0, prices)
    assert plain == 2.0
    assert cost_usd("m", 1_000_000, 0, prices, cached_tokens=600_000) == pytest.approx(0.8 + 0.12)
    assert cost_usd("m", 1_000_000, 0, prices, cache_write_tokens=1_000_000) == 2.5
    assert cost_usd("m", 1_000_000, 1_000_000, prices, factor=0.5) == 5.0
    assert cost_usd("m2", 1_000_000, 0, {"m2": (1.0, 1.0)}, cached_tokens=500_000) == 1.0  # no discount given
    for model, price in DEFAULT_PRICES.items():  # every model says what its cached input costs
        assert len(price) == 4 and price[2] < price[0], model


def test_usage_records_cached_tokens_and_their_price() -> None:
    done = Completion("{}", "gpt-4o-mini", input_tokens=2000, output_tokens=100, cached_tokens=1024)
    usage = completion_usage(done, "gpt-4o-mini", dict(DEFAULT_PRICES))
    uncached = completion_usage(Completion("{}", "gpt-4o-mini", 2000, 100), "gpt-4o-mini", dict(DEFAULT_PRICES))
    assert usage.cached_input_tokens == 1024 and usage.cost_usd < uncached.cost_usd
    assert (usage + uncached).cached_input_tokens == 1024


@pytest.mark.parametrize("step", ["affiliations", "topics", "review_ru", "summary_en", "summary_zh", "zh_reading"])
def test_every_prompt_puts_its_static_part_first(step: str) -> None:
    prompt = load_prompt(step)
    assert STATIC_END in prompt.body
    entry = prompt.chain[0]
    inputs = dict(INPUTS)
    if step == "topics":
        inputs["taxonomy"] = prompt.model_extra["taxonomies"]["core"]
    statics = set()
    for title in ("First paper", "Second paper"):
        user = prompt.render(entry, {**inputs, "title": title, "head": title, "abstract": title * 9})
        static = prompt.split(user, entry, inputs)
        assert static and user.startswith(static) and title not in static
        statics.add(static)
    assert len(statics) == 1  # the same for every paper


def test_anthropic_marks_the_static_block() -> None:
    blocks = anthropic_content("static part\nper paper", "static part\n")
    assert blocks[0] == {"type": "text", "text": "static part\n", "cache_control": {"type": "ephemeral"}}
    assert anthropic_content("no static", "") == "no static"
    body = {"system": "sys", "messages": [{"role": "user", "content": blocks}]}
    assert anthropic_breakpoints(body) == [len("sys\nstatic part\n")]


def test_sandbox_caches_prefixes_per_provider_and_ttl() -> None:
    cache = PromptCache()
    cache.configure(min_tokens=16, ttl=60)
    static = "s" * 200  # 50 sandbox tokens
    assert cache.automatic("openai", "m", static + "paper one") == 0
    assert cache.automatic("openai", "m", static + "paper two") == 16  # the longest stored prefix that matches
    assert cache.automatic("mistral", "m", static + "paper two") == 0  # each provider has its own cache
    assert cache.automatic("openai", "m", "short") == 0
    text = static + "x"
    assert cache.marked("m", text, []) == (0, 0)  # Anthropic caches only what is marked
    assert cache.marked("m", text, [200]) == (0, 50)
    assert cache.marked("m", static + "y", [200]) == (50, 0)
    short = PromptCache()
    short.configure(min_tokens=16, ttl=0.05)
    assert short.marked("m", text, [200]) == (0, 50)
    time.sleep(0.1)
    assert short.marked("m", text, [200]) == (0, 50)  # expired: written again


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with start() as running:
        running.state.prompt_cache.configure(min_tokens=64)
        yield running


@pytest.mark.parametrize("provider", ["openai", "anthropic", "mistral"])
def test_second_call_reads_the_cache_through_the_real_sdk(box: RunningSandbox, provider: str) -> None:
    base = {"openai": "/openai/v1", "anthropic": "/anthropic", "mistral": "/mistral"}[provider]
    client = CLIENTS[provider]("sandbox-key", box.url + base, 10.0)
    prompt = load_prompt("review_ru")
    entry = prompt.chain[0]
    done = []
    for title in ("Paper one", "Paper two"):
        user = prompt.render(entry, {**INPUTS, "title": title})
        static = prompt.split(user, entry, INPUTS)
        done.append(client.complete(model=entry.model, system=prompt.system, user=user, temperature=0,
                                    max_tokens=300, schema=None, step=prompt.step, static=static))
    first, second = done
    assert first.cached_tokens == 0 and second.cached_tokens > 0
    assert second.cached_tokens < second.input_tokens
    if provider == "anthropic":
        assert first.cache_write_tokens == second.cached_tokens
    price = dict(DEFAULT_PRICES)
    assert completion_usage(second, entry.model, price).cost_usd < completion_usage(
        Completion(second.text, second.model, second.input_tokens, second.output_tokens), entry.model, price).cost_usd


def test_the_run_line_says_what_came_from_batches_and_prompt_caches() -> None:
    from tasks.models import DayFile, RunRecord, Usage
    from tasks.report import summary_line

    day = DayFile(date="2025-01-23")
    plain = RunRecord.model_construct(new=0, updated=0, vanished=0, failed=0, usage=Usage(calls=2, cost_usd=0.1))
    assert summary_line(day, plain).endswith("2 LLM calls, 0 cached, $0.1000")
    used = Usage(calls=2, batch_calls=2, input_tokens=1000, cached_input_tokens=250, cost_usd=0.05)
    line = summary_line(day, RunRecord.model_construct(new=0, updated=0, vanished=0, failed=0, usage=used))
    assert line.endswith("2 of the calls through batches, 25% of input tokens from prompt caches")
