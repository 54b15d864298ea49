from datetime import UTC, date, datetime

import pytest

from tasks.dates import parse_date, resolve_date
from tasks.errors import InvalidDateError
from tasks.models import DayFile, PaperRecord, RunRecord, StepState
from tasks.plan import date_range, is_complete, plan_backfill
from tasks.steps import paper_steps

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01", "2025-02-30", "../../etc/passwd", "2025-1-1",
                                 "2023-04-30", "2026-11-27", ""])
def test_bad_dates_are_rejected_with_one_line(bad):
    with pytest.raises(InvalidDateError) as err:
        parse_date(bad, today=TODAY)
    assert "\n" not in str(err.value)


def test_resolution_order():
    assert resolve_date("2025-01-23", today=TODAY) == "2025-01-23"
    assert resolve_date(None, datetime(2025, 3, 4, 23, 0, tzinfo=UTC), today=TODAY) == "2025-03-04"
    assert resolve_date(None, today=TODAY) == "2026-11-26"
    with pytest.raises(InvalidDateError):
        resolve_date("2030-01-01", today=TODAY)


def test_date_range():
    assert date_range("2025-01-30", "2025-02-02") == ["2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02"]
    with pytest.raises(InvalidDateError, match="before start"):
        date_range("2025-02-02", "2025-01-30")


def _day(d, *, done=True, finished=True):
    paper = PaperRecord(arxiv_id="2501.00001", title="t")
    for s in (step.name for step in paper_steps()):
        paper.steps[s] = StepState(status="ok" if done or s != "topics" else "error")
    day = DayFile(date=d, papers=[paper], steps={"zh_reading": StepState(status="ok")})
    if finished:
        day.runs.append(RunRecord(started_at=datetime.now(UTC), finished_at=datetime.now(UTC)))
    return day


def test_plan_skips_complete_days_unless_forced():
    dates = ["2025-01-20", "2025-01-21", "2025-01-22", "2025-01-23"]
    stored = {"2025-01-20": _day("2025-01-20"), "2025-01-21": _day("2025-01-21", done=False),
              "2025-01-22": _day("2025-01-22", finished=False), "2025-01-23": None}
    assert is_complete(stored["2025-01-20"]) and not is_complete(stored["2025-01-21"])
    todo, skipped = plan_backfill(dates, stored, force=False)
    assert todo == dates[1:] and skipped == dates[:1]
    assert plan_backfill(dates, stored, force=True) == (dates, [])
