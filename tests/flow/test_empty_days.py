"""Empty dates (weekends, holidays, a working day's first hours) under the real daily flow and the sandbox.

The sandbox lists nothing on Saturdays and Sundays, and `empty_dates` plays a working day whose list is still
empty. Whatever order the runs come in, the site shows the latest date with papers, prev/next skip the empty
dates, the archive shows them as days without papers, and the feeds never carry them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.daily import daily_digest
from tasks.settings import Settings
from tasks.steps import is_published
from tasks.store import load_day

THU, FRI, SAT, SUN, MON = "2025-01-23", "2025-01-24", "2025-01-25", "2025-01-26", "2025-01-27"
PAPERS = 2


@pytest.fixture
def small(sandbox):
    sandbox.config(papers_per_day=PAPERS)
    return sandbox


class Site:
    """What a reader sees of the rendered site, read back from its files."""

    def __init__(self) -> None:
        self.root = Path(Settings().site_dir)

    def text(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def data(self, rel: str) -> dict:
        raw = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', self.text(rel), re.S)
        assert raw, rel
        return json.loads(raw.group(1))

    @property
    def home(self) -> str:
        return self.data("index.html")["date"]

    def has_page(self, date: str) -> bool:
        return (self.root / "d" / f"{date}.html").exists()

    def step(self, date: str, rel: str) -> str | None:
        found = re.search(rf'rel="{rel}" href="\.\./d/(\d{{4}}-\d{{2}}-\d{{2}})\.html"', self.text(f"d/{date}.html"))
        return found.group(1) if found else None

    def archive_links(self) -> set[str]:
        return set(re.findall(r'href="d/(\d{4}-\d{2}-\d{2})\.html"', self.text("archive.html")))

    def archive_empty(self) -> set[str]:
        return set(re.findall(r'class="cal-empty" data-date="([\d-]+)"', self.text("archive.html")))

    def month_days(self) -> set[str]:
        return set(re.findall(r'href="\.\./d/(\d{4}-\d{2}-\d{2})\.html"', self.text("m/2025-01.html")))

    def feed_dates(self) -> set[str]:
        items = json.loads(self.text("feed.json"))["items"]
        atom = set(re.findall(r"d/(\d{4}-\d{2}-\d{2})\.html", self.text("feed.xml")))
        dates = {re.search(r"d/(\d{4}-\d{2}-\d{2})\.html", i["url"]).group(1) for i in items}
        assert dates == atom
        return dates

    def no_link_to(self, date: str) -> None:
        """No page of the site links to `date`'s page."""
        for page in self.root.rglob("*.html"):
            assert f"d/{date}.html" not in page.read_text(encoding="utf-8"), page


def _run(date: str) -> None:
    daily_digest(date=date)


def test_weekend_after_friday(env: Path, small) -> None:
    _run(THU)
    _run(FRI)
    _run(SAT)
    _run(SUN)
    site = Site()
    assert site.home == FRI
    assert not site.has_page(SAT) and not site.has_page(SUN)
    assert site.step(FRI, "next") is None and site.step(FRI, "prev") == THU
    assert site.archive_links() == {THU, FRI} and site.archive_empty() == {SAT, SUN}
    assert site.month_days() == {THU, FRI}
    assert site.feed_dates() == {THU, FRI}
    site.no_link_to(SAT)
    site.no_link_to(SUN)
    stored = load_day(Settings(), SAT)  # the empty date's runs are recorded
    assert stored.runs and stored.runs[-1].feed_papers == 0 and not is_published(stored)


def test_friday_after_the_weekend_and_monday_after_it(env: Path, small) -> None:
    _run(SUN)
    _run(SAT)
    site = Site()
    assert not site.has_page(SAT) and not site.has_page(SUN)
    assert site.data("index.html")["kind"] == "archive"  # nothing published yet: the home page is the archive
    assert site.archive_empty() == {SAT, SUN} and site.archive_links() == set()
    _run(FRI)
    assert site.home == FRI and site.step(FRI, "next") is None
    _run(MON)
    assert site.home == MON
    assert site.step(FRI, "next") == MON and site.step(MON, "prev") == FRI
    assert site.archive_links() == {FRI, MON} and site.archive_empty() == {SAT, SUN}
    assert site.feed_dates() == {FRI, MON}
    site.no_link_to(SAT)


def test_a_morning_empty_then_filled(env: Path, small) -> None:
    _run(FRI)
    small.config(empty_dates=[MON])  # Monday's list is still empty in the first hours
    _run(MON)
    site = Site()
    assert site.home == FRI and not site.has_page(MON) and site.step(FRI, "next") is None
    assert site.archive_empty() == {MON} and site.feed_dates() == {FRI}
    assert not is_published(load_day(Settings(), MON))
    small.config(empty_dates=[])
    _run(MON)  # the first run that sees the papers makes Monday the latest day
    assert site.home == MON and site.has_page(MON)
    assert site.step(FRI, "next") == MON and site.step(MON, "prev") == FRI
    assert MON in site.archive_links() and site.archive_empty() == set()
    assert site.month_days() == {FRI, MON} and site.feed_dates() == {FRI, MON}
    assert len(site.data("index.html")["papers"]) == PAPERS


def test_filled_then_a_hiccup_empty_keeps_the_day(env: Path, small) -> None:
    _run(FRI)
    _run(MON)
    small.config(empty_dates=[MON])  # a later run of the same date gets an empty list
    _run(MON)
    site = Site()
    monday = load_day(Settings(), MON)
    assert monday.runs[-1].feed_papers == 0 and len(monday.papers) == PAPERS
    assert not any(p.vanished_at for p in monday.papers)  # an empty answer flags nothing
    assert site.home == MON and site.has_page(MON) and site.step(FRI, "next") == MON
    assert MON in site.archive_links() and site.feed_dates() == {FRI, MON}
    assert len(site.data(f"d/{MON}.html")["papers"]) == PAPERS
