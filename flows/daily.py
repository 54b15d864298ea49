"""The daily digest of one date: feed → PDFs → LLM steps → day file → pages.

Reads top to bottom: resolve the date, take the date's lock, fold the feed into the stored day, run
every step of the registry (tasks/steps.py) that is not finished yet (concurrently, bounded), store results
as they arrive, render.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run

from tasks import progress as live
from tasks.dates import resolve_date
from tasks.errors import InvalidDateError
from tasks.feed import fetch_feed
from tasks.lanes import LaneTaskRunner
from tasks.llm import runner
from tasks.log import get_logger
from tasks.models import DayFile, PaperRecord, RunRecord, Usage, utcnow
from tasks.report import publish_progress, publish_run_artifacts
from tasks.retrying import retry_options
from tasks.settings import Settings
from tasks.step_tasks import result_of, submit
from tasks.steps import Step, apply_result, ready, unfinished
from tasks.store import day_lock, load_day, merge_feed, save_day

SAVE_EVERY_S = 1.0  # results arrive in bursts; one atomic write per second is plenty


def daily_run_name() -> str:
    """`daily-YYYY-MM-DD` from the run's parameters or its scheduled date."""
    try:
        date = resolve_date(flow_run.parameters.get("date"), flow_run.scheduled_start_time)
    except InvalidDateError:
        date = "invalid-date"
    return f"daily-{date}"


# A thread pool per lane (tasks/lanes.py): an LLM step waits for a thread only behind steps of its own provider.
@flow(name="daily", flow_run_name=daily_run_name, log_prints=True, task_runner=LaneTaskRunner())
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
                feed_papers=len(papers), new=merged.new, updated=merged.updated, vanished=merged.vanished,
                failed=sum(p.failed for p in day.papers), usage=usage,
                note=f"stopped at the budget of ${rt.meter.max_cost:g}" if rt.meter.exhausted else None,
            )
            day.runs.append(record)
            save_day(settings, day)
            # Still holding the date: the pages show what this run stored, not a later run's half-way state.
            pages = _render(settings, day_str) if render else []
    finally:
        runner.release()
    summary = publish_run_artifacts(settings, day, record, pages)
    log.info("%s: done - %s", day_str, summary["line"])
    return summary


def _render(settings: Settings, date: str) -> list[str]:
    from tasks.render import render_for_day

    return [str(p) for p in render_for_day(settings, date)]


def _run_steps(day: DayFile, settings: Settings, rt: runner.LLMRuntime) -> Usage:
    """Submit every unfinished step of the registry, store each result as it arrives.

    A step whose needs are not done yet (affiliations before its PDF) starts once they are, with the futures it
    waited for as `wait_for`, so the dashboard's graph draws the dependency. Returns this run's LLM usage: paid
    calls (also those whose answers were rejected) and cache hits.
    """
    pending: dict[PrefectFuture, tuple[PaperRecord | None, Step]] = {}
    finished: dict[tuple[str, str], PrefectFuture] = {}  # (arxiv_id, step) -> its future, for wait_for
    waiting: list[tuple[PaperRecord, Step]] = []

    def start(paper: PaperRecord | None, step: Step) -> None:
        if step.kind == "llm" and rt.meter.exhausted:
            return  # the budget is spent: leave the step for the next run
        upstream = [finished[(paper.arxiv_id, n)] for n in step.needs if paper and (paper.arxiv_id, n) in finished]
        fut = submit(step, paper or day, settings, wait_for=upstream)
        if fut is not None:
            pending[fut] = (paper, step)

    for paper, step in unfinished(day):
        if paper is not None and not ready(paper, step):
            waiting.append((paper, step))
        else:
            start(paper, step)

    last_save = time.monotonic()
    done = 0
    usage = Usage()
    while pending:
        fut = next(iter(as_completed(list(pending))))
        paper, step = pending.pop(fut)
        result = result_of(fut, step, paper.arxiv_id if paper else None)
        apply_result(day, result)
        usage = usage + result.usage
        live.step_finished(day.date, result.usage)
        done += 1
        if paper is not None:
            finished[(paper.arxiv_id, step.name)] = fut
            for item in [w for w in waiting if w[0] is paper and ready(*w)]:
                waiting.remove(item)
                start(*item)
        if time.monotonic() - last_save > SAVE_EVERY_S or not pending:
            save_day(settings, day)
            publish_progress(day, done, done + len(pending))
            last_save = time.monotonic()
    return usage
