"""LLM enrichment steps: plain functions over the LLM runtime, plus the Prefect task that wraps them.

Every step returns a `StepResult` (values to store on the paper, status, usage), also when it fails, so
the flow can record the failure on the paper and the next run retries exactly that step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, Field

from tasks.llm.prompts import load_prompt
from tasks.llm.runner import LLMRuntime, StepAnswer, StepFailed, current
from tasks.models import DayFile, Localized, PaperRecord, StepState, Usage, ZhReading

LLM_STEPS: tuple[str, ...] = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh")


class StepResult(BaseModel):
    """What one step produced for one paper (arxiv_id) or for the day (arxiv_id None)."""

    step: str
    arxiv_id: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    state: StepState
    usage: Usage = Field(default_factory=Usage)


def step_inputs(step: str, paper: PaperRecord) -> dict[str, Any]:
    """The data a step's prompt is rendered from (the PDF text only for affiliations)."""
    if step == "affiliations":
        if paper.text is None:
            raise ValueError(f"{paper.arxiv_id}: affiliations need the PDF text first")
        return {"head": paper.text.head, "deep": paper.text.deep}
    return {"title": paper.title, "abstract": paper.abstract or paper.ai_summary or paper.title}


# -- per-step logic: run the prompt, turn the validated answer into stored values ---------------------

def _affiliations(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("affiliations"), inputs)
    return {"affiliations": answer.value}, answer


def _topics(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
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


def _review_ru(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("review_ru"), inputs)
    review = answer.value
    return {"emoji": review.emoji, "ru": Localized(title=review.title, desc=review.desc)}, answer


def _summary(lang: str) -> Callable[[LLMRuntime, dict[str, Any]], tuple[dict[str, Any], StepAnswer]]:
    def run(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
        answer = rt.run(load_prompt(f"summary_{lang}"), inputs)
        return {lang: Localized(title=answer.value.title, desc=answer.value.desc)}, answer

    return run


def _zh_reading(rt: LLMRuntime, inputs: dict[str, Any]) -> tuple[dict[str, Any], StepAnswer]:
    answer = rt.run(load_prompt("zh_reading"), inputs)
    reading = ZhReading(arxiv_id=inputs["arxiv_id"], **answer.value.model_dump())
    return {"zh_reading": reading}, answer


STEP_FUNCTIONS: dict[str, Callable[[LLMRuntime, dict[str, Any]], tuple[dict[str, Any], StepAnswer]]] = {
    "affiliations": _affiliations,
    "topics": _topics,
    "review_ru": _review_ru,
    "summary_en": _summary("en"),
    "summary_zh": _summary("zh"),
    "zh_reading": _zh_reading,
}


def run_step(rt: LLMRuntime, step: str, arxiv_id: str | None, inputs: dict[str, Any]) -> StepResult:
    """Run one step; a chain failure becomes a StepResult with status error/skipped/deferred."""
    try:
        values, answer = STEP_FUNCTIONS[step](rt, inputs)
    except StepFailed as exc:
        return StepResult(
            step=step, arxiv_id=arxiv_id, usage=exc.usage, state=StepState(status=exc.status, error=str(exc)),
        )
    note = "; ".join(answer.notes) or None
    return StepResult(
        step=step, arxiv_id=arxiv_id, values=values, usage=answer.usage,
        state=StepState(status="ok", provider=answer.provider, model=answer.model, error=note),
    )


# -- Prefect task -------------------------------------------------------------------------------------

@task(
    name="llm-step",
    task_run_name="{step}-{label}",
    # The answer cache (tasks/llm/cache.py) is the cache here: keyed per provider call on the prompt
    # file, model, params and input, shared across days and processes, and it never stores failures.
    cache_policy=NO_CACHE,
    retries=0,  # retrying is done per call inside the runner, honouring Retry-After
)
def llm_step(step: str, label: str, arxiv_id: str | None, inputs: dict[str, Any]) -> State:
    """One LLM step for one paper (or the day). Failed steps end Failed in the dashboard, with the result."""
    result = run_step(current(), step, arxiv_id, inputs)
    status = result.state.status
    if status == "ok":
        return Completed(data=result, message=f"{result.state.provider}/{result.state.model}")
    if status == "error":
        return Failed(data=result, message=result.state.error)
    return Completed(data=result, name=status.capitalize(), message=result.state.error)


def apply_result(day: DayFile, result: StepResult) -> None:
    """Store a step's values and status on its paper (or the day) and add its usage to the totals."""
    target: DayFile | PaperRecord | None = day if result.arxiv_id is None else day.paper(result.arxiv_id)
    if target is None:
        return
    previous = target.steps.get(result.step)
    if previous is not None and previous.status != "ok":
        result.state.attempts = previous.attempts + 1
    if result.state.status == "ok":
        for key, value in result.values.items():
            setattr(target, key, value)
    target.steps[result.step] = result.state
    if isinstance(target, PaperRecord):
        target.usage = target.usage + result.usage
    day.usage = day.usage + result.usage
