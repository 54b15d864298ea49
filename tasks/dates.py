"""The date a run is for: validated, never in the future, never before HF Daily Papers existed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tasks.errors import InvalidDateError

FIRST_DATE = date(2023, 5, 1)  # HF Daily Papers has no data before this
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def today_utc() -> date:
    return datetime.now(UTC).date()


def yesterday_utc() -> date:
    return today_utc() - timedelta(days=1)


def parse_date(value: date | str, *, today: date | None = None) -> date:
    """A YYYY-MM-DD string (or a date) in the allowed range, or InvalidDateError with a one-line reason."""
    if isinstance(value, datetime):
        value = value.date()
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    if not _ISO_DATE.match(text):
        raise InvalidDateError(f"invalid date {text[:40]!r}: expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidDateError(f"invalid date {text!r}: {exc}") from exc
    if parsed < FIRST_DATE:
        raise InvalidDateError(f"date {text} is before {FIRST_DATE}, when HF Daily Papers begins")
    today = today or today_utc()
    if parsed > today:
        raise InvalidDateError(f"date {text} is in the future (today is {today} UTC)")
    return parsed


def coerce_date(value: Any) -> date | str | None:
    """A flow parameter as a date where it is one (a date or a YYYY-MM-DD string); anything else unchanged.

    Prefect validates parameters before a run starts and fails it with a multi-line pydantic message and an
    unnamed run. Passing a non-date through lets the run itself reject it first thing, in one line
    (`parse_date`), under its usual name.
    """
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = str(value).strip()
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    return value


def calendar_date(value: Any) -> date | None:
    """The value as a calendar date (in any range), or None when it is not one."""
    coerced = coerce_date(value)
    return coerced if isinstance(coerced, date) else None


def resolve_date(value: date | str | None, scheduled: datetime | None = None, *, today: date | None = None) -> str:
    """The run's date: the given one, else the flow run's scheduled date (UTC), else today (UTC)."""
    if value:
        return parse_date(value, today=today).isoformat()
    if scheduled is not None:
        when = scheduled.astimezone(UTC).date() if scheduled.tzinfo else scheduled.date()
        # Not "in the future": the API lets a run start up to half a second early, and this machine's clock
        # may lag the server's, so the 00:00 UTC run can start while this clock still says yesterday.
        return parse_date(when.isoformat(), today=max(today or today_utc(), when)).isoformat()
    return (today or today_utc()).isoformat()
