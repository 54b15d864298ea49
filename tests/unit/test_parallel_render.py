"""Renders of parallel runs take turns under the site lock, so shared pages never miss a stored date."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tasks.render
from tasks.models import DayFile, RunRecord
from tasks.render import load_for_day, render_for_day
from tasks.settings import Settings
from tasks.site.pages import Site
from tasks.store import save_day
from tests.site_data import paper as site_paper

END_OF_DATE = datetime(2025, 1, 24, tzinfo=UTC)


def _run(started: datetime, feed_papers: int | None) -> RunRecord:
    return RunRecord(started_at=started, finished_at=started + timedelta(minutes=1), feed_papers=feed_papers)


def _store_day(settings: Settings, date: str, arxiv_id: str) -> None:
    save_day(settings, DayFile(date=date, papers=[site_paper(arxiv_id, f"Paper of {date}", upvotes=3)],
                               runs=[_run(END_OF_DATE, feed_papers=1)]))


def test_parallel_renders_leave_every_date_on_the_shared_pages(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Run A reads the day files, run B stores its date and renders, then run A writes: without the site lock
    A's archive, month and feeds would miss B's date."""
    settings = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path / "data", HFDAILY_SITE_DIR=tmp_path / "site")
    a_loaded, b_rendered = threading.Event(), threading.Event()

    def slow_load(s: Settings, *rest: Any) -> Site:
        site = load_for_day(s, *rest)
        if threading.current_thread().name == "run-a":
            a_loaded.set()
            b_rendered.wait(timeout=2)  # with the lock B cannot render meanwhile: this wait runs out
        return site

    monkeypatch.setattr(tasks.render, "load_for_day", slow_load)

    def run_a() -> None:
        _store_day(settings, "2025-01-20", "2501.00020")
        render_for_day(settings, "2025-01-20")

    def run_b() -> None:
        a_loaded.wait(timeout=5)
        _store_day(settings, "2025-01-21", "2501.00021")
        render_for_day(settings, "2025-01-21")
        b_rendered.set()

    threads = [threading.Thread(target=run_a, name="run-a"), threading.Thread(target=run_b, name="run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    site = Path(settings.site_dir)
    for page in ("archive.html", "m/2025-01.html", "feed.xml", "feed.json"):
        text = (site / page).read_text()
        assert "2501.00020" in text or "2025-01-20" in text, page
        assert "2501.00021" in text or "2025-01-21" in text, page
    assert "2025-01-21" in (site / "index.html").read_text()
