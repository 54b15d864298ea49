"""What the site needs of every stored day, kept small: a date's render reads every day file but keeps only this.

Most pages of a daily render show a few days (the date, its neighbours, its month, the feeds' window, the latest
day). A few facts come from every day: which dates are published (prev/next, the month list), the archive's
counts and empty dates, the topic list of the feeds page, and the canonical institutions (built from every
printed affiliation). `DaySummary` holds exactly those, a few hundred bytes a day instead of the parsed day file,
so a render's memory follows the pages it writes, not the size of the store.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from tasks.models import DayFile
from tasks.site.views import unique
from tasks.steps import empty_is_final, is_published


@dataclass(frozen=True, slots=True)
class DaySummary:
    date: str
    papers: int
    published: bool  # tasks.steps.is_published
    final: bool  # an unpublished date found empty for good (tasks.steps.empty_is_final)
    zh: bool  # it has a Chinese reading exercise (a zh page)
    topics: tuple[tuple[str, tuple[str, ...]], ...]  # (arxiv_id, its distinct topics) per paper, as stored
    affiliations: tuple[str, ...]  # every printed affiliation of its papers, as stored


def summarize(day: DayFile) -> DaySummary:
    published = is_published(day)
    # Topic names repeat across thousands of papers: one string object each.
    topics = tuple((p.arxiv_id, tuple(sys.intern(t) for t in unique(p.topics))) for p in day.papers)
    return DaySummary(
        date=day.date, papers=len(day.papers), published=published,
        final=not published and empty_is_final(day), zh=day.zh_reading is not None, topics=topics,
        affiliations=tuple(a for p in day.papers for a in p.affiliations),
    )
