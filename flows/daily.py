"""The daily digest of one date: feed → PDFs → LLM steps → day file → pages.

Reads top to bottom: resolve the date, take the date's lock, fold the feed into the stored day, run
every step that is not finished yet (concurrently, bounded), store results as they arrive, render.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.dates import resolve_date
from tasks.enrich import LLM_STEPS, StepResult, apply_result, llm_step, step_inputs
from tasks.errors import HfDailyError, InvalidDateError
from tasks.feed import fetch_feed
from tasks.llm import runner
from tasks.log import get_logger
from tasks.models import DayFile, PaperRecord, RunRecord, StepState, Usage, utcnow
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import pdf_result_storage, pdf_text_task
from tasks.report import publish_progress, publish_run_artifacts
from tasks.retrying import retry_options
from tasks.settings import Settings
from tasks.store import day_lock, load_day, merge_feed, save_day

SAVE_EVERY_S = 1.0  # results arrive in bursts; one atomic write per second is plenty


def daily_run_name() -> str:
    """`daily-YYYY-MM-DD` from the run's parameters or its scheduled date."""
    try:
        date = resolve_date(flow_run.parameters.get("date"), flow_run.scheduled_start_time)
    except InvalidDateError:
        date = "invalid-date"
    return f"daily-{date}"


class SettingsThreadPool(ThreadPoolTaskRunner):
    """A thread pool of HFDAILY_MAX_WORKERS threads, read when a run starts (not when this module is imported)."""

    def __enter__(self) -> SettingsThreadPool:
        self._max_workers = Settings().max_workers
        return super().__enter__()


@flow(name="daily", flow_run_name=daily_run_name, log_prints=True, task_runner=SettingsThreadPool())
def daily_digest(date: str | None = None, max_cost: float | None = None, render: bool = True) -> dict[str, Any]:
    """Fetch, enrich and store one day of HF Daily Papers (no date: the scheduled date, else today UTC)."""
    settings = Settings()
    day_str = resolve_date(date, flow_run.scheduled_start_time if flow_run.id else None)
    log = get_logger()
    started = utcnow()
    rt = runner.configure(settings, max_cost)
    try:
        with day_lock(settings, day_str):
            papers = fetch_feed.with_options(**retry_options(settings))(
                day_str, settings.hf_url, settings.feed_page_size, settings.http_timeout, settings.retry_max_wait
            )
            day = load_day(settings, day_str)
            merged = merge_feed(day, papers)
            save_day(settings, day)
            log.info("%s: %d in feed, %d new, %d updated, %d vanished",
                     day_str, len(papers), merged.new, merged.updated, merged.vanished)
            usage = _run_steps(day, settings, rt)
            record = RunRecord(
                started_at=started, finished_at=utcnow(), flow_run_id=str(flow_run.id or "") or None,
                new=merged.new, updated=merged.updated, vanished=merged.vanished,
                failed=sum(p.failed for p in day.papers), usage=usage,
                note=f"stopped at the budget of ${rt.meter.max_cost:g}" if rt.meter.exhausted else None,
            )
            day.runs.append(record)
            save_day(settings, day)
    finally:
        runner.release()
    pages = _render(settings, day_str) if render else []
    summary = publish_run_artifacts(settings, day, record, pages)
    log.info("%s: done - %s", day_str, summary["line"])
    return summary


def _render(settings: Settings, date: str) -> list[str]:
    from tasks.render import render_for_day

    return [str(p) for p in render_for_day(settings, date)]


def _run_steps(day: DayFile, settings: Settings, rt: runner.LLMRuntime) -> Usage:
    """Submit every unfinished step, store each result as it arrives; affiliations wait for the PDF.

    Returns this run's LLM usage: paid calls (also those whose answers were rejected) and cache hits.
    """
    pdf_task = pdf_text_task.with_options(result_storage=pdf_result_storage(settings.cache_dir),
                                          **retry_options(settings))
    pending: dict[PrefectFuture, tuple[str | None, str]] = {}

    def submit(step: str, paper: PaperRecord | None, inputs: dict[str, Any]) -> None:
        if rt.meter.exhausted:
            return  # the budget is spent: leave the step for the next run
        arxiv_id = paper.arxiv_id if paper else None
        fut = llm_step.submit(step=step, label=arxiv_id or day.date, arxiv_id=arxiv_id, inputs=inputs)
        pending[fut] = (arxiv_id, step)

    for paper in day.papers:
        todo = paper.pending_steps()
        if "pdf" in todo:
            fut = pdf_task.submit(paper.arxiv_id, PdfOptions.from_settings(settings))
            pending[fut] = (paper.arxiv_id, "pdf")
        elif "affiliations" in todo:
            submit("affiliations", paper, step_inputs("affiliations", paper))
        for step in LLM_STEPS[1:]:
            if step in todo:
                submit(step, paper, step_inputs(step, paper))
    top = _top_paper(day)
    if top is not None and not (day.steps.get("zh_reading") and day.steps["zh_reading"].status == "ok"):
        submit("zh_reading", None, {**step_inputs("zh_reading", top), "arxiv_id": top.arxiv_id})

    last_save = time.monotonic()
    done = 0
    usage = Usage()
    while pending:
        fut = next(iter(as_completed(list(pending))))
        arxiv_id, step = pending.pop(fut)
        result = _result_of(fut, step, arxiv_id)
        apply_result(day, result)
        usage = usage + result.usage
        done += 1
        if step == "pdf" and result.state.status == "ok" and (paper := day.paper(arxiv_id or "")):
            submit("affiliations", paper, step_inputs("affiliations", paper))
        if time.monotonic() - last_save > SAVE_EVERY_S or not pending:
            save_day(settings, day)
            publish_progress(day, done, done + len(pending))
            last_save = time.monotonic()
    return usage


def _result_of(fut: PrefectFuture, step: str, arxiv_id: str | None) -> StepResult:
    """The step's StepResult; a PDF text or a raised exception is turned into one."""
    outcome = fut.result(raise_on_failure=False)
    if isinstance(outcome, StepResult):
        return outcome
    if isinstance(outcome, BaseException):
        reason = str(outcome) if isinstance(outcome, HfDailyError) else f"{type(outcome).__name__}: {outcome}"
        return StepResult(step=step, arxiv_id=arxiv_id, state=StepState(status="error", error=reason[:500]))
    return StepResult(step=step, arxiv_id=arxiv_id, values={"text": outcome}, state=StepState(status="ok"))


def _top_paper(day: DayFile) -> PaperRecord | None:
    live = [p for p in day.papers if p.vanished_at is None] or day.papers
    return max(live, key=lambda p: (p.upvotes, -p.feed_rank), default=None)


def _keep_dir(settings: Settings) -> str | None:
    return str(settings.data_dir / "pdfs") if settings.keep_pdfs else None
