"""The site's pages: which ones exist for a set of days, and how each one is rendered to HTML."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup

from tasks.models import DayFile, PaperRecord
from tasks.site import aggregate, charts, feeds, search, views
from tasks.site.feeds import TOPIC_FEED_DAYS
from tasks.site.images import SiteImages
from tasks.site.institutions import Institutions, load_aliases
from tasks.site.jinja import SEARCH_CSP, environment
from tasks.site.safety import script_json
from tasks.site.summary import DaySummary, summarize
from tasks.site.zh import reading

# A page target: (kind, key). Kinds: day, index, month, archive, zh, feeds, search (a month's index bundle),
# search-page.
Target = tuple[str, str]
BOARD_TOP = 15  # institutions shown before "show all" on the month's leaderboard


def day_relpath(date: str) -> str:
    return f"d/{date}.html"


@dataclass(eq=False)
class Site:
    """The stored days plus the lookups pages need (neighbours, months); caches per-day fragments.

    `summaries` holds every stored date (`tasks.site.summary`); `days` the day files of the dates whose pages are
    rendered (all of them for a whole-site render; for one date's render those `days_read` names), from which the
    summaries are made when none are given. `dates` are the published dates (with papers,
    `tasks.steps.is_published`): only those get a page, a place in prev/next, the home page and feed entries.
    `empty` are the stored dates whose feed was empty so far; the archive shows them as days without papers.
    """

    days: dict[str, DayFile]
    templates_dir: Path
    images: SiteImages | None = None  # the pictures on the site; None: cards show every stored picture unchecked
    summaries: dict[str, DaySummary] = field(default_factory=dict)
    dates: list[str] = field(init=False)
    empty: list[str] = field(init=False)
    months: list[str] = field(init=False)
    _cards: dict[tuple[str, str, str], Markup] = field(default_factory=dict, init=False)
    _data: dict[tuple[str, str], str] = field(default_factory=dict, init=False)
    _months: dict[str, aggregate.MonthSummary] = field(default_factory=dict, init=False)
    _institutions_of: dict[int, list[str]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if not self.summaries:
            self.summaries = {d: summarize(day) for d, day in self.days.items()}
        self.dates = sorted(d for d, s in self.summaries.items() if s.published)
        self.empty = sorted(d for d, s in self.summaries.items() if not s.published)
        self.months = sorted({d[:7] for d in self.dates})

    @property
    def published(self) -> dict[str, DayFile]:
        """The published days read (for one date's render: at least the feeds' window, `days_read`)."""
        return {d: self.days[d] for d in self.dates if d in self.days}

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
        return [self.days[d] for d in self.month_dates(month)]

    def month_dates(self, month: str) -> list[str]:
        return [d for d in self.dates if d.startswith(month)]

    def neighbour_months(self, month: str) -> tuple[str | None, str | None]:
        i = bisect.bisect_left(self.months, month)
        prev = self.months[i - 1] if i > 0 else None
        j = bisect.bisect_right(self.months, month)
        return prev, self.months[j] if j < len(self.months) else None

    @cached_property
    def institutions(self) -> Institutions:
        """Canonical institutions of every published affiliation (one mapping for the whole site)."""
        printed = (a for d in self.dates for a in self.summaries[d].affiliations)
        return Institutions(printed, load_aliases(self.templates_dir / "institutions.json"))

    def institutions_of(self, paper: PaperRecord) -> list[str]:
        """A paper's canonical institutions; asked for by its card data, its day, its month and the search index,
        so kept per record (alive and unchanged for the whole render)."""
        k = id(paper)
        if k not in self._institutions_of:
            self._institutions_of[k] = self.institutions.of(paper.affiliations)
        return self._institutions_of[k]

    def card_html(self, date: str, paper: PaperRecord, root: str) -> Markup:
        """One paper's card as listed on `date`, for a page `root` away from the site root. Rendered once and
        shared by the day page, its month page and (the latest day, at the root) index.html."""
        k = (date, paper.arxiv_id, root)
        if k not in self._cards:
            view = views.card_view(paper, day=date, root=root)
            if view.image is not None and self.images is not None and not self.images.shown(view.image.src[len(root):]):
                view.image = None  # not on the site (lost from the data dir): no broken picture
            self._cards[k] = Markup(self._card_macro(view, root))
        return self._cards[k]

    @cached_property
    def _card_macro(self) -> Callable[..., str]:
        return self.env.get_template("_cards.html").module.card  # type: ignore[attr-defined, no-any-return]

    def cards_html(self, date: str, root: str = "../") -> Markup:
        """The day's card list, most upvoted first."""
        return Markup("").join(self.card_html(date, p, root) for p in views.default_order(self.days[date].papers))

    def payload(self, date: str, paper: PaperRecord) -> str:
        """The JSON the script reads for one card (escaped for a <script> element), shared like the card."""
        k = (date, paper.arxiv_id)
        if k not in self._data:
            self._data[k] = str(script_json(views.paper_payload(paper, date, self.institutions_of(paper))))
        return self._data[k]

    def papers_json(self, items: list[tuple[str, PaperRecord]]) -> str:
        """A JSON list of payloads, each already escaped by `script_json`, so the whole stays script-safe."""
        return "[" + ",".join(self.payload(d, p) for d, p in items) + "]"

    def day_data(self, date: str) -> Markup:
        day = self.days[date]
        updated = day.updated_at
        head = str(script_json({"kind": "day", "date": date, "updated": updated.isoformat() if updated else None}))
        papers = self.papers_json([(date, p) for p in views.default_order(day.papers)])
        return Markup(head[:-1] + ',"papers":' + papers + "}")

    @cached_property
    def topics(self) -> list[tuple[str, int]]:
        """Every topic of the published papers with its number of distinct papers, most frequent first."""
        seen: dict[str, tuple[str, ...]] = {}
        for d in self.dates:
            for arxiv_id, topics in self.summaries[d].topics:
                seen[arxiv_id] = topics
        counts = Counter(t for tags in seen.values() for t in tags)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))

    def month_summary(self, month: str) -> aggregate.MonthSummary:
        if month not in self._months:
            self._months[month] = aggregate.month_summary(month, self.month_days(month))
        return self._months[month]


# --- which pages -----------------------------------------------------------------------------------------

def all_targets(site: Site) -> list[Target]:
    targets: list[Target] = [("day", d) for d in site.dates]
    targets += [("zh", d) for d in site.dates if site.summaries[d].zh]
    targets += [("month", m) for m in site.months]
    targets += [("index", ""), ("archive", ""), ("feeds", ""), ("search-page", "")]
    targets += [("search", m) for m in site.months]
    return targets


def targets_for_day(site: Site, date: str) -> list[Target]:
    """Pages whose content depends on `date`: the day, the neighbours whose prev/next links point at it,
    its month, the index if the latest day is among those, the archive, its zh page and (if recent) feeds.

    An unpublished (empty) date has no page of its own; its neighbours and the index are still re-rendered,
    so that a page left from before the date was known to be empty no longer links to it."""
    days = [d for d in (site.prev_date(date), date, site.next_date(date)) if d and d in site.dates]
    targets: list[Target] = [("day", d) for d in days]
    if date in site.dates and site.summaries[date].zh:
        targets.append(("zh", date))
    month = date[:7]
    if month in site.months:
        targets.append(("month", month))
        # A month's first stored day creates its page, which changes the neighbouring months' nav links.
        if len(site.month_dates(month)) == 1:
            targets += [("month", m) for m in site.neighbour_months(month) if m]
    if site.latest in days or (site.latest or "") < date:
        targets.append(("index", ""))
    targets.append(("archive", ""))
    if date in site.dates[-TOPIC_FEED_DAYS:]:
        targets.append(("feeds", ""))
    targets.append(("search-page", ""))  # it lists the month bundles
    if month in site.months:
        targets.append(("search", month))
    return targets


def days_read(site: Site, targets: list[Target]) -> set[str]:
    """The dates whose day files the targets' pages are made of (beyond every day's summary): the day and zh
    pages' own dates, every published date of a month page or search bundle, the home page's latest date, and the
    feeds' window (the latest TOPIC_FEED_DAYS published dates)."""
    dates: set[str] = set()
    for kind, key in targets:
        if kind in ("day", "zh"):
            dates.add(key)
        elif kind in ("month", "search"):
            dates.update(site.month_dates(key))
        elif kind == "index" and site.latest:
            dates.add(site.latest)
        elif kind == "feeds":
            dates.update(site.dates[-TOPIC_FEED_DAYS:])
    return dates


def shown_papers(site: Site, targets: list[Target]) -> list[PaperRecord]:
    """The papers whose cards the targets' pages show (day pages, month pages, the home page)."""
    days: dict[str, None] = {}
    for kind, key in targets:
        if kind == "day" and key in site.dates:
            days[key] = None
        elif kind == "month":
            days.update((d.date, None) for d in site.month_days(key))
        elif kind == "index" and site.latest:
            days[site.latest] = None
    return [p for d in days for p in site.days[d].papers]


def unpublished_pages(site: Site, date: str) -> list[str]:
    """Pages (relative paths) an unpublished date must not have: left by an earlier render, they would be reachable
    by an old link or bookmark while the navigation skips them."""
    return [] if date in site.dates else [day_relpath(date), f"zh/{date}.html"]


# --- how each page is rendered ---------------------------------------------------------------------------

def counted_institutions(site: Site, papers: list[PaperRecord]) -> list[tuple[str, int]]:
    """Institutions of these papers with how many papers each has, most first: the filter's options."""
    counts = Counter(name for p in papers for name in site.institutions_of(p))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))


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
        institutions=counted_institutions(site, day.papers),
        cards_html=site.cards_html(date, root),
        data=site.day_data(date),
    )


def render_month(site: Site, month: str) -> str:
    """Charts, the top list and the institutions' leaderboard first, then every paper of the month as cards."""
    root = "../"
    summary = site.month_summary(month)
    prev, nxt = site.neighbour_months(month)
    top = [(date, paper, views.card_view(paper)) for date, paper in summary.top]
    papers = [p for _, p in summary.every]
    board = aggregate.institution_board(papers, site.institutions_of)
    head = str(script_json({"kind": "month", "month": month}))[:-1]
    return site.env.get_template("month.html").render(
        root=root,
        month=month,
        prev=prev,
        next=nxt,
        summary=summary,
        top=top,
        board=board,
        board_top=BOARD_TOP,
        days_chart=charts.days_chart(month, summary.per_day, root),
        tags_chart=charts.tags_chart(summary.tags),
        tags=summary.tags,
        institutions=[(row.name, row.papers) for row in board],
        count=len(papers),
        cards_html=Markup("").join(site.card_html(d, p, root) for d, p in summary.every),
        data=Markup(head + ',"papers":' + site.papers_json(summary.every) + "}"),
    )


def feed_files(site: Site, site_url: str) -> list[tuple[str, bytes | str]]:
    """Every feed (legacy feed.xml/json = English; per language; per topic and language) and the page listing them."""
    published = site.published
    files: list[tuple[str, bytes | str]] = []
    by_topic: dict[str | None, feeds.Entries] = {}
    memo: feeds.Memo = {}
    entry_memo: dict[tuple[int, str, str], str] = {}
    for feed in (feeds.LEGACY, *feeds.all_feeds([t for t, _ in site.topics])):
        if feed.topic not in by_topic:
            by_topic[feed.topic] = feeds.entries(published, feed.topic)
        items = by_topic[feed.topic]
        files.append((feed.atom_path, feeds.atom_feed(published, site_url, feed, items, memo, entry_memo)))
        files.append((feed.json_path, feeds.json_feed(published, site_url, feed, items, memo)))
    files.append(("feeds.html", render_feed_list(site)))
    return files


def render_feed_list(site: Site) -> str:
    rows = [(topic, n, {lang: feeds.topic_feed(topic, lang) for lang in feeds.LANGS}) for topic, n in site.topics]
    return site.env.get_template("feeds.html").render(
        root="", languages=[feeds.language_feed(lang) for lang in feeds.LANGS], topics=rows,
        data=script_json({"kind": "feeds"}),
    )


def search_records(site: Site, month: str) -> list[search.Record]:
    """The search records of one month's bundle: its published papers (each at its latest day of the month)."""
    return search.records({d: site.days[d] for d in site.dates if d.startswith(month)}, site.institutions_of)


def render_search(site: Site, indexed: bool) -> str:
    """The archive's search page; `indexed` False: the site was rendered without an index."""
    return site.env.get_template("search.html").render(
        root="", csp=SEARCH_CSP, indexed=indexed and bool(site.months),
        data=script_json({"kind": "search", "bundles": [search.bundle_dir(m) + "/" for m in reversed(site.months)]
                          if indexed else []}),
    )


def render_archive(site: Site) -> str:
    counts = {d: site.summaries[d].papers for d in site.dates}
    empty = {d: site.summaries[d].final for d in site.empty}
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
