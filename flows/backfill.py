"""Backfill a date range: one child run of the daily flow per date, bounded parallelism.

Two modes:
- in-process (default): the child runs execute in this flow's process, `max_parallel` at a time.
- `use_deployments=True`: each date becomes a run of the `daily/daily` deployment, picked up by
  whichever workers serve the pool, so several machines share a backfill; this flow only waits.
Either way dates that are already complete are skipped unless `force`, and the daily flow's per-date
lock plus the LLM answer cache make a second trigger of the same range repeat no work.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.deployments import run_deployment
from prefect.futures import PrefectFuture, as_completed

from flows.daily import daily_digest
from tasks.errors import HfDailyError, StoreError
from tasks.log import get_logger
from tasks.models import DayFile
from tasks.plan import date_range, plan_backfill
from tasks.settings import Settings
from tasks.store import load_day


@task(name="backfill-date", task_run_name="backfill-{date}", cache_policy=NO_CACHE)
def run_date(date: str, max_cost: float | None, use_deployments: bool) -> str:
    """Run one date as a child flow run and report its outcome in one line."""
    if use_deployments:
        run = run_deployment("daily/daily", parameters={"date": date, "max_cost": max_cost}, timeout=None)
        if not run.state or not run.state.is_completed():
            raise HfDailyError(f"deployment run {run.name} ended {run.state.name if run.state else 'unknown'}")
        return f"done by deployment run {run.name}"
    return daily_digest(date=date, max_cost=max_cost)["line"]


def _stored(settings: Settings, dates: list[str]) -> dict[str, DayFile | None]:
    out: dict[str, DayFile | None] = {}
    for d in dates:
        try:
            out[d] = load_day(settings, d)
        except StoreError:
            out[d] = None  # a broken file is re-run; the run itself reports why
    return out


@flow(name="backfill", flow_run_name="backfill-{start}-to-{end}", log_prints=True)
def backfill(start: str, end: str, force: bool = False, max_parallel: int = 2,
             max_cost: float | None = None, use_deployments: bool = False) -> dict[str, Any]:
    """Run the daily flow for every date from start to end (inclusive) that is not complete yet."""
    settings = Settings()
    dates = date_range(start, end)
    todo, skipped = plan_backfill(dates, _stored(settings, dates), force)
    log = get_logger()
    log.info("backfill %s..%s: %d to run, %d already complete", start, end, len(todo), len(skipped))
    outcomes: dict[str, str] = {d: "skipped (complete)" for d in skipped}
    in_flight: dict[PrefectFuture, str] = {}
    queue = list(todo)
    while queue or in_flight:
        while queue and len(in_flight) < max(1, max_parallel):
            d = queue.pop(0)
            in_flight[run_date.submit(d, max_cost, use_deployments)] = d
        fut = next(iter(as_completed(list(in_flight))))
        d = in_flight.pop(fut)
        result = fut.result(raise_on_failure=False)
        outcomes[d] = f"failed: {result}" if isinstance(result, BaseException) else str(result)
    failed = sorted(d for d, o in outcomes.items() if o.startswith("failed"))
    rows = "\n".join(f"| {d} | {outcomes[d]} |" for d in dates)
    create_markdown_artifact(
        f"# Backfill {start} .. {end}\n\n| date | outcome |\n|---|---|\n{rows}\n",
        key=f"hfdaily-backfill-{start}-{end}", description=f"{len(todo)} run, {len(skipped)} skipped",
    )
    return {"dates": {d: outcomes[d] for d in dates}, "failed": failed}
