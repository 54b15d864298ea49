"""Backfill planning: which dates of a range still need a run (what "complete" means is in tasks/steps.py)."""

from __future__ import annotations

from datetime import date, timedelta

from tasks.dates import parse_date
from tasks.errors import InvalidDateError
from tasks.models import DayFile
from tasks.steps import is_complete

MAX_RANGE_DAYS = 366


def date_range(start: date | str, end: date | str) -> list[str]:
    """Every date from start to end (inclusive) as YYYY-MM-DD; InvalidDateError (one line) for a bad range."""
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise InvalidDateError(f"end {end} is before start {start}")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidDateError(f"{days} days is more than one backfill takes ({MAX_RANGE_DAYS}); split it")
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


def plan_backfill(dates: list[str], stored: dict[str, DayFile | None], force: bool) -> tuple[list[str], list[str]]:
    """(dates to run, dates skipped as complete); with force every date runs."""
    if force:
        return list(dates), []
    todo = [d for d in dates if not is_complete(stored.get(d))]
    return todo, [d for d in dates if d not in todo]


