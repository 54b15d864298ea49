"""Reviews on request: any arXiv paper, not only those on HF's daily list, through the same paper steps.

Reads top to bottom: read the ids (every entry that is not one is named and left out), ask the arXiv API for
their titles, abstracts and authors, take each paper's lease, fold the metadata into `requests/ID.json`, run
every paper step of the registry that applies to a requested paper (`paper_steps(requested=True)`) and is not
done yet, store results as they arrive, render `u/ID.html` and `u/index.html`. PDF texts and LLM answers come
from the same caches as a daily run's (keyed on the paper and the prompt's input, never on a date), so a paper
also on a daily list costs nothing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prefect import flow
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from pydantic import MISSING

from flows.params import Budget, PaperRefs, given
from flows.runs import name_if_crashed, never_fails
from tasks.api_waits import announce_api_waits
from tasks.arxiv_api import MAX_PAPERS, BadPaperRef, fetch_metadata_task, parse_paper_ref, parse_refs
from tasks.lanes import LaneTaskRunner
from tasks.llm import runner
from tasks.log import get_logger
from tasks.models import RunRecord, Usage, utcnow
from tasks.requested import RequestWriter, request_leases
from tasks.retrying import retry_options
from tasks.settings import Settings, load_settings
from tasks.step_tasks import result_of, submit
from tasks.steps import Step, apply_to, paper_steps, pending, ready


class TooManyPapers(BadPaperRef):
    """More ids than one request may hold: nothing is run."""


def review_name(parameters: Mapping[str, Any], scheduled: datetime | None = None) -> str:
    """`review-2501.06600`, `review-2501.06600-and-3-more` (ids as read; `review-invalid` if none is one)."""
    values = given(parameters.get("papers")) or []
    values = values if isinstance(values, list) else [values]
    first = None
    for value in values:
        try:
            first = parse_paper_ref(value)
            break
        except BadPaperRef:
            continue
    if first is None:
        return "review-invalid"
    more = len(values) - 1
    return f"review-{first}" + (f"-and-{more}-more" if more else "")


@never_fails("review-invalid")
def review_run_name() -> str:
    return review_name(flow_run.parameters)


@flow(name="review", flow_run_name=review_run_name, log_prints=True, task_runner=LaneTaskRunner(),
      on_crashed=[name_if_crashed(review_name)])
def review(papers: PaperRefs, max_cost: Budget = MISSING, render: bool = True) -> dict[str, Any]:
    """Review papers on request: the daily paper steps (PDF, affiliations, topics, ru/en/zh) for any arXiv paper.

    Args:
        papers: arXiv ids (2501.06600, hep-th/9901001) or paper links on arxiv.org or huggingface.co, 1 to 50.
            An entry that is not one, or an id arXiv does not know, is named in the run's log and left out; the
            others still run. A paper reviewed before only redoes what is not done yet.
        max_cost: Budget of this run in USD, 0 or more. Once spent, no new LLM call starts. Empty: no cap other
            than HFDAILY_MAX_COST.
        render: Whether to write the papers' pages (u/ID.html) and the list of reviews (u/index.html).
    """
    announce_api_waits()
    values = list(papers) if isinstance(papers, list | tuple) else [papers]
    if not values or len(values) > MAX_PAPERS:
        raise TooManyPapers(f"papers: {len(values)} given; a request holds 1 to {MAX_PAPERS} (nothing was run)")
    settings = load_settings()
    log = get_logger()
    refs = parse_refs(values)
    failed: dict[str, str] = {}
    for typed, why in refs.bad.items():
        log.warning("review: %s", why)
        failed[typed] = why
    found, missing = {}, {}
    if refs.ids:
        found, missing = fetch_metadata_task.with_options(**retry_options(settings))(
            refs.ids, review_name({"papers": refs.ids}).removeprefix("review-"), settings.arxiv_api_url,
            settings.http_timeout, settings.retry_max_wait)
    for arxiv_id, why in missing.items():
        log.warning("review: %s", why)
        failed[arxiv_id] = why
    if not found:
        raise BadPaperRef(f"no paper to review: {'; '.join(failed.values())[:400]}")

    started = utcnow()
    run_id = str(flow_run.id or "") or None
    rt = runner.configure(settings, given(max_cost))
    pages: list[str] = []
    try:
        with request_leases(settings, list(found), run=run_id,
                            on_lost=lambda: rt.meter.stop("another run took a paper over")) as lost:
            writers = {i: RequestWriter(settings, meta, started) for i, meta in found.items()}
            for writer in writers.values():
                writer.save()
            spent = _run_steps(writers, settings, rt, lost)
            for arxiv_id, writer in writers.items():
                record = RunRecord(started_at=started, finished_at=utcnow(), flow_run_id=run_id,
                                   failed=int(writer.paper.failed), usage=spent.get(arxiv_id, Usage()))
                writer.apply(lambda r, rec=record: r.runs.append(rec))
                writer.save()
            if render:
                from tasks.site.requested import render_requested

                pages = render_requested(settings, list(writers))
            records = {i: w.record for i, w in writers.items()}
    finally:
        runner.release()
    from tasks.review_report import publish_review_artifacts

    usage = sum(spent.values(), Usage())
    summary = publish_review_artifacts(settings, records, failed, usage, pages)
    log.info("review: done - %s", summary["line"])
    return summary


def _run_steps(writers: dict[str, RequestWriter], settings: Settings, rt: runner.LLMRuntime,
               lost: threading.Event) -> dict[str, Usage]:
    """Submit every unfinished step of every paper; store each result as it arrives (the daily flow's loop).
    Returns this run's LLM usage per paper."""
    steps = paper_steps(requested=True)
    futures: dict[PrefectFuture, tuple[str, Step]] = {}
    finished: dict[tuple[str, str], PrefectFuture] = {}
    waiting: list[tuple[str, Step]] = []

    def start(arxiv_id: str, step: Step) -> None:
        if (step.kind == "llm" and rt.meter.exhausted) or lost.is_set():
            return
        upstream = [finished[(arxiv_id, n)] for n in step.needs if (arxiv_id, n) in finished]
        fut = submit(step, writers[arxiv_id].paper, settings, wait_for=upstream)
        if fut is not None:
            futures[fut] = (arxiv_id, step)

    for arxiv_id, writer in writers.items():
        for step in pending(writer.paper, steps):
            (start(arxiv_id, step) if ready(writer.paper, step) else waiting.append((arxiv_id, step)))

    usage: dict[str, Usage] = {}
    while futures:
        fut = next(iter(as_completed(list(futures))))
        arxiv_id, step = futures.pop(fut)
        result = result_of(fut, step, arxiv_id)
        writer = writers[arxiv_id]
        writer.apply(lambda r, res=result: apply_to(r.paper, res))
        writer.save()
        if result.state.status == "error":
            get_logger().warning("review %s: %s: %s", arxiv_id, step.name,
                                 " ".join(str(result.state.error).split())[:300])
        usage[arxiv_id] = usage.get(arxiv_id, Usage()) + result.usage
        finished[(arxiv_id, step.name)] = fut
        for item in [w for w in waiting if w[0] == arxiv_id and ready(writer.paper, w[1])]:
            waiting.remove(item)
            start(*item)
    return usage
