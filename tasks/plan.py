"""Backfill planning: which dates of a range still need a run."""

from __future__ import annotations

from datetime import timedelta

from tasks.dates import parse_date
from tasks.errors import InvalidDateError
from tasks.models import DayFile

MAX_RANGE_DAYS = 366


def date_range(start: str, end: str) -> list[str]:
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise InvalidDateError(f"end {end} is before start {start}")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidDateError(f"{days} days is more than one backfill takes ({MAX_RANGE_DAYS}); split it")
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


def is_complete(day: DayFile | None) -> bool:
    """A day is complete once a run finished and no paper or day step is left to do."""
    if day is None or not any(r.finished_at for r in day.runs):
        return False
    if any(p.pending_steps() for p in day.papers):
        return False
    return not day.papers or (day.steps.get("zh_reading") is not None and day.steps["zh_reading"].status == "ok")


def plan_backfill(dates: list[str], stored: dict[str, DayFile | None], force: bool) -> tuple[list[str], list[str]]:
    """(dates to run, dates skipped as complete); with force every date runs."""
    if force:
        return list(dates), []
    todo = [d for d in dates if not is_complete(stored.get(d))]
    return todo, [d for d in dates if d not in todo]


