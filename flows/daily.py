"""The daily digest of one date: feed → PDFs → LLM steps → day file → pages.

Reads top to bottom: resolve the date, take the date's lease, fold the feed into the stored day, run
every step of the registry (tasks/steps.py) that is not finished yet (concurrently, bounded), store results
as they arrive, render. The lease (tasks/lease.py) keeps a second run of the date waiting on any store; if it
is ever taken over, this run stops starting steps, saves what it has (merged, never overwriting) and fails.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from pydantic import MISSING

from flows.params import Budget, LlmMode, OptionalRunDate, given
from flows.runs import name_if_crashed, never_fails
from tasks import progress as live
from tasks.api_waits import announce_api_waits
from tasks.dates import calendar_date, resolve_date
from tasks.errors import InvalidDateError
from tasks.events import RunOutcome, emit_day_event, errors_of
from tasks.feed import fetch_feed
from tasks.lanes import LaneTaskRunner
from tasks.lease import Lease
from tasks.llm import runner
from tasks.log import get_logger
from tasks.memory import limit_malloc_arenas
from tasks.models import RunRecord, Usage, utcnow
from tasks.report import publish_progress, publish_run_artifacts
from tasks.retrying import retry_options
from tasks.settings import Settings, load_settings
from tasks.step_tasks import result_of, submit
from tasks.steps import Step, apply_result, ready, unfinished
from tasks.store import DayWriter, day_lease, merge_feed
from tasks.telegram.task import post_day

SAVE_EVERY_S = 1.0  # results arrive in bursts; one atomic write per second is plenty


def daily_name(parameters: Mapping[str, Any], scheduled: datetime | None) -> str:
    """`daily-YYYY-MM-DD` from the parameters or the scheduled date (`daily-invalid-date` if not a date).

    A real date out of range (before HF Daily Papers, in the future) still names the run: the run fails
    first thing, and its name says which date was asked for.
    """
    value = given(parameters.get("date"))
    if value in (None, ""):
        try:
            return f"daily-{resolve_date(None, scheduled)}"
        except InvalidDateError:
            return "daily-invalid-date"
    day = calendar_date(value)
    return f"daily-{day.isoformat()}" if day else "daily-invalid-date"


@never_fails("daily-invalid-date")
def daily_run_name() -> str:
    """The run's name, from its parameters or its scheduled date (see `daily_name`)."""
    return daily_name(flow_run.parameters, flow_run.scheduled_start_time)


# A thread pool per lane (tasks/lanes.py): an LLM step waits for a thread only behind steps of its own provider.
@flow(name="daily", flow_run_name=daily_run_name, log_prints=True, task_runner=LaneTaskRunner(),
      on_crashed=[name_if_crashed(daily_name)])
def daily_digest(date: OptionalRunDate = MISSING, max_cost: Budget = MISSING, render: bool = True,
                 post: bool = True, mode: LlmMode = "online") -> dict[str, Any]:
    """Fetch, enrich and store one day of HF Daily Papers, then render its pages.

    Args:
        date: The day of HF Daily Papers to process, YYYY-MM-DD, from 2023-05-01 up to today (UTC). Leave it
            empty for the run's scheduled date in UTC (for a run started by hand: today). Steps already done
            for that date are kept; only what is missing or failed runs again.
        max_cost: Budget of this run in USD, 0 or more. Once spent, no new LLM call starts and the rest is
            left for the next run (an alert says so). Empty: no cap other than HFDAILY_MAX_COST.
        render: Whether to render the date's page and the shared pages (index, month, feeds) after storing
            the day. Default on; off stores the day file only.
        post: Whether to post the day to the Telegram channel, or edit its post when the digest changed, once
            its papers are all done. Only when a channel is configured (TELEGRAM_BOT_TOKEN and
            HFDAILY_TELEGRAM_CHAT_ID). Default on; a backfill turns it off.
        mode: `online` (default): every LLM call is answered at once. `batch`: calls not answered yet are
            queued for the providers' batch APIs at half price and their steps left deferred; a batch backfill
            submits them and a later run collects (README, "Batch backfills").
    """
    limit_malloc_arenas()  # before this run starts its threads (tasks/memory.py)
    # First thing: a date the form could not check (before 2023-05-01, in the future, not a real day) or a bad
    # setting in this process's environment fails the run here, in one line, before any lock, download or LLM call.
    announce_api_waits()  # the client's waits on a busy API, at INFO (tasks/api_waits.py)
    date, max_cost = given(date), given(max_cost)  # a field left empty arrives as MISSING (flows/params.py)
    day_str = resolve_date(date, flow_run.scheduled_start_time if flow_run.id else None)
    settings = load_settings()
    log = get_logger()
    started = utcnow()
    rt = runner.configure(settings, max_cost, batch=mode == "batch", date=day_str)
    run_id = str(flow_run.id or "") or None
    try:
        with day_lease(settings, day_str, run=run_id) as lease:
            lease.on_lost(lambda: rt.meter.stop(f"another run took {day_str} over"))
            papers = fetch_feed.with_options(**retry_options(settings))(
                day_str, settings.hf_url, settings.feed_page_size, settings.http_timeout, settings.retry_max_wait
            )
            store = DayWriter(settings, day_str)
            errors_before = set(errors_of(store.day))  # errors already reported by an earlier run
            now = utcnow()
            merged = store.apply(lambda d: merge_feed(d, papers, now))
            store.save()
            log.info("%s: %d in feed, %d new, %d updated, %d vanished",
                     day_str, len(papers), merged.new, merged.updated, merged.vanished)
            usage = _run_steps(store, settings, rt, lease)
            lease.check()  # taken over: what finished is saved, the run that holds the date now does the rest
            record = RunRecord(
                started_at=started, finished_at=utcnow(), flow_run_id=run_id,
                feed_papers=len(papers), new=merged.new, updated=merged.updated, vanished=merged.vanished,
                failed=sum(p.failed for p in store.day.papers), usage=usage,
                note=f"stopped at the budget of ${rt.meter.max_cost:g}" if rt.meter.exhausted else None,
            )
            store.apply(lambda d: d.runs.append(record))
            store.save()
            # Still holding the date: the pages show what this run stored, not a later run's half-way state.
            pages = _render(settings, day_str) if render else []
            # Posted under the lease too: a second run of the date sees these message ids and edits, never re-posts.
            posted = post_day(store, settings, enabled=post, lease=lease)
            day = store.day
    finally:
        runner.release()
    summary = publish_run_artifacts(settings, day, record, pages)
    if posted is not None and posted.action not in ("waiting",):
        summary["telegram"] = posted.action
    log.info("%s: done - %s", day_str, summary["line"])
    # Last: once the alert event is out, nothing can turn this run Failed (one alert per run).
    emit_day_event(day, RunOutcome(
        errors_before=errors_before, budget_reached=rt.meter.exhausted, max_cost=rt.meter.max_cost,
        spent_usd=usage.cost_usd, flow_run_id=record.flow_run_id, page_url=summary.get("page"),
    ))
    return summary


def _render(settings: Settings, date: str) -> list[str]:
    from tasks.render_tasks import render_day_as_tasks  # task runs render-DATE and render-shared, cached

    return render_day_as_tasks(settings, date)


def _run_steps(store: DayWriter, settings: Settings, rt: runner.LLMRuntime, lease: Lease) -> Usage:
    """Submit every unfinished step of the registry, store each result as it arrives.

    A step whose needs are not done yet (affiliations before its PDF) starts once they are, with the futures it
    waited for as `wait_for`, so the dashboard's graph draws the dependency. Papers are looked up by id in the
    writer's current copy (a save that met another writer's replaces it). No step starts once the lease is
    lost. Returns this run's LLM usage: paid calls (also those whose answers were rejected) and cache hits.
    """
    pending: dict[PrefectFuture, tuple[str | None, Step]] = {}
    finished: dict[tuple[str, str], PrefectFuture] = {}  # (arxiv_id, step) -> its future, for wait_for
    waiting: list[tuple[str, Step]] = []

    def start(arxiv_id: str | None, step: Step) -> None:
        if (step.kind == "llm" and rt.meter.exhausted) or lease.lost.is_set():
            return  # the budget is spent, or another run holds the date: leave the step for later
        paper = store.day.paper(arxiv_id) if arxiv_id else None
        upstream = [finished[(arxiv_id, n)] for n in step.needs if arxiv_id and (arxiv_id, n) in finished]
        fut = submit(step, paper or store.day, settings, wait_for=upstream)
        if fut is not None:
            pending[fut] = (arxiv_id, step)

    for paper, step in unfinished(store.day):
        if paper is not None and not ready(paper, step):
            waiting.append((paper.arxiv_id, step))
        else:
            start(paper.arxiv_id if paper else None, step)

    last_save = time.monotonic()
    done = 0
    usage = Usage()
    while pending:
        fut = next(iter(as_completed(list(pending))))
        arxiv_id, step = pending.pop(fut)
        result = result_of(fut, step, arxiv_id)
        store.apply(lambda d, r=result: apply_result(d, r))
        if result.state.status == "error":  # the day goes on; say which step failed and why, in one line
            get_logger().warning("%s: %s %s: %s", store.day.date, step.name, result.arxiv_id or "(day)",
                                 " ".join(str(result.state.error).split())[:300])
        usage = usage + result.usage
        live.step_finished(store.day.date, result.usage)
        done += 1
        if arxiv_id is not None:
            finished[(arxiv_id, step.name)] = fut
            paper = store.day.paper(arxiv_id)
            for item in [w for w in waiting if w[0] == arxiv_id and paper is not None and ready(paper, w[1])]:
                waiting.remove(item)
                start(*item)
        if time.monotonic() - last_save > SAVE_EVERY_S or not pending:
            store.save()
            publish_progress(store.day, done, done + len(pending))
            last_save = time.monotonic()
    return usage
