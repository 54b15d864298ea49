"""The site's pages: which ones exist for a set of days, and how each one is rendered to HTML."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from tasks.models import DayFile
from tasks.site import aggregate, charts, views
from tasks.site.feeds import FEED_DAYS
from tasks.site.jinja import environment
from tasks.site.safety import script_json
from tasks.site.zh import reading
from tasks.steps import empty_is_final, is_published

# A page target: (kind, key). Kinds: day, index, month, archive, zh, feeds.
Target = tuple[str, str]


def day_relpath(date: str) -> str:
    return f"d/{date}.html"


@dataclass
class Site:
    """All stored days plus the lookups pages need (neighbours, months); caches per-day fragments.

    `days` holds every stored date; `dates` only the published ones (with papers, `tasks.steps.is_published`):
    only those get a page, a place in prev/next, the home page and feed entries. `empty` are the stored dates
    whose feed was empty so far; the archive shows them as days without papers.
    """

    days: dict[str, DayFile]
    templates_dir: Path
    dates: list[str] = field(init=False)
    empty: list[str] = field(init=False)
    months: list[str] = field(init=False)
    _cards: dict[str, Markup] = field(default_factory=dict, init=False)
    _data: dict[str, Markup] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.dates = sorted(d for d, day in self.days.items() if is_published(day))
        self.empty = sorted(d for d, day in self.days.items() if not is_published(day))
        self.months = sorted({d[:7] for d in self.dates})

    @property
    def published(self) -> dict[str, DayFile]:
        return {d: self.days[d] for d in self.dates}

    @property
    def env(self) -> Environment:
        return environment(self.templates_dir)

    @property
    def latest(self) -> str | None:
        return self.dates[-1] if self.dates else None

    def prev_date(self, date: str) -> str | None:
        i = bisect.bisect_left(self.dates, date)
        return self.dates[i - 1] if i > 0 else None

    def next_date(self, date: str) -> str | None:
        i = bisect.bisect_right(self.dates, date)
        return self.dates[i] if i < len(self.dates) else None

    def month_days(self, month: str) -> list[DayFile]:
        return [self.days[d] for d in self.dates if d.startswith(month)]

    def neighbour_months(self, month: str) -> tuple[str | None, str | None]:
        i = bisect.bisect_left(self.months, month)
        prev = self.months[i - 1] if i > 0 else None
        j = bisect.bisect_right(self.months, month)
        return prev, self.months[j] if j < len(self.months) else None

    def cards_html(self, date: str) -> Markup:
        """The day's card list, rendered once and shared by d/DATE.html and index.html."""
        if date not in self._cards:
            day = self.days[date]
            cards = [views.card_view(p) for p in views.default_order(day.papers)]
            self._cards[date] = Markup(self.env.get_template("_cards.html").render(cards=cards))
        return self._cards[date]

    def day_data(self, date: str) -> Markup:
        if date not in self._data:
            day = self.days[date]
            updated = day.updated_at
            self._data[date] = script_json({
                "kind": "day",
                "date": date,
                "updated": updated.isoformat() if updated else None,
                "papers": [views.paper_payload(p) for p in views.default_order(day.papers)],
            })
        return self._data[date]


# --- which pages -----------------------------------------------------------------------------------------

def all_targets(site: Site) -> list[Target]:
    targets: list[Target] = [("day", d) for d in site.dates]
    targets += [("zh", d) for d in site.dates if site.days[d].zh_reading is not None]
    targets += [("month", m) for m in site.months]
    targets += [("index", ""), ("archive", ""), ("feeds", "")]
    return targets


def targets_for_day(site: Site, date: str) -> list[Target]:
    """Pages whose content depends on `date`: the day, the neighbours whose prev/next links point at it,
    its month, the index if the latest day is among those, the archive, its zh page and (if recent) feeds.

    An unpublished (empty) date has no page of its own; its neighbours and the index are still re-rendered,
    so that a page left from before the date was known to be empty no longer links to it."""
    days = [d for d in (site.prev_date(date), date, site.next_date(date)) if d and d in site.dates]
    targets: list[Target] = [("day", d) for d in days]
    if date in site.dates and site.days[date].zh_reading is not None:
        targets.append(("zh", date))
    month = date[:7]
    if month in site.months:
        targets.append(("month", month))
        # A month's first stored day creates its page, which changes the neighbouring months' nav links.
        if len(site.month_days(month)) == 1:
            targets += [("month", m) for m in site.neighbour_months(month) if m]
    if site.latest in days or (site.latest or "") < date:
        targets.append(("index", ""))
    targets.append(("archive", ""))
    if date in site.dates[-FEED_DAYS:]:
        targets.append(("feeds", ""))
    return targets


def unpublished_pages(site: Site, date: str) -> list[str]:
    """Pages (relative paths) an unpublished date must not have: left by an earlier render, they would be reachable
    by an old link or bookmark while the navigation skips them."""
    return [] if date in site.dates else [day_relpath(date), f"zh/{date}.html"]


# --- how each page is rendered ---------------------------------------------------------------------------

def render_day(site: Site, date: str, root: str) -> str:
    day = site.days[date]
    zh = day.zh_reading is not None
    return site.env.get_template("day.html").render(
        root=root,
        date=date,
        prev=site.prev_date(date),
        next=site.next_date(date),
        zh=zh,
        count=len(day.papers),
        updated=day.updated_at.isoformat() if day.updated_at else None,
        tags=views.day_tag_counts(day),
        cards_html=site.cards_html(date),
        data=site.day_data(date),
    )


def render_month(site: Site, month: str) -> str:
    root = "../"
    summary = aggregate.month_summary(month, site.month_days(month))
    prev, nxt = site.neighbour_months(month)
    top = [(date, paper, views.card_view(paper)) for date, paper in summary.top]
    return site.env.get_template("month.html").render(
        root=root,
        month=month,
        prev=prev,
        next=nxt,
        summary=summary,
        top=top,
        days_chart=charts.days_chart(month, summary.per_day, root),
        tags_chart=charts.tags_chart(summary.tags),
        data=script_json({"kind": "month", "papers": [views.texts_payload(p, with_desc=False)
                                                      for _, p in summary.top]}),
    )


def render_archive(site: Site) -> str:
    counts = {d: len(site.days[d].papers) for d in site.dates}
    empty = {d: empty_is_final(site.days[d]) for d in site.empty}
    return site.env.get_template("archive.html").render(
        root="", months=aggregate.archive_calendar(counts, empty), month_pages=set(site.months),
        data=script_json({"kind": "archive"}),
    )


def render_zh(site: Site, date: str) -> str:
    day = site.days[date]
    if day.zh_reading is None:
        raise ValueError(f"{date} has no Chinese reading exercise")
    source = day.paper(day.zh_reading.arxiv_id)
    return site.env.get_template("zh.html").render(
        root="../",
        date=date,
        zh=day.zh_reading,
        reading=reading(day.zh_reading),
        source=views.card_view(source) if source else None,
        data=script_json({"kind": "zh",
                          "papers": [views.texts_payload(source, with_desc=False)] if source else []}),
    )
