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
from tasks.llm.runner import AwaitingBatch, LLMRuntime, StepAnswer, StepFailed
from tasks.models import Localized, StepState, Usage, ZhReading

StepFn = Callable[[LLMRuntime, dict[str, Any]], tuple[dict[str, Any], StepAnswer]]


class StepResult(BaseModel):
    """What one step produced for one paper (arxiv_id) or for the day (arxiv_id None)."""

    step: str
    arxiv_id: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    state: StepState
    usage: Usage = Field(default_factory=Usage)


def single(prompt: str, values: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> StepFn:
    """A step of one prompt (`prompts/NAME.md`, NAME = `prompt`): `values(answer, inputs)` turns the validated
    answer into the fields the step stores."""
    def run(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
        answer = rt.run(load_prompt(prompt), inputs)
        return values(answer.value, inputs), answer

    return run


def topics(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    """One call per taxonomy; names outside a taxonomy are dropped; merged in taxonomy order."""
    prompt = load_prompt("topics")
    taxonomies: dict[str, dict[str, str]] = prompt.model_extra["taxonomies"]
    chosen: list[str] = []
    usage = Usage()
    last: StepAnswer | None = None
    waiting: AwaitingBatch | None = None
    for taxonomy in taxonomies.values():
        try:
            last = rt.run(prompt, {**inputs, "taxonomy": taxonomy})
        except AwaitingBatch as exc:  # batch mode: every taxonomy's call goes into the same batch
            usage, waiting = usage + exc.usage, exc
            continue
        usage = usage + last.usage
        picked = {name.strip().upper() for name in last.value}
        chosen += [name for name in taxonomy if name in picked]
    if waiting is not None:
        waiting.usage = usage  # what the answers already used cost stays on the paper
        raise waiting
    assert last is not None
    last.usage = usage
    return {"topics": chosen}, last


def _localized(lang: str) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    return lambda answer, _: {lang: Localized(title=answer.title, desc=answer.desc)}


affiliations = single("affiliations", lambda names, _: {"affiliations": names})
review_ru = single("review_ru", lambda r, _: {"emoji": r.emoji, "ru": Localized(title=r.title, desc=r.desc)})
summary_en = single("summary_en", _localized("en"))
summary_zh = single("summary_zh", _localized("zh"))
zh_reading = single("zh_reading", lambda r, inputs: {
    "zh_reading": ZhReading(arxiv_id=inputs["arxiv_id"], **r.model_dump())})


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
