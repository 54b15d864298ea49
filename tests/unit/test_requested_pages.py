"""Pages of papers reviewed on request (u/ID.html, u/index.html): the hostile paper of test_bad_input (markup in
its arXiv title and authors, an LLM that obeyed an injected abstract) stored as a request and rendered with the
day pages' card, escaping and CSP; nothing of it becomes markup."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from markupsafe import escape

from tasks.models import PaperRecord
from tasks.requested import RequestFile, load_requests, request_key
from tasks.settings import Settings
from tasks.site.jinja import CSP
from tasks.site.requested import render_requested
from tests.unit.test_bad_input import IDS, XSS, assert_page_is_inert, hostile_site

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def store(settings: Settings, paper: PaperRecord, when: datetime) -> None:
    record = RequestFile(paper=paper, requested_at=when, last_requested_at=when)
    settings.data.write(request_key(paper.arxiv_id), record.model_dump_json().encode())


def requested_site(root: Path) -> tuple[Settings, PaperRecord]:
    settings, day, _ = hostile_site(root)
    hostile = day.papers[0]
    store(settings, hostile, T0 + timedelta(hours=1))
    store(settings, PaperRecord(arxiv_id="hep-th/9901001", title="A calm old paper", abstract="Plain."), T0)
    render_requested(settings)
    return settings, hostile


def test_hostile_requested_paper_renders_inert_with_the_day_pages_csp(tmp_path: Path) -> None:
    settings, hostile = requested_site(tmp_path)
    site = Path(settings.site_dir)
    page = (site / "u" / f"{IDS[0]}.html").read_text(encoding="utf-8")
    assert_page_is_inert(page)
    assert f'content="{escape(CSP)}"' in page
    assert "<script>window.pwned" not in page
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1" in page  # the arXiv title, as text (also in <title>)
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S).group(1)
    payload = json.loads(data)  # the only "</script>" is the block's own end: the JSON is escaped
    assert payload["kind"] == "day" and payload["papers"][0]["ot"] == hostile.title
    assert payload["papers"][0]["t"]["en"] == "</script><script>alert(1)</script>"
    assert 'href="../u/index.html"' in page  # the navigation of every page links the list
    assert XSS[1] not in page


def test_index_lists_newest_first_and_links_each_page(tmp_path: Path) -> None:
    settings, hostile = requested_site(tmp_path)
    site = Path(settings.site_dir)
    index = (site / "u" / "index.html").read_text(encoding="utf-8")
    assert_page_is_inert(index)
    first, old = index.index(f'data-id="{IDS[0]}"'), index.index('data-id="hep-th/9901001"')
    assert first < old  # requested later, listed first
    assert f'href="{IDS[0]}.html"' in index and 'href="hep-th_9901001.html"' in index
    assert (site / "u" / "hep-th_9901001.html").is_file()
    assert [r.paper.arxiv_id for r in load_requests(settings)] == [IDS[0], "hep-th/9901001"]
    day_page = (site / "d" / "2025-01-24.html").read_text(encoding="utf-8")
    assert 'href="../u/index.html"' in day_page


def test_an_empty_store_still_gets_an_index(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path / "data", HFDAILY_SITE_DIR=tmp_path / "site")
    assert render_requested(settings)[-1] == "u/index.html"
    assert "requested_none" in (tmp_path / "site" / "u" / "index.html").read_text(encoding="utf-8")


def test_a_daily_render_writes_the_list_when_the_site_has_none(tmp_path: Path) -> None:
    from tasks.render import render_for_day
    from tasks.store import save_day
    from tests.unit.test_bad_input import HOSTILE_DATE, hostile_day

    settings = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path / "data", HFDAILY_SITE_DIR=tmp_path / "site",
                        HFDAILY_SEARCH_INDEX=False)
    save_day(settings, hostile_day())
    assert "u/index.html" in render_for_day(settings, HOSTILE_DATE)
    assert "u/index.html" not in render_for_day(settings, HOSTILE_DATE)  # once there, reviews keep it current
