"""Backfill a date range: one child run of the daily flow per date, a few at a time.

Reads top to bottom: list the range, skip the dates that are already complete (unless `force`), run the
others `max_parallel` at a time, and leave a table of what each date did as an artifact.

Two modes:
- in-process (default): each date is a subflow run of `daily` inside this flow's process, with its own
  logs, task runs and artifacts. One machine does the whole range.
- `use_deployments=True`: each date becomes a run of the `daily/daily` deployment. Whichever workers
  serve the pool pick them up, so several machines share a backfill; this flow only waits for them.
  It needs the deployments (prefect.yaml) and at least one worker, and the data dir on shared storage:
  the plan and the table read the day files the workers write.

Either way a date is never processed twice at once (the daily flow holds the date's lease), a re-run
of a finished date pays for nothing (PDF text and LLM answers are cached), and triggering the same
backfill again only runs what is still incomplete. In deployment mode a date whose run died with its
worker (Prefect still shows it Running, but its lease went unrenewed) is marked Crashed and started again.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal
from uuid import UUID

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError
from prefect.runtime import flow_run
from prefect.settings import get_current_settings
from prefect.states import Crashed, State
from pydantic import MISSING

from flows.batches import batch_line, batch_step
from flows.daily import daily_digest
from flows.params import Budget, LlmMode, OptionalRunDate, Parallel, RunDate, given
from flows.runs import name_if_crashed, never_fails
from tasks import progress as live
from tasks.api_waits import announce_api_waits
from tasks.childwatch import ChildWatch
from tasks.dates import calendar_date, yesterday_utc
from tasks.errors import InvalidDateError, StoreError
from tasks.log import get_logger
from tasks.memory import limit_malloc_arenas, release_freed_memory
from tasks.models import DayFile, RunRecord
from tasks.plan import date_range, plan_backfill
from tasks.report import summary_line
from tasks.run_exit import ExitWatch
from tasks.settings import Settings, load_settings
from tasks.store import day_key, lease_key, load_day

DAILY_DEPLOYMENT = "daily/daily"
POLL_SECONDS = 2.0  # how often a deployment-mode backfill asks the API whether a child run finished
# A busy server (SQLite: "database is locked") can refuse to create a child run even after the client's own
# five retries; the date is worth another try once the other dates' writes have eased.
START_RETRY_DELAYS = (10.0, 30.0)
RESTARTS = 2  # deployment mode: times a date whose run died with its worker is started again
_TRANSIENT_STATUS = {429, 502, 503, 504}


@dataclass
class DateOutcome:
    """What the backfill did for one date, with the numbers of the run that did it."""

    date: str
    status: Literal["ran", "skipped", "failed"]
    detail: str = ""
    run: RunRecord | None = None
    papers: int | None = None
    run_name: str | None = None
    run_url: str | None = None

    @property
    def text(self) -> str:
        """One line for the CLI: `ran: 5 papers (...)`, `skipped (complete)`, `failed: reason`."""
        if self.status == "skipped":
            return "skipped (complete)"
        return f"{self.status}: {self.detail}" if self.detail else self.status


@dataclass
class ChildRun:
    """A finished child run: its id and name, and why it failed (None if it completed)."""

    id: UUID | None
    name: str | None
    error: str | None


def outcome_of(date: str, child: ChildRun, day: DayFile | None, ui_url: str | None = None) -> DateOutcome:
    """The date's outcome from its child run and the day file that run wrote."""
    url = f"{ui_url.rstrip('/')}/runs/flow-run/{child.id}" if ui_url and child.id else None
    run = None
    if day is not None and day.runs:
        mine = [r for r in day.runs if child.id and r.flow_run_id == str(child.id)]
        run = mine[-1] if mine else day.runs[-1]
    if child.error is not None:
        return DateOutcome(date, "failed", child.error, run=None, run_name=child.name, run_url=url)
    if day is None or run is None:
        return DateOutcome(date, "failed", "the run completed but left no day file here (is the data dir shared?)",
                           run_name=child.name, run_url=url)
    return DateOutcome(date, "ran", summary_line(day, run), run=run, papers=len(day.papers),
                       run_name=child.name, run_url=url)


def skipped_outcome(date: str, day: DayFile | None) -> DateOutcome:
    return DateOutcome(date, "skipped", papers=len(day.papers) if day else None)


def summary_markdown(start: str, end: str, outcomes: list[DateOutcome], mode: str) -> str:
    """The backfill's artifact: one row per date of the range."""
    count = {s: sum(o.status == s for o in outcomes) for s in ("ran", "skipped", "failed")}
    cost = sum(o.run.usage.cost_usd for o in outcomes if o.run is not None and o.status == "ran")
    lines = [
        f"# Backfill {start} .. {end}",
        "",
        f"{len(outcomes)} dates: {count['ran']} ran, {count['skipped']} skipped as complete, "
        f"{count['failed']} failed; {mode}; ${cost:.4f} spent.",
        "",
        "| date | outcome | papers | new | with errors | LLM calls | cached | cost USD | run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        papers = "" if o.papers is None else str(o.papers)
        nums = ["", "", "", "", ""]
        if o.run is not None and o.status == "ran":
            u = o.run.usage
            nums = [str(o.run.new), str(o.run.failed), str(u.calls), str(u.cached), f"{u.cost_usd:.4f}"]
        link = f"[{o.run_name or 'run'}]({o.run_url})" if o.run_url else (o.run_name or "")
        outcome = "skipped (complete)" if o.status == "skipped" else o.status
        if o.status == "failed":
            outcome += ": " + _cell(o.detail, 160)
        lines.append(f"| {o.date} | {outcome} | {papers} | " + " | ".join(nums) + f" | {link} |")
    return "\n".join(lines) + "\n"


def _cell(text: str, limit: int) -> str:
    """Text safe inside a markdown table cell, on one line."""
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _stored(settings: Settings, dates: list[str]) -> dict[str, DayFile | None]:
    out: dict[str, DayFile | None] = {}
    for d in dates:
        try:
            out[d] = load_day(settings, d)
        except StoreError:
            out[d] = None  # a broken file is re-run; the run itself reports why
    return out


def _load(settings: Settings, date: str) -> DayFile | None:
    try:
        return load_day(settings, date) if settings.data.exists(day_key(date)) else None
    except StoreError:
        return None


# -- running one date ----------------------------------------------------------------------------------

def _in_process(date: str, max_cost: float | None, mode: LlmMode = "online") -> ChildRun:
    """The daily flow as a subflow run of this one (its logs and tasks show under `daily-DATE`)."""
    for delay in (*START_RETRY_DELAYS, None):
        try:
            # Old days are not posted to the Telegram channel (post=False): see README, "Operating it".
            state = daily_digest(date=date, max_cost=max_cost, post=False, mode=mode, return_state=True)
        except PrefectHTTPStatusError as exc:  # the API, not the run, failed: the run's own errors are its state
            if delay is None or exc.response.status_code not in _TRANSIENT_STATUS:
                raise
            get_logger().warning("%s: the API refused the child run (%s); trying again in %g s",
                                 date, exc.response.status_code, delay)
            time.sleep(delay)
            continue
        return ChildRun(state.state_details.flow_run_id, f"daily-{date}", _failure(state))
    raise AssertionError("unreachable")  # pragma: no cover


def _via_deployment(date: str, max_cost: float | None, mode: LlmMode = "online",
                    exits: ExitWatch | None = None) -> ChildRun:
    """A run of the daily deployment, picked up by any worker of the pool; waits until it is final and, with
    `exits`, until its worker reports that the run's process has exited, so the next date's process does not
    start beside it (tasks/run_exit.py).

    A run that died with its worker is marked Crashed and the date is started again (RESTARTS times at most).
    """
    parent = flow_run.id
    settings = load_settings()
    # An empty budget is left out, not sent as null: the deployment's schema types max_cost as a number.
    parameters: dict[str, Any] = {"date": date, "post": False}  # old days are not posted to the channel
    if max_cost is not None:
        parameters["max_cost"] = max_cost
    if mode != "online":
        parameters["mode"] = mode
    for attempt in range(RESTARTS + 1):
        # A retried backfill run finds the child runs it already started instead of starting new ones.
        key = f"backfill-{parent}-{date}" + (f"-restart-{attempt}" if attempt else "") if parent else None
        child = run_deployment(DAILY_DEPLOYMENT, parameters=parameters, timeout=0, idempotency_key=key,
                               flow_run_name=f"daily-{date}")  # named from the start, even if it crashes early
        final, dead = _wait_for(child.id, date, settings)
        if dead is None:
            if exits is not None:
                _wait_for_exit(exits, final, date)
            return ChildRun(final.id, final.name, _failure(final.state))
        get_logger().warning("%s: run %s died (%s); marked Crashed%s", date, final.name, dead,
                             "; starting the date again" if attempt < RESTARTS else "")
        _mark_crashed(final.id, dead)
    return ChildRun(final.id, final.name, f"Crashed: {dead}")


def _wait_for(run_id: UUID, date: str, settings: Settings) -> tuple[Any, str | None]:
    """(the run once final, None) or (the run, why it is dead)."""
    from prefect.client.orchestration import get_client

    # Grace for a run between Pending and taking its lease (process start, imports) or after releasing it.
    watch = ChildWatch(settings.data, lease_key(date), str(run_id), grace=max(30.0, 3 * settings.lease_ttl))
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run, None
            state_type = run.state_type.value if run.state_type is not None else None
            try:
                if watch.dead(state_type):
                    return run, watch.reason
            except OSError as exc:  # the store is unreachable for a moment: judge on the next poll
                get_logger().debug("lease of %s not read: %s", date, exc)
            time.sleep(POLL_SECONDS)


def _wait_for_exit(exits: ExitWatch, run: Any, date: str) -> None:
    from prefect.client.orchestration import get_client

    if not exits.active:
        return
    began = time.monotonic()
    # Reports from when the run was created on (a minute's slack for clocks); the server always sets `created`.
    since = (run.created or run.start_time or datetime.now(UTC) - timedelta(days=1)) - timedelta(minutes=1)
    with get_client(sync_client=True) as client:
        exited = exits.wait(client, run.id, since)
    if exited:
        get_logger().debug("%s: run %s's process exited %.1f s after the run read final", date, run.name,
                           time.monotonic() - began)
    else:
        get_logger().info("%s: no report that run %s's process exited after %.0f s; the next date starts "
                          "without it%s", date, run.name, time.monotonic() - began,
                          "" if exits.active else ", and later dates wait for none (its worker sends none)")


MARK_ATTEMPTS = 3


def _mark_crashed(run_id: UUID, reason: str) -> None:
    """Set the dead run Crashed and read it back: a busy server may refuse the write, and the date is started
    again all the same, so a stale Running in the dashboard is all a failure here costs."""
    from prefect.client.orchestration import get_client

    error: Exception | None = None
    for attempt in range(MARK_ATTEMPTS):
        try:
            with get_client(sync_client=True) as client:
                client.set_flow_run_state(run_id, Crashed(message=f"its worker stopped: {reason}"), force=True)
                if client.read_flow_run(run_id).state_name == "Crashed":
                    return
                error = RuntimeError("the server still shows another state")
        except Exception as exc:
            error = exc
        time.sleep(1 + attempt)
    get_logger().warning("could not mark run %s Crashed: %s", run_id, error)


def _failure(state: State | None) -> str | None:
    """None for a completed run, else its final state and message in one line."""
    if state is not None and state.is_completed():
        return None
    if state is None:
        return "the run has no state"
    return f"{state.name}: {state.message}" if state.message else state.name


def backfill_name(parameters: Mapping[str, Any], scheduled: datetime | None = None) -> str:
    """`backfill-START-to-END` from the parameters (an empty end is yesterday, UTC)."""
    start, end = calendar_date(parameters.get("start")), given(parameters.get("end"))
    end = calendar_date(end) if end not in (None, "") else yesterday_utc()
    return f"backfill-{start or 'invalid-date'}-to-{end or 'invalid-date'}"


@never_fails("backfill-invalid-date")
def backfill_run_name() -> str:
    """The run's name, from its parameters (see `backfill_name`)."""
    return backfill_name(flow_run.parameters)


@flow(name="backfill", flow_run_name=backfill_run_name, log_prints=True, on_crashed=[name_if_crashed(backfill_name)])
def backfill(start: RunDate, end: OptionalRunDate = MISSING, force: bool = False, max_parallel: Parallel = 2,
             max_cost: Budget = MISSING, use_deployments: bool = False, mode: LlmMode = "online") -> dict[str, Any]:
    """Run the daily flow for every date from start to end (inclusive) that is not complete yet.

    Args:
        start: First date of the range, YYYY-MM-DD, from 2023-05-01 on.
        end: Last date of the range, YYYY-MM-DD, inclusive; not before start, not after today (UTC), at most
            366 days after start. Leave it empty for yesterday (UTC): today is the daily schedule's job.
        force: Re-run dates that are already complete. Off (default): a date whose last run finished every
            step is skipped. A forced date pays for nothing it already has (answers and PDFs are cached).
        max_parallel: Dates run at the same time, 1 or more (default 2).
        max_cost: Budget in USD of each date's run, 0 or more: once a date has spent it, that date starts
            no new LLM call and leaves the rest for a later run. Empty: no cap other than HFDAILY_MAX_COST.
        use_deployments: Off (default): the dates run inside this run, on this worker. On: each date becomes
            a `daily/daily` deployment run that any worker of the pool can take (the data dir must be shared).
        mode: `online` (default): LLM calls are answered at once, at the online price. `batch`: at half price
            through the providers' batch APIs, without waiting: the run first collects the batches that have
            finished (their answers complete their papers), queues every call still unanswered and submits the
            queue as new batches, then ends. Run the same backfill again later, or let the `batch-collect`
            deployment do it, until every date is complete. A call is never submitted twice; one a batch
            failed or expired on is made online.
    """
    limit_malloc_arenas()  # before the child runs start their threads (tasks/memory.py)
    # First thing: a range the form could not check (end before start, out of range) fails the run here, in
    # one line, before any child run exists.
    announce_api_waits()  # the client's waits on a busy API, at INFO (tasks/api_waits.py)
    end, max_cost = given(end), given(max_cost)  # a field left empty arrives as MISSING (flows/params.py)
    try:
        dates = date_range(start, end if end is not None else yesterday_utc())
    except InvalidDateError as exc:
        raise InvalidDateError(f"{exc} (end left empty: yesterday, UTC)" if end is None else str(exc)) from None
    first, last = dates[0], dates[-1]
    settings = load_settings()
    batch = mode == "batch"
    if batch:  # answers of finished batches first, so the dates below find them
        collected = batch_step(settings, "collect")
    stored = _stored(settings, dates)
    todo, skipped = plan_backfill(dates, stored, force)
    where = "as daily/daily deployment runs" if use_deployments else "in process"
    width = max(1, max_parallel)
    log = get_logger()
    log.info("backfill %s..%s: %d to run, %d already complete (%s, %d at a time)",
             first, last, len(todo), len(skipped), where + (", LLM calls in batches" if batch else ""), width)

    live.backfill_started(len(dates), len(skipped))  # the CLI's progress line, if one listens
    outcomes = {d: skipped_outcome(d, stored.get(d)) for d in skipped}
    # One watch for the whole range: infrastructure that never reports an exit costs one bounded wait, not one a date.
    run_one = partial(_via_deployment, exits=ExitWatch()) if use_deployments else _in_process
    ui_url = get_current_settings().ui_url
    progress = _progress(first, last, len(skipped), len(dates))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="backfill") as pool:
        # Each thread runs with a copy of this flow's context, so the children are linked to this run.
        futures: dict[Future[ChildRun], str] = {
            pool.submit(contextvars.copy_context().run, run_one, d, max_cost, *((mode,) if batch else ())): d
            for d in todo
        }
        for fut in as_completed(futures):
            d = futures[fut]
            try:
                child = fut.result()
            except Exception as exc:  # the child could not even be started (API down, bad deployment …)
                child = ChildRun(None, None, f"{type(exc).__name__}: {exc}")
            outcomes[d] = outcome_of(d, child, _load(settings, d), ui_url)
            (log.warning if outcomes[d].status == "failed" else log.info)("%s: %s", d, outcomes[d].text)
            _advance(progress, len(outcomes), len(dates))
            o = outcomes[d]
            live.date_finished(d, o.status, o.papers, o.run.usage if o.run else None)
            release_freed_memory()  # a long backfill's memory stays flat (tasks/memory.py)

    ordered = [outcomes[d] for d in dates]
    failed = [o.date for o in ordered if o.status == "failed"]
    batches: dict[str, Any] = {}
    if batch:
        submitted = batch_step(settings, "submit")
        batches = {"collected": collected, "submitted": submitted}
        log.info("batches: %s", batch_line(collected, submitted))
    try:
        create_markdown_artifact(
            summary_markdown(first, last, ordered, where + ("; LLM calls in batches" if batch else "")),
            key=f"hfdaily-backfill-{first}-{last}",
            description=f"{len(todo)} run, {len(skipped)} skipped, {len(failed)} failed",
        )
    except Exception as exc:  # the table is a convenience; the day files are the record
        log.warning("backfill artifact not published: %s", exc)
    if failed:
        log.warning("backfill %s..%s: %d of %d dates failed: %s",
                    first, last, len(failed), len(dates), ", ".join(failed))
    result: dict[str, Any] = {"dates": {o.date: o.text for o in ordered}, "failed": failed}
    if batch:
        result["batches"] = batches
    return result


def _progress(start: str, end: str, done: int, total: int) -> UUID | None:
    try:
        return create_progress_artifact(100.0 * done / total, key=f"hfdaily-backfill-{start}-{end}-progress",
                                        description="dates finished")
    except Exception:
        return None


def _advance(progress: UUID | None, done: int, total: int) -> None:
    if progress is None:
        return
    try:
        update_progress_artifact(progress, 100.0 * done / total)
    except Exception as exc:
        get_logger().debug("progress artifact not updated: %s", exc)
