"""The step registry: every step of the pipeline, declared once.

A step says what it is (name; per paper or once per day), what it waits for (steps of the same paper
that must be done first), what it reads (inputs), how it runs (a kind of Prefect task, and for an LLM
step the function over its prompt) and which record fields a success fills. The daily flow, the backfill
planner, the store and the run report all read this one table.

Adding an LLM step takes one `Step(...)` below (its `run` usually `enrich.single(NAME, values)`) and one prompt
file `prompts/NAME.md`; its fields are stored on the record even before the data model names them (PaperRecord
keeps unknown fields).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tasks import enrich
from tasks.models import DayFile, PaperRecord, RunRecord

Scope = Literal["paper", "day"]
Kind = Literal["pdf", "llm", "image"]
Target = PaperRecord | DayFile


@dataclass(frozen=True)
class Step:
    name: str
    scope: Scope
    kind: Kind  # which Prefect task runs it (tasks/step_tasks.py)
    fields: tuple[str, ...]  # what a success stores on its paper (or day)
    needs: tuple[str, ...] = ()  # steps of the same paper that must be ok first
    # What an LLM step's prompt is rendered from: a paper (scope paper) or the day (scope day). None: the
    # step has nothing to work on yet (a day without papers).
    inputs: Callable[[Any], dict[str, Any] | None] | None = None
    run: enrich.StepFn | None = None  # LLM steps: prompt(s) → values for `fields`
    on_request: bool = True  # also runs for a paper reviewed on request (not only for daily lists)


# -- inputs --------------------------------------------------------------------------------------------

def feed_text(paper: PaperRecord) -> dict[str, Any]:
    """Title and abstract from the feed (the AI summary or the title when HF gave no abstract)."""
    return {"title": paper.title, "abstract": paper.abstract or paper.ai_summary or paper.title}


def first_page(paper: PaperRecord) -> dict[str, Any]:
    if paper.text is None:
        raise ValueError(f"{paper.arxiv_id}: the first-page text is needed first")
    return {"head": paper.text.head, "deep": paper.text.deep}


def top_paper(day: DayFile) -> PaperRecord | None:
    """The day's most upvoted paper still in its feed (ties: the one HF listed first)."""
    live = [p for p in day.papers if p.vanished_at is None] or day.papers
    return max(live, key=lambda p: (p.upvotes, -p.feed_rank), default=None)


def top_paper_text(day: DayFile) -> dict[str, Any] | None:
    top = top_paper(day)
    return None if top is None else {**feed_text(top), "arxiv_id": top.arxiv_id}


# -- the registry --------------------------------------------------------------------------------------

STEPS: dict[str, Step] = {s.name: s for s in (
    Step("pdf", "paper", "pdf", fields=("text",)),
    # The first page's top as a small picture for the card; it takes the PDF the text step leaves behind.
    Step("image", "paper", "image", fields=("image",), needs=("pdf",)),
    Step("affiliations", "paper", "llm", fields=("affiliations",), needs=("pdf",), inputs=first_page,
         run=enrich.affiliations),
    Step("topics", "paper", "llm", fields=("topics",), inputs=feed_text, run=enrich.topics),
    Step("review_ru", "paper", "llm", fields=("emoji", "ru"), inputs=feed_text, run=enrich.review_ru),
    Step("summary_en", "paper", "llm", fields=("en",), inputs=feed_text, run=enrich.summary_en),
    Step("summary_zh", "paper", "llm", fields=("zh",), inputs=feed_text, run=enrich.summary_zh),
    Step("zh_reading", "day", "llm", fields=("zh_reading",), inputs=top_paper_text, run=enrich.zh_reading,
         on_request=False),
)}


def paper_steps(*, requested: bool = False) -> tuple[Step, ...]:
    """The per-paper steps in declaration order (for a paper reviewed on request, only those that apply)."""
    return tuple(s for s in STEPS.values() if s.scope == "paper" and (s.on_request or not requested))


def day_steps() -> tuple[Step, ...]:
    return tuple(s for s in STEPS.values() if s.scope == "day")


# -- state of a record ---------------------------------------------------------------------------------

def is_ok(target: Target, step: str) -> bool:
    state = target.steps.get(step)
    return state is not None and state.status == "ok"


def pending(target: Target, steps: tuple[Step, ...] | None = None) -> list[Step]:
    """Steps not done yet on a paper (or the day): never run, failed, skipped or deferred."""
    if steps is None:
        steps = day_steps() if isinstance(target, DayFile) else paper_steps()
    return [s for s in steps if not is_ok(target, s.name)]


def ready(target: Target, step: Step) -> bool:
    """Whether everything `step` waits for is done on the record."""
    return all(is_ok(target, need) for need in step.needs)


def unfinished(day: DayFile) -> Iterator[tuple[PaperRecord | None, Step]]:
    """(paper, step) for every step of the day not done yet; paper None for day steps."""
    for paper in day.papers:
        for step in pending(paper):
            yield paper, step
    if day.papers:  # day steps work on the papers: an empty day has none to do
        for step in pending(day):
            yield None, step


# -- completeness (the backfill planner) --------------------------------------------------------------

# An empty feed is normal for a weekend or a holiday, and for the first hours of every working day. A run
# that finds a date empty this long after the date has ended settles it; an earlier one may be too early.
EMPTY_FINAL_AFTER = timedelta(days=2)


def saw_papers(run: RunRecord, day: DayFile) -> bool:
    """Whether this run's feed listed papers (older records did not count them: go by the stored day)."""
    return run.feed_papers > 0 if run.feed_papers is not None else bool(day.papers)


def empty_is_final(day: DayFile) -> bool:
    """An empty date is final once a finished run found it empty at least EMPTY_FINAL_AFTER after the date."""
    date_end = datetime.fromisoformat(day.date).replace(tzinfo=UTC) + timedelta(days=1)
    return any(
        r.finished_at and not saw_papers(r, day) and _utc(r.started_at) - date_end >= EMPTY_FINAL_AFTER
        for r in day.runs
    )


def is_published(day: DayFile) -> bool:
    """Whether a date is shown to readers: it has a day page, a place in prev/next, can be the home page's day,
    gives feed entries and may be posted. That is: it has stored papers.

    A date whose feed was empty (a weekend, a holiday, or a working day's first hours) is never published, final
    or not; its day file stays so that its runs are recorded. It becomes published on the first run that stores
    a paper, and stays so: an empty answer later (an upstream hiccup) drops no stored paper (`merge_feed`). The
    same rule is read by the site (tasks/site/pages.py) and by anything that posts a day; the backfill planner
    reads its other half, `empty_is_final`, to decide whether an unpublished date is worth another run.
    """
    return bool(day.papers)


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def is_complete(day: DayFile | None) -> bool:
    """Done for good: a finished run saw the date's papers and every step is ok; or the date is final-empty."""
    if day is None or not any(r.finished_at for r in day.runs):
        return False
    if not day.papers:
        return empty_is_final(day)
    if not any(r.finished_at and saw_papers(r, day) for r in day.runs):
        return False
    return next(unfinished(day), None) is None


# -- applying a result (the store) ---------------------------------------------------------------------

def apply_result(day: DayFile, result: enrich.StepResult) -> None:
    """Store a step's values and status on its paper (or the day) and add its usage to the totals.

    Only the step's declared fields are set: an implementation cannot write over feed facts or other
    steps' work by accident. A step already ok stays as it is (only the usage is added): when two runs of a
    date meet (tasks/store.py: DayWriter), a failure or a second answer never replaces a stored result.
    """
    target: Target | None = day if result.arxiv_id is None else day.paper(result.arxiv_id)
    if target is None:
        return
    apply_to(target, result)
    day.usage = day.usage + result.usage


def apply_to(target: Target, result: enrich.StepResult) -> None:
    """`apply_result` for one record: a paper of a day, the day itself, or a paper reviewed on request."""
    step = STEPS[result.step]
    stray = set(result.values) - set(step.fields)
    if stray:
        raise ValueError(f"step {step.name} returned fields it does not declare: {sorted(stray)}")
    previous = target.steps.get(result.step)
    if previous is None or previous.status != "ok":
        if previous is not None:
            result.state.attempts = previous.attempts + 1
        if result.state.status == "ok":
            for key, value in result.values.items():
                setattr(target, key, value)
        target.steps[result.step] = result.state
    if isinstance(target, PaperRecord):
        target.usage = target.usage + result.usage
