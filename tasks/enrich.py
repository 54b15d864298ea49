"""LLM enrichment: the plain functions behind the LLM steps, and the `StepResult` every step ends in.

Each function runs its prompt(s) through the LLM runtime and turns the validated answer into the values the
step stores. `run_step` wraps one into a `StepResult` (values, status, usage), also when it fails, so the flow
records the failure on the paper and the next run retries exactly that step. Which function serves which
step, and what it reads, is declared in the step registry (tasks/steps.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from tasks.llm.prompts import load_prompt
from tasks.llm.runner import LLMRuntime, StepAnswer, StepFailed
from tasks.models import Localized, StepState, Usage, ZhReading

StepFn = Callable[[LLMRuntime, dict[str, Any]], tuple[dict[str, Any], StepAnswer]]


class StepResult(BaseModel):
    """What one step produced for one paper (arxiv_id) or for the day (arxiv_id None)."""

    step: str
    arxiv_id: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    state: StepState
    usage: Usage = Field(default_factory=Usage)


def affiliations(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("affiliations"), inputs)
    return {"affiliations": answer.value}, answer


def topics(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    """One call per taxonomy; names outside a taxonomy are dropped; merged in taxonomy order."""
    prompt = load_prompt("topics")
    taxonomies: dict[str, dict[str, str]] = prompt.model_extra["taxonomies"]
    chosen: list[str] = []
    usage = Usage()
    last: StepAnswer | None = None
    for taxonomy in taxonomies.values():
        last = rt.run(prompt, {**inputs, "taxonomy": taxonomy})
        usage = usage + last.usage
        picked = {name.strip().upper() for name in last.value}
        chosen += [name for name in taxonomy if name in picked]
    assert last is not None
    last.usage = usage
    return {"topics": chosen}, last


def review_ru(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("review_ru"), inputs)
    review = answer.value
    return {"emoji": review.emoji, "ru": Localized(title=review.title, desc=review.desc)}, answer


def summary(lang: str) -> StepFn:
    def run(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
        answer = rt.run(load_prompt(f"summary_{lang}"), inputs)
        return {lang: Localized(title=answer.value.title, desc=answer.value.desc)}, answer

    return run


def zh_reading(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("zh_reading"), inputs)
    reading = ZhReading(arxiv_id=inputs["arxiv_id"], **answer.value.model_dump())
    return {"zh_reading": reading}, answer


def run_step(rt: LLMRuntime, step: str, fn: StepFn, arxiv_id: str | None, inputs: dict[str, Any]) -> StepResult:
    """Run one LLM step; a chain failure becomes a StepResult with status error/skipped/deferred."""
    try:
        values, answer = fn(rt, inputs)
    except StepFailed as exc:
        return StepResult(
            step=step, arxiv_id=arxiv_id, usage=exc.usage, state=StepState(status=exc.status, error=str(exc)),
        )
    note = "; ".join(answer.notes) or None
    return StepResult(
        step=step, arxiv_id=arxiv_id, values=values, usage=answer.usage,
        state=StepState(status="ok", provider=answer.provider, model=answer.model, error=note),
    )
