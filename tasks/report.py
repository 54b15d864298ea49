"""What a daily run leaves in the Prefect dashboard: a papers table, a summary, a page link, progress."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pandas as pd
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from tasks.log import get_logger
from tasks.models import DayFile, PaperRecord, RunRecord
from tasks.settings import Settings
from tasks.steps import Step, pending, unfinished

_progress_ids: dict[str, UUID] = {}


def artifact_key(date: str, part: str = "") -> str:
    """Artifact keys per date, so each run adds a new version under the same key."""
    return f"hfdaily-day-{date}" + (f"-{part}" if part else "")


def papers_table(day: DayFile) -> pd.DataFrame:
    rows = []
    for p in day.papers:
        failed = [s.name for s in pending(p)]
        rows.append({
            "arxiv_id": p.arxiv_id,
            "title": p.title[:90],
            "upvotes": p.upvotes,
            "tags": ", ".join(p.topics),
            "status": "vanished" if p.vanished_at else ("ok" if not failed else "incomplete"),
            "not ok": ", ".join(failed),
            "cost_usd": round(p.usage.cost_usd, 6),
        })
    return pd.DataFrame(rows, columns=["arxiv_id", "title", "upvotes", "tags", "status", "not ok", "cost_usd"])


def summary_markdown(day: DayFile, run: RunRecord) -> str:
    u = run.usage
    errors = [_not_finished(day, paper, step) for paper, step in unfinished(day)]
    lines = [
        f"# hfdaily {day.date}",
        "",
        "| papers | new | updated | vanished | failed | LLM calls | cached | tokens in | tokens out | cost USD |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(day.papers)} | {run.new} | {run.updated} | {run.vanished} | {run.failed} | {u.calls} | "
        f"{u.cached} | {u.input_tokens} | {u.output_tokens} | {u.cost_usd:.6f} |",
        "",
    ]
    if run.note:
        lines += [f"**Note:** {run.note}", ""]
    lines += ["## Not finished", *errors[:50]] if errors else ["All steps finished."]
    return "\n".join(lines)


def _not_finished(day: DayFile, paper: PaperRecord | None, step: Step) -> str:
    """One line of the summary's "Not finished" list: what failed and why, or what a step waits for."""
    where = f"`{paper.arxiv_id}`" if paper else "day"
    state = (paper or day).steps.get(step.name)
    if state is not None:
        return f"- {where} {step.name}: {state.status} - {state.error}"
    needs = [n for n in step.needs if paper is not None and not paper.step_ok(n)]
    return f"- {where} {step.name}: waits for {', '.join(needs)}" if needs else f"- {where} {step.name}: not run yet"


def summary_line(day: DayFile, run: RunRecord) -> str:
    u = run.usage
    extra = ""  # said only when there is something to say, so a plain run's line stays as it was
    if u.batch_calls:
        extra += f", {u.batch_calls} of the calls through batches"
    if u.cached_input_tokens and u.input_tokens:
        extra += f", {u.cached_input_tokens / u.input_tokens:.0%} of input tokens from prompt caches"
    return (f"{len(day.papers)} papers ({run.new} new, {run.updated} updated, {run.vanished} vanished, "
            f"{run.failed} with errors); {u.calls} LLM calls, {u.cached} cached, ${u.cost_usd:.4f}{extra}")


def page_link(settings: Settings, date: str, pages: list[str]) -> str | None:
    """The date's page: under HFDAILY_SITE_URL when set, else where the render wrote it (file://, s3://)."""
    key = f"d/{date}.html"
    if settings.site_url:
        return f"{settings.site_url.rstrip('/')}/{key}"
    return settings.site.link(key) if key in pages else None


def publish_progress(day: DayFile, done: int, total: int) -> None:
    """A progress artifact per run, updated as steps finish (best effort: never fails the run)."""
    fraction = 100.0 * done / total if total else 100.0
    try:
        if day.date not in _progress_ids:
            _progress_ids[day.date] = create_progress_artifact(
                fraction, key=artifact_key(day.date, "progress"), description=f"steps done for {day.date}"
            )
        else:
            update_progress_artifact(_progress_ids[day.date], fraction)
    except Exception as exc:  # an unreachable API must not cost the day's data
        get_logger().debug("progress artifact not updated: %s", exc)


def publish_run_artifacts(settings: Settings, day: DayFile, run: RunRecord, pages: list[str]) -> dict[str, Any]:
    """Table, summary and page link of this run; returns the summary the flow returns."""
    _progress_ids.pop(day.date, None)
    link = page_link(settings, day.date, pages)
    line = summary_line(day, run)
    try:
        create_table_artifact(
            papers_table(day).to_dict(orient="records"), key=artifact_key(day.date, "papers"),
            description=f"Papers of {day.date}",
        )
        create_markdown_artifact(summary_markdown(day, run), key=artifact_key(day.date), description=line)
        if link:
            create_link_artifact(link, link_text=f"Digest {day.date}", key=artifact_key(day.date, "page"))
    except Exception as exc:
        get_logger().warning("artifacts not published: %s", exc)
    return {
        "date": day.date, "papers": len(day.papers), "new": run.new, "updated": run.updated,
        "vanished": run.vanished, "failed": run.failed, "usage": run.usage.model_dump(),
        "page": link, "line": line,
    }
