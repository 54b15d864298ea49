"""Aggregations over several days: a month's top papers and topics (pandas), and the archive calendar."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from tasks.models import DayFile, PaperRecord
from tasks.site.views import unique

MONTH_TOP = 20


@dataclass(slots=True)
class MonthSummary:
    month: str  # YYYY-MM
    top: list[tuple[str, PaperRecord]]  # (date the paper is linked to, record), best first
    tags: list[tuple[str, int]]  # topic -> number of distinct papers, most frequent first
    per_day: list[tuple[str, int]]  # every stored day of the month -> papers stored that day
    papers: int  # distinct papers
    days: int
    every: list[tuple[str, PaperRecord]] = field(default_factory=list)  # every distinct paper, best first


@dataclass(frozen=True, slots=True)
class InstitutionRow:
    name: str
    papers: int
    upvotes: int


@dataclass(frozen=True, slots=True)
class Cell:
    day: int
    iso: str
    count: int | None  # None: no stored day, or a stored day without papers (see `empty`)
    level: int = 0  # 0-4: shade relative to the busiest stored day
    empty: str = ""  # a stored date without papers: "final" (no papers that day) or "pending" (none yet)


@dataclass(slots=True)
class CalendarMonth:
    month: str
    weeks: list[list[Cell | None]]  # Monday first; None pads days outside the month
    papers: int
    days: int


def papers_frame(days: Iterable[DayFile]) -> tuple[pd.DataFrame, list[PaperRecord]]:
    """One row per (day, paper) with a `ref` into the returned record list (records stay out of pandas)."""
    records: list[PaperRecord] = []
    rows: list[tuple[str, str, int, int, list[str], int]] = []
    for day in days:
        for paper in day.papers:
            rows.append((day.date, paper.arxiv_id, paper.upvotes, paper.feed_rank, unique(paper.topics),
                         len(records)))
            records.append(paper)
    frame = pd.DataFrame(rows, columns=["date", "arxiv_id", "upvotes", "rank", "topics", "ref"])
    return frame, records


def month_summary(month: str, days: list[DayFile], top_n: int = MONTH_TOP) -> MonthSummary:
    """Top papers and topic counts of one month; a paper listed on several days counts once."""
    frame, records = papers_frame(days)
    per_day = [(d.date, len(d.papers)) for d in sorted(days, key=lambda d: d.date)]
    if frame.empty:
        return MonthSummary(month, [], [], per_day, 0, len(days))
    # Upvotes only grow, so the copy with the most upvotes is the freshest; on a tie keep the later day.
    best = (frame.sort_values(["upvotes", "date", "rank"], ascending=[False, False, True])
            .drop_duplicates("arxiv_id", keep="first"))
    every = [(row.date, records[row.ref]) for row in best.itertuples(index=False)]
    top = every[:top_n]
    topics = best[["arxiv_id", "topics"]].explode("topics").dropna(subset=["topics"])
    counts = topics.groupby("topics").size()
    tags = sorted(((str(tag), int(n)) for tag, n in counts.items()), key=lambda kv: (-kv[1], kv[0].lower()))
    return MonthSummary(month, top, tags, per_day, len(best), len(days), every)


def institution_board(papers: Iterable[PaperRecord], institutions_of: Callable[[PaperRecord], list[str]]
                      ) -> list[InstitutionRow]:
    """Institutions by distinct papers, then by the upvotes of those papers (a paper counts once per institution)."""
    count: Counter[str] = Counter()
    votes: Counter[str] = Counter()
    for paper in papers:
        for name in institutions_of(paper):
            count[name] += 1
            votes[name] += paper.upvotes
    rows = [InstitutionRow(name, n, votes[name]) for name, n in count.items()]
    return sorted(rows, key=lambda r: (-r.papers, -r.upvotes, r.name.lower()))


def archive_calendar(counts: dict[str, int], empty: dict[str, bool] | None = None) -> list[CalendarMonth]:
    """Every month that has a stored day, newest first, as Monday-first weeks of day cells.

    `counts`: published dates -> papers; `empty`: stored dates without papers -> whether that is final. Empty dates
    are cells without a link; a month counts only its published days."""
    empty = empty or {}
    months: dict[str, list[str]] = {}
    for iso in sorted(counts):
        months.setdefault(iso[:7], []).append(iso)
    for iso in empty:
        months.setdefault(iso[:7], [])
    cal = calendar.Calendar(firstweekday=calendar.MONDAY)
    peak = max(counts.values(), default=0) or 1

    def cell(iso: str) -> Cell:
        n = counts.get(iso)
        if n is None and iso in empty:
            return Cell(int(iso[8:]), iso, None, 0, "final" if empty[iso] else "pending")
        return Cell(int(iso[8:]), iso, n, 0 if not n else -(-4 * n // peak))  # ceil(4n / peak)

    out: list[CalendarMonth] = []
    for month in sorted(months, reverse=True):
        year, mon = int(month[:4]), int(month[5:7])
        weeks = [[cell(f"{month}-{d:02d}") if d else None for d in week]
                 for week in cal.monthdayscalendar(year, mon)]
        out.append(CalendarMonth(month, weeks, sum(counts[d] for d in months[month]), len(months[month])))
    return out
