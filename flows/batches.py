"""Batch backfills' two short steps, and the scheduled flow that collects finished batches.

A batch can take hours; nothing here waits for one. A batch backfill (flows/backfill.py, `mode=batch`) collects
what has finished, runs its dates, submits what they queued and ends. `batch-collect` (a deployment on a schedule,
prefect.yaml) polls the open batches every few minutes in a short run; when some have finished it runs the batch
backfill over the dates they belong to, which completes those papers and submits any follow-up calls (a chain's
next provider). State lives in the data Storage (tasks/llm/batch.py), so any worker can collect.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from prefect import flow

from tasks.llm.batch import BatchBook, Collected, collect, submit_queued
from tasks.llm.batch_clients import batch_clients
from tasks.llm.runner import batch_answer_store
from tasks.log import get_logger
from tasks.settings import Settings, load_settings


def batch_step(settings: Settings, step: Literal["collect", "submit"]) -> dict[str, Any]:
    """Collect finished batches, or submit the queue; a summary for the run's result and log."""
    book = BatchBook(settings.data.child("batches"))
    clients = batch_clients(settings)
    if step == "collect":
        done = collect(book, clients, batch_answer_store(settings))
        return {**asdict(done), "dates": sorted(done.dates)}
    created = submit_queued(book, clients)
    return {"batches": [b.name for b in created], "calls": sum(len(b.keys) for b in created),
            "queued_left": len(book.queued())}


def batch_line(collected: dict[str, Any], submitted: dict[str, Any]) -> str:
    """`collected 2 batches (40 answers, 1 for online calls), 3 still open; submitted 1 batch of 12 calls`."""
    return (f"collected {collected['batches']} batches ({collected['answers']} answers, {collected['failed']} "
            f"for online calls), {collected['still_open']} still open; submitted {len(submitted['batches'])} "
            f"batches of {submitted['calls']} calls")


@flow(name="batch-collect", log_prints=True)
def batch_collect() -> dict[str, Any]:
    """Poll the open LLM batches of batch backfills; when some have finished, run the batch backfill over their
    dates (their papers complete from the batches' answers; follow-up calls go into new batches). A short run
    that holds no worker while batches are processed: schedule it (prefect.yaml runs it every 10 minutes)."""
    from flows.backfill import backfill

    settings = load_settings()
    done: Collected = collect(BatchBook(settings.data.child("batches")), batch_clients(settings),
                              batch_answer_store(settings))
    log = get_logger()
    if not done.dates:
        log.info("batches: %d still open, none finished", done.still_open)
        return {"collected": asdict(done) | {"dates": []}, "backfill": None}
    dates = sorted(done.dates)
    log.info("batches: %d finished (%d answers); running %s..%s", done.batches, done.answers, dates[0], dates[-1])
    result = backfill(start=dates[0], end=dates[-1], mode="batch")
    return {"collected": asdict(done) | {"dates": dates}, "backfill": result}
