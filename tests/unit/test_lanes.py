"""Lanes: an LLM step waits for a thread only behind steps of its own provider (no head-of-line blocking)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from tasks.lanes import DEFAULT_LANE, LaneExecutor, step_lane

LLM = SimpleNamespace(name="llm-step")
PDF = SimpleNamespace(name="pdf-text")


def test_a_step_runs_in_the_lane_of_its_first_provider():
    assert step_lane(LLM, {"step": "review_ru"}) == "anthropic"
    assert step_lane(LLM, {"step": "zh_reading"}) == "mistral"
    assert step_lane(LLM, {"step": "topics"}) == "openai"
    assert step_lane(PDF, {"arxiv_id": "2501.00001"}) == DEFAULT_LANE


def _wait(event: threading.Event, **_: object) -> bool:
    return event.wait(10)


def _now(**_: object) -> float:
    return time.monotonic()


def test_a_full_lane_does_not_hold_up_another_provider():
    sizes = {"openai": 2, "anthropic": 2, DEFAULT_LANE: 2}
    ex = LaneExecutor(sizes, lambda task, params: step_lane(task, params))
    release = threading.Event()
    try:
        blocked = [ex.submit(_wait, release, task=LLM, parameters={"step": "topics"}) for _ in range(6)]
        began = time.monotonic()
        other = ex.submit(_now, task=LLM, parameters={"step": "review_ru"})
        assert other.result(timeout=5) - began < 1.0  # it ran at once: the OpenAI lane is full, not its own
        assert sum(f.running() for f in blocked) == 2  # OpenAI's own steps wait for its two threads
    finally:
        release.set()
        ex.shutdown(wait=True)
    assert all(f.result() for f in blocked)


def test_unknown_lanes_and_lane_errors_fall_back_to_the_default_lane():
    def broken(task, params):
        raise KeyError("no such prompt")

    ex = LaneExecutor({DEFAULT_LANE: 1}, broken)
    try:
        assert ex.lane({"task": LLM, "parameters": {"step": "x"}}) == DEFAULT_LANE
        assert ex.submit(lambda **_: 42, task=LLM, parameters={}).result(timeout=5) == 42
    finally:
        ex.shutdown()
    ex = LaneExecutor({DEFAULT_LANE: 1}, lambda task, params: "cohere")
    assert ex.lane({}) == DEFAULT_LANE
    ex.shutdown()
