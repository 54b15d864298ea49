"""The step registry: one table that the flow, the planner, the store and the report read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.enrich import StepResult
from tasks.models import DayFile, Localized, PaperRecord, RunRecord, StepState
from tasks.plan import plan_backfill
from tasks.report import papers_table, summary_markdown
from tasks.steps import (
    EMPTY_FINAL_AFTER,
    STEPS,
    apply_result,
    day_steps,
    is_complete,
    is_published,
    paper_steps,
    pending,
    ready,
    top_paper,
    unfinished,
)


def _paper(arxiv_id: str = "2501.00001", **status: str) -> PaperRecord:
    record = PaperRecord(arxiv_id=arxiv_id, title="A title", abstract="An abstract.")
    for step in paper_steps():
        if status.get(step.name) != "none":
            record.steps[step.name] = StepState(status=status.get(step.name, "ok"))
    return record


def _run(started: datetime, feed_papers: int | None) -> RunRecord:
    return RunRecord(started_at=started, finished_at=started + timedelta(minutes=1), feed_papers=feed_papers)


def test_every_step_is_declared_once_with_what_it_needs() -> None:
    assert [s.name for s in paper_steps()] == ["pdf", "image", "affiliations", "topics", "review_ru", "summary_en",
                                              "summary_zh"]
    assert STEPS["image"].needs == ("pdf",) and STEPS["image"].kind == "image"
    assert [s.name for s in day_steps()] == ["zh_reading"]
    assert STEPS["affiliations"].needs == ("pdf",)
    for step in STEPS.values():
        assert set(step.needs) <= set(STEPS), step.name  # needs name registered steps
        assert step.fields, step.name
        if step.kind == "llm":
            assert step.run is not None and step.inputs is not None, step.name
            assert (Path(__file__).parents[2] / "prompts" / f"{step.name}.md").exists(), step.name
    assert "zh_reading" not in {s.name for s in paper_steps(requested=True)}


def test_pending_and_ready_follow_the_needs() -> None:
    paper = _paper(pdf="error", affiliations="none", topics="deferred")
    assert [s.name for s in pending(paper)] == ["pdf", "affiliations", "topics"]
    assert not ready(paper, STEPS["affiliations"]) and ready(paper, STEPS["topics"])
    paper.steps["pdf"] = StepState(status="ok")
    assert ready(paper, STEPS["affiliations"])


def test_an_empty_day_has_no_day_steps_to_do() -> None:
    assert list(unfinished(DayFile(date="2025-01-25"))) == []
    day = DayFile(date="2025-01-23", papers=[_paper()])
    assert [(p, s.name) for p, s in unfinished(day)] == [(None, "zh_reading")]


def test_apply_result_sets_only_declared_fields_and_counts_attempts() -> None:
    paper = _paper(summary_en="error")
    day = DayFile(date="2025-01-23", papers=[paper])
    ok = StepResult(step="summary_en", arxiv_id=paper.arxiv_id, state=StepState(status="ok"),
                    values={"en": Localized(title="Title", desc="Description of it.")})
    apply_result(day, ok)
    assert paper.en.title == "Title" and paper.steps["summary_en"].attempts == 2
    stray = StepResult(step="summary_en", arxiv_id=paper.arxiv_id, state=StepState(status="ok"),
                       values={"title": "overwritten feed fact"})
    with pytest.raises(ValueError, match="does not declare"):
        apply_result(day, stray)
    assert paper.title == "A title"


def test_a_stored_result_is_kept_when_another_run_reports_the_same_step() -> None:
    """Two runs of a date that meet (a lease taken over) both report a step: the first stored result stays,
    a later failure or a second answer never replaces it, and what both paid is counted."""
    from tasks.models import Usage

    paper = _paper(summary_en="none")
    day = DayFile(date="2025-01-23", papers=[paper])
    first = StepResult(step="summary_en", arxiv_id=paper.arxiv_id, state=StepState(status="ok"),
                       values={"en": Localized(title="First", desc="Stored first.")}, usage=Usage(calls=1))
    apply_result(day, first)
    for late in (StepResult(step="summary_en", arxiv_id=paper.arxiv_id, state=StepState(status="error", error="x"),
                            usage=Usage(calls=1)),
                 StepResult(step="summary_en", arxiv_id=paper.arxiv_id, state=StepState(status="ok"),
                            values={"en": Localized(title="Second", desc="Stored later.")}, usage=Usage(calls=1))):
        apply_result(day, late)
    assert paper.en.title == "First" and paper.steps["summary_en"] is first.state
    assert paper.usage.calls == 3 and day.usage.calls == 3


def test_unknown_fields_of_a_new_step_survive_a_round_trip() -> None:
    paper = _paper()
    paper.page_image = "thumbs/2501.00001.webp"  # a field a newer step stores before the model names it
    again = PaperRecord.model_validate_json(paper.model_dump_json())
    assert again.model_dump()["page_image"] == "thumbs/2501.00001.webp"


# -- complete dates (the planner) ----------------------------------------------------------------------

DATE = "2025-01-23"
END_OF_DATE = datetime(2025, 1, 24, tzinfo=UTC)


def test_a_date_with_papers_is_complete_once_every_step_is_ok() -> None:
    day = DayFile(date=DATE, papers=[_paper()], steps={"zh_reading": StepState(status="ok")})
    assert not is_complete(day)  # no run finished yet
    day.runs.append(_run(END_OF_DATE, feed_papers=1))
    assert is_complete(day)
    day.papers[0].steps["topics"] = StepState(status="deferred")
    assert not is_complete(day)


def test_an_empty_feed_in_the_morning_does_not_make_a_date_complete() -> None:
    morning = DayFile(date=DATE, runs=[_run(datetime(2025, 1, 23, 2, tzinfo=UTC), feed_papers=0)])
    assert not is_complete(morning)  # HF fills the list later in the day
    morning.runs.append(_run(END_OF_DATE + timedelta(hours=6), feed_papers=0))
    assert not is_complete(morning)  # the next day, still too early to tell
    todo, _ = plan_backfill([DATE], {DATE: morning}, force=False)
    assert todo == [DATE]


def test_an_empty_date_is_final_once_it_stays_empty_days_later() -> None:
    weekend = DayFile(date=DATE, runs=[_run(datetime(2025, 1, 23, 10, tzinfo=UTC), feed_papers=0)])
    weekend.runs.append(_run(END_OF_DATE + EMPTY_FINAL_AFTER, feed_papers=0))
    assert is_complete(weekend)
    old = DayFile(date=DATE, runs=[_run(datetime(2026, 1, 1, tzinfo=UTC), feed_papers=0)])
    assert is_complete(old)  # a backfill of an old empty date settles it with one run


def test_a_date_whose_papers_came_only_from_an_older_run_is_not_settled_by_an_empty_feed() -> None:
    # Papers stored by a run that saw them, then every later run found the feed empty (a hiccup):
    # the stored papers still need their steps checked, and an empty run does not count as having seen them.
    day = DayFile(date=DATE, papers=[_paper(topics="error")], steps={"zh_reading": StepState(status="ok")})
    day.runs.append(_run(END_OF_DATE + timedelta(days=5), feed_papers=0))
    assert not is_complete(day)
    day.papers[0].steps["topics"] = StepState(status="ok")
    assert not is_complete(day)  # no run ever saw the papers listed
    day.runs.append(_run(END_OF_DATE + timedelta(days=6), feed_papers=1))
    assert is_complete(day)


def test_published_and_planned_are_two_halves_of_one_rule() -> None:
    """A date is shown once it has papers; an unshown date is planned again until its emptiness is final."""
    morning = DayFile(date=DATE, runs=[_run(datetime(2025, 1, 23, 2, tzinfo=UTC), feed_papers=0)])
    weekend = DayFile(date=DATE, runs=[_run(END_OF_DATE + EMPTY_FINAL_AFTER, feed_papers=0)])
    filled = DayFile(date=DATE, papers=[_paper()], steps={"zh_reading": StepState(status="ok")},
                     runs=[_run(END_OF_DATE, feed_papers=1)])
    hiccup = filled.model_copy(deep=True)
    hiccup.runs.append(_run(END_OF_DATE + timedelta(hours=3), feed_papers=0))
    assert [is_published(d) for d in (morning, weekend, filled, hiccup)] == [False, False, True, True]
    for day, planned in ((morning, True), (weekend, False), (filled, False), (hiccup, False)):
        todo, _ = plan_backfill([DATE], {DATE: day}, force=False)
        assert (todo == [DATE]) is planned
    filled_later = morning.model_copy(deep=True)  # the morning's date once a run finds its papers
    filled_later.papers.append(_paper())
    filled_later.steps["zh_reading"] = StepState(status="ok")
    filled_later.runs.append(_run(END_OF_DATE, feed_papers=1))
    assert is_published(filled_later) and is_complete(filled_later)


# -- the report reads the registry ---------------------------------------------------------------------

def test_the_report_lists_steps_that_wait_or_never_ran() -> None:
    paper = _paper(pdf="error", affiliations="none")
    paper.steps["pdf"] = StepState(status="error", error="PDF 2501.00001: HTTP 404")
    day = DayFile(date=DATE, papers=[paper])
    run = _run(END_OF_DATE, feed_papers=1)
    text = summary_markdown(day, run)
    assert "`2501.00001` pdf: error - PDF 2501.00001: HTTP 404" in text
    assert "`2501.00001` affiliations: waits for pdf" in text
    assert "day zh_reading: not run yet" in text
    table = papers_table(day)
    assert table.loc[0, "not ok"] == "pdf, affiliations" and table.loc[0, "status"] == "incomplete"


def test_top_paper_prefers_live_papers_with_most_upvotes() -> None:
    a, b, c = _paper("2501.00001"), _paper("2501.00002"), _paper("2501.00003")
    a.upvotes, b.upvotes, c.upvotes = 5, 9, 50
    c.vanished_at = END_OF_DATE
    assert top_paper(DayFile(date=DATE, papers=[a, b, c])) is b
    assert top_paper(DayFile(date=DATE)) is None
