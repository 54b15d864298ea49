"""The Prefect tasks that run registered steps: one per kind of step, and how each outcome becomes a StepResult.

`submit` starts a step of the registry for one paper (or the day) on the flow's task runner; `result_of` turns
what its future holds (a StepResult, a PDF text or picture, or an exception) into the StepResult the store applies.
A step submitted with `wait_for` futures shows in the dashboard's graph as depending on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.states import Completed, Failed, State

from tasks.enrich import StepResult, run_step
from tasks.errors import HfDailyError
from tasks.llm.runner import current
from tasks.models import DayFile, PaperRecord, StepState
from tasks.pdf.image_task import CACHE_FOLDER as IMAGE_CACHE_FOLDER
from tasks.pdf.image_task import pdf_image_task
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import pdf_result_storage, pdf_text_task
from tasks.retrying import retry_options
from tasks.settings import Settings
from tasks.steps import STEPS, Step


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
    spec = STEPS[step]
    assert spec.run is not None, f"{step} is not an LLM step"
    result = run_step(current(), step, spec.run, arxiv_id, inputs)
    status = result.state.status
    if status == "ok":
        return Completed(data=result, message=f"{result.state.provider}/{result.state.model}")
    if status == "error":
        return Failed(data=result, message=result.state.error)
    return Completed(data=result, name=status.capitalize(), message=result.state.error)


def submit(step: Step, target: PaperRecord | DayFile, settings: Settings,
           wait_for: Sequence[PrefectFuture] = ()) -> PrefectFuture | None:
    """Start `step` for a paper (or the day); None when the step has nothing to work on."""
    if step.kind == "pdf":
        assert isinstance(target, PaperRecord)
        pdf_task = pdf_text_task.with_options(result_storage=pdf_result_storage(settings.data),
                                              **retry_options(settings))
        return pdf_task.submit(target.arxiv_id, PdfOptions.from_settings(settings), wait_for=list(wait_for))
    if step.kind == "image":
        assert isinstance(target, PaperRecord)
        image_task = pdf_image_task.with_options(
            result_storage=pdf_result_storage(settings.data, IMAGE_CACHE_FOLDER), **retry_options(settings))
        return image_task.submit(target.arxiv_id, PdfOptions.from_settings(settings), settings.data.url,
                                 wait_for=list(wait_for))
    assert step.inputs is not None
    inputs = step.inputs(target)
    if inputs is None:
        return None
    arxiv_id = target.arxiv_id if isinstance(target, PaperRecord) else None
    label = arxiv_id or target.date  # type: ignore[union-attr]
    return llm_step.submit(step=step.name, label=label, arxiv_id=arxiv_id, inputs=inputs, wait_for=list(wait_for))


def result_of(fut: PrefectFuture, step: Step, arxiv_id: str | None) -> StepResult:
    """The step's StepResult; a PDF text, a picture or a raised exception is turned into one."""
    outcome = fut.result(raise_on_failure=False)
    if isinstance(outcome, StepResult):
        return outcome
    if isinstance(outcome, BaseException):
        reason = str(outcome) if isinstance(outcome, HfDailyError) else f"{type(outcome).__name__}: {outcome}"
        return StepResult(step=step.name, arxiv_id=arxiv_id, state=StepState(status="error", error=reason[:500]))
    (field,) = step.fields
    return StepResult(step=step.name, arxiv_id=arxiv_id, values={field: outcome}, state=StepState(status="ok"))
