"""The date a daily run is for, and what a backfill plans and reports (no Prefect engine).

test_dates_plan.py covers date parsing and the basic plan; this file adds the run's date from its
schedule, the flow's parameter errors, the run name, range limits, what counts as complete, and the
backfill's per-date outcomes and summary table.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from uuid import uuid4

import pytest
from prefect.states import Completed, Crashed, Failed

import flows.daily
from flows.backfill import ChildRun, DateOutcome, _failure, _stored, outcome_of, skipped_outcome, summary_markdown
from flows.daily import daily_digest, daily_run_name
from tasks.dates import resolve_date
from tasks.errors import InvalidDateError
from tasks.models import DayFile, PaperRecord, RunRecord, StepState, Usage
from tasks.plan import MAX_RANGE_DAYS, date_range, is_complete, plan_backfill
from tasks.settings import Settings
from tasks.steps import paper_steps
from tasks.store import save_day

TODAY = date(2026, 11, 26)


# -- the date of a run -------------------------------------------------------------------------------

@pytest.mark.parametrize(("scheduled", "expected"), [
    (datetime(2025, 3, 5, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-03-04"),  # 23:30 UTC the day before
    (datetime(2025, 3, 4, 22, 0, tzinfo=timezone(timedelta(hours=-5))), "2025-03-05"),  # 03:00 UTC the next day
    (datetime(2025, 3, 4, 0, 0, tzinfo=UTC), "2025-03-04"),
    (datetime(2025, 3, 4, 10, 0), "2025-03-04"),  # naive: taken as UTC
])
def test_no_date_means_the_scheduled_date_in_utc(scheduled, expected):
    assert resolve_date(None, scheduled, today=TODAY) == expected
    assert resolve_date("", scheduled, today=TODAY) == expected


def test_a_given_date_wins_over_the_schedule():
    assert resolve_date(" 2025-01-23 ", datetime(2025, 3, 4, tzinfo=UTC), today=TODAY) == "2025-01-23"


def test_the_midnight_run_keeps_its_date_when_it_starts_a_moment_early():
    # The API lets a run start up to half a second before its scheduled time, and a worker's clock may lag
    # the server's: the 00:00 UTC run of the 24th may start while this clock still says the 23rd.
    midnight = datetime(2025, 1, 24, 0, 0, tzinfo=UTC)
    assert resolve_date(None, midnight, today=date(2025, 1, 23)) == "2025-01-24"
    with pytest.raises(InvalidDateError, match="in the future"):  # a date someone typed is still checked
        resolve_date("2025-01-24", midnight, today=date(2025, 1, 23))
    with pytest.raises(InvalidDateError, match="before 2023-05-01"):
        resolve_date(None, datetime(2023, 4, 30, 12, tzinfo=UTC), today=TODAY)


@pytest.mark.parametrize(("bad", "reason"), [
    ("23.01.2025", "expected YYYY-MM-DD"),
    ("2025-01-32", "invalid date '2025-01-32'"),
    ("2023-04-30", "before 2023-05-01"),
    ("2999-01-01", "in the future"),
])
def test_the_daily_flow_rejects_a_bad_date_parameter_first(bad, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(InvalidDateError, match=reason) as err:
        daily_digest.fn(date=bad)  # the flow's body, without the engine: the date is checked before any I/O
    assert "\n" not in str(err.value)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("parameters", "name"), [
    ({"date": "2025-01-23"}, "daily-2025-01-23"),
    ({}, "daily-2025-03-04"),
    ({"date": None}, "daily-2025-03-04"),
    ({"date": "2025-02-30"}, "daily-invalid-date"),
])
def test_run_name_says_which_date(parameters, name, monkeypatch):
    fake = SimpleNamespace(parameters=parameters, scheduled_start_time=datetime(2025, 3, 4, 6, tzinfo=UTC))
    monkeypatch.setattr(flows.daily, "flow_run", fake)
    assert daily_run_name() == name


# -- planning ------------------------------------------------------------------------------------------

def test_range_limits():
    assert date_range("2025-01-23", "2025-01-23") == ["2025-01-23"]
    assert date_range("2024-02-28", "2024-03-01") == ["2024-02-28", "2024-02-29", "2024-03-01"]
    start = date(2024, 1, 1)
    longest = (start + timedelta(days=MAX_RANGE_DAYS - 1)).isoformat()
    assert len(date_range(start.isoformat(), longest)) == MAX_RANGE_DAYS
    with pytest.raises(InvalidDateError, match="split it"):
        date_range(start.isoformat(), (start + timedelta(days=MAX_RANGE_DAYS)).isoformat())
    with pytest.raises(InvalidDateError, match="expected YYYY-MM-DD"):
        date_range("2025-1-20", "2025-01-23")


def _paper(arxiv_id: str = "2501.00001", **status: str) -> PaperRecord:
    paper = PaperRecord(arxiv_id=arxiv_id, title="t")
    for step in paper_steps():
        paper.steps[step.name] = StepState(status=status.get(step.name, "ok"))
    return paper


def _run(**kw) -> RunRecord:
    return RunRecord(started_at=datetime.now(UTC), finished_at=datetime.now(UTC), **kw)


def _day(d: str, papers: list[PaperRecord] | None = None, zh: str | None = "ok", runs: int = 1) -> DayFile:
    day = DayFile(date=d, papers=[_paper()] if papers is None else papers)
    if zh:
        day.steps["zh_reading"] = StepState(status=zh)
    day.runs = [_run() for _ in range(runs)]
    return day


@pytest.mark.parametrize(("day", "complete"), [
    (None, False),
    (_day("2025-01-20"), True),
    (_day("2025-01-20", runs=0), False),  # stored but no run ever finished
    (_day("2025-01-20", papers=[], zh=None), True),  # a day without papers (a weekend) is done once run
    (_day("2025-01-20", zh=None), False),  # the day's reading exercise is missing
    (_day("2025-01-20", zh="skipped"), False),  # ... or was skipped (no key): run again later
    (_day("2025-01-20", papers=[_paper(summary_zh="deferred")]), False),  # stopped at the budget
    (_day("2025-01-20", papers=[_paper(pdf="error")]), False),
])
def test_what_counts_as_complete(day, complete):
    assert is_complete(day) is complete


def test_a_broken_day_file_is_planned_again(tmp_path):
    settings = Settings(data_dir=tmp_path)
    save_day(settings, _day("2025-01-20"))
    (tmp_path / "days").mkdir(exist_ok=True)
    (tmp_path / "days" / "2025-01-21.json").write_text("{not json")
    (tmp_path / "days" / "2025-01-22.json").write_text(json.dumps({"schema_version": 999, "date": "2025-01-22"}))
    dates = ["2025-01-20", "2025-01-21", "2025-01-22", "2025-01-23"]
    stored = _stored(settings, dates)
    assert stored["2025-01-20"] is not None and stored["2025-01-21"] is None and stored["2025-01-22"] is None
    assert plan_backfill(dates, stored, force=False) == (dates[1:], dates[:1])


# -- outcomes and the summary table --------------------------------------------------------------------

def test_outcome_of_a_finished_child_uses_its_own_run_record():
    child_id = uuid4()
    mine = _run(flow_run_id=str(child_id), new=5, usage=Usage(calls=33, cached=2, cost_usd=0.0217))
    day = _day("2025-01-20", papers=[_paper(f"2501.0000{i}") for i in range(5)])
    day.runs = [_run(new=9), mine, _run(flow_run_id=str(uuid4()))]  # another run came after it
    out = outcome_of("2025-01-20", ChildRun(child_id, "daily-2025-01-20", None), day, "http://127.0.0.1:4200/")
    assert out.status == "ran" and out.run is mine and out.papers == 5
    assert out.text.startswith("ran: 5 papers (5 new") and "33 LLM calls, 2 cached, $0.0217" in out.text
    assert out.run_url == f"http://127.0.0.1:4200/runs/flow-run/{child_id}"


def test_outcome_of_a_failed_or_missing_child():
    failed = outcome_of("2025-01-20", ChildRun(uuid4(), "daily-2025-01-20", "Failed: feed unreachable"), None)
    assert failed.status == "failed" and failed.text == "failed: Failed: feed unreachable" and failed.run_url is None
    nowhere = outcome_of("2025-01-20", ChildRun(uuid4(), "daily-2025-01-20", None), None)
    assert nowhere.status == "failed" and "data dir shared" in nowhere.text
    assert skipped_outcome("2025-01-21", _day("2025-01-21")).text == "skipped (complete)"


def test_failure_of_a_final_state():
    assert _failure(Completed()) is None
    assert _failure(Failed(message="StoreError: disk full")) == "Failed: StoreError: disk full"
    assert _failure(Crashed()) == "Crashed"
    assert _failure(None) == "the run has no state"


def test_summary_table_has_a_row_per_date_in_order():
    ran = DateOutcome("2025-01-20", "ran", "5 papers", run=_run(new=5, failed=1, usage=Usage(calls=30, cost_usd=0.02)),
                      papers=5, run_name="daily-2025-01-20", run_url="http://ui/runs/flow-run/1")
    outcomes = [
        ran,
        DateOutcome("2025-01-21", "skipped", papers=7),
        DateOutcome("2025-01-22", "failed", "Failed: HTTP 503 | upstream\nsecond line", run_name="daily-2025-01-22"),
    ]
    md = summary_markdown("2025-01-20", "2025-01-22", outcomes, "in process")
    lines = md.splitlines()
    assert lines[0] == "# Backfill 2025-01-20 .. 2025-01-22"
    assert "3 dates: 1 ran, 1 skipped as complete, 1 failed; in process; $0.0200 spent." in md
    rows = [line for line in lines if line.startswith("| 2025-")]
    assert [r.split(" | ")[0] for r in rows] == ["| 2025-01-20", "| 2025-01-21", "| 2025-01-22"]
    assert rows[0] == ("| 2025-01-20 | ran | 5 | 5 | 1 | 30 | 0 | 0.0200 | "
                       "[daily-2025-01-20](http://ui/runs/flow-run/1) |")
    assert rows[1] == "| 2025-01-21 | skipped (complete) | 7 |  |  |  |  |  |  |"
    assert rows[2].startswith("| 2025-01-22 | failed: Failed: HTTP 503 / upstream second line |")
    assert all(r.count("|") == 10 for r in rows)  # the error's pipe and newline do not break the table
