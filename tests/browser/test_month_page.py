"""The month page (every paper as cards), the institution filter, read marks and pins, in a real Chromium from
file://, plus screenshots of the month, archive and feeds pages in light, dark and at 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasks.render import render_site
from tasks.settings import Settings
from tests.browser.test_day_page import ARGS, CHROMIUM, OUTPUT, Tab, url
from tests.site_data import XSS_ID, day_file, paper, small_store, synthetic_store, write_store

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

A, B, C, D, E = (f"2501.0000{i}" for i in range(1, 6))
MONDAY = [f"2501.1000{i}" for i in range(1, 7)]
THURSDAY = [f"2501.3000{i}" for i in range(2, 7)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("month")
    settings = Settings(data_dir=root / "data", site_dir=root / "site", site_url="", search_index=False)
    store = small_store()
    # Alpha's first affiliation printed two ways on two papers: one institution for the filter.
    store[1].papers[0].affiliations = ["Tsinghua Univ.", *store[1].papers[0].affiliations]
    store[1].papers[2].affiliations = ["Tsinghua University"]
    write_store(Path(settings.data_dir, "days"), store)
    render_site(settings)
    return Path(settings.site_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    yield t
    assert t.errors == [], t.errors
    t.context.close()


def test_every_paper_of_the_month_is_a_card_with_the_day_controls(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "m/2025-01.html"))
    ids = tab.visible_ids()
    assert len(ids) == len(set(ids)) == 17 and ids[0] == B  # B: 77 upvotes on the 23rd
    assert page.locator(".toplist li").count() == 17 and page.is_visible("svg.chart")  # charts and top stay
    assert page.get_attribute(f"[id='p-{B}'] .card-day", "href") == f"../d/2025-01-23.html#p-{B}"
    page.click(".chip[data-tag='MATH']")
    assert set(tab.visible_ids()) == set(THURSDAY)
    page.click(".chip[data-tag='RL']")
    assert len(tab.visible_ids()) == 5 + 6  # MATH or RL (B is RL, and on Thursday)
    page.get_by_label("all (AND)").check()
    assert tab.visible_ids() == []  # no paper is both
    page.click("#clear")
    page.get_by_label("Sort by", exact=True).select_option("rank")  # the order HF listed them, day by day
    assert tab.visible_ids()[:6] == [MONDAY[i] for i in (0, 1, 2, 3, 4, 5)]
    page.get_by_label("Search").fill("robot")
    assert tab.visible_ids() == [E]
    shared = page.evaluate("location.href")
    assert "sort=rank" in shared and "q=robot" in shared
    tab.open(shared)
    assert tab.visible_ids() == [E] and page.input_value("#sort") == "rank"


def test_language_switch_reaches_every_card_of_the_month(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "m/2025-01.html"))
    page.click(".lang-btn[data-lang='ru']")
    assert page.text_content(f"[id='p-{A}'] [data-f='title']") == "RU Alpha agents learn"
    assert page.text_content(f".toplist li[data-id='{A}'] [data-f='title']") == "RU Alpha agents learn"
    assert page.text_content(f"[id='p-{THURSDAY[-1]}'] [data-f='title']").startswith("RU ")


def test_institution_filter_on_the_day_page_and_from_the_month_leaderboard(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    options = page.eval_on_selector_all("#inst option", "os => os.map(o => o.textContent)")
    assert "Tsinghua University (2)" in options  # "Tsinghua Univ." and "Tsinghua University" are one
    page.select_option("#inst", "Tsinghua University")
    assert set(tab.visible_ids()) == {A, C}
    assert "inst=Tsinghua+University" in page.evaluate("location.href")
    assert "Tsinghua Univ." in page.text_content(f"[id='p-{A}'] .affils")  # the card keeps the printed name
    page = tab.open(url(site, "m/2025-01.html"))
    board = page.eval_on_selector_all("#institutions tbody tr", "rs => rs.map(r => r.innerText.split('\\t'))")
    # Monday's six (10..60), B once at its best (77), D (20), E (10), Thursday's five MATH papers (2..6)
    assert board[0][1:] == ["Example University", "14", str(210 + 77 + 20 + 10 + 20)]
    page.click("#institutions .inst-btn[data-inst='Tsinghua University']")
    assert set(tab.visible_ids()) == {A, C}
    assert page.input_value("#inst") == "Tsinghua University"
    page.select_option("#inst", "")
    assert len(tab.visible_ids()) == 17


def test_read_marks_and_pins_live_in_the_browser(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    page.click(f"[id='p-{C}'] .read-btn")
    assert page.get_attribute(f"[id='p-{C}'] .read-btn", "aria-pressed") == "true"
    assert "is-read" in page.get_attribute(f"[id='p-{C}']", "class")
    page.click("#pins summary")
    page.check("#hide-read")
    assert C not in tab.visible_ids()
    page.uncheck("#hide-read")
    page.select_option("#pin-kind", "kw")
    page.fill("#pin-text", "segmentation")
    page.press("#pin-text", "Enter")  # Enter adds, as the button does
    page.select_option("#pin-kind", "author")
    page.fill("#pin-text", "mallory")
    page.click("#pin-add")
    assert tab.visible_ids()[:2] == [D, XSS_ID]  # pinned papers float up, in the chosen sort
    assert page.is_visible(f"[id='p-{D}'] .badge-pin") and not page.is_visible(f"[id='p-{A}'] .badge-pin")
    assert page.text_content("#pins-n") == "2"
    # From file://, on another page and after a reload: localStorage keeps both.
    page = tab.open(url(site, "m/2025-01.html"))
    assert tab.visible_ids()[:2] == [D, XSS_ID]
    assert "is-read" in page.get_attribute(f"[id='p-{C}']", "class")
    page.click("#pins summary")
    page.click(".pin-chip >> nth=0")  # remove the keyword pin
    assert tab.visible_ids()[0] == XSS_ID and tab.visible_ids()[1] == B
    page.click(f"[id='p-{C}'] .read-btn")
    tab.open(url(site, "d/2025-01-21.html"))
    assert "is-read" not in page.get_attribute(f"[id='p-{C}']", "class")
    assert page.evaluate("document.images.length") == 0 and tab.dialogs == []


def test_month_archive_and_feeds_screenshots(tmp_path: Path, browser: Any) -> None:
    """Realistic text for a visual check: test-output/{month,archive,feeds}-{light,dark,mobile}.png."""
    settings = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="", search_index=False)
    store = synthetic_store(n_days=12, per_day=8, start="2025-03-03")
    for day in store[::3]:
        day.papers[0] = day.papers[0].model_copy(update={"image": "img/first-page.png"})
    store.append(day_file("2025-03-22", []))  # a Saturday checked, no papers
    store.append(day_file("2025-03-21", [paper("2503.99999", "Friday")]))
    write_store(Path(settings.data_dir, "days"), store)
    render_site(settings)
    (Path(settings.site_dir) / "img").mkdir()
    (Path(settings.site_dir) / "img" / "first-page.png").write_bytes(_png())
    OUTPUT.mkdir(exist_ok=True)
    for rel, name in (("m/2025-03.html", "month"), ("archive.html", "archive"), ("feeds.html", "feeds")):
        for suffix, scheme, width in (("light", "light", 1280), ("dark", "dark", 1280), ("mobile", "light", 360)):
            t = Tab(browser, color_scheme=scheme, viewport={"width": width, "height": 1000})
            try:
                page = t.open(url(Path(settings.site_dir), rel))
                if rel.startswith("m/") and suffix == "light":
                    page.click("#pins summary")
                    page.fill("#pin-text", "agents")
                    page.click("#pin-add")
                    page.click(".card >> nth=1 >> .read-btn")
                if rel.startswith("m/") and suffix == "mobile":
                    page.locator("#all-papers").scroll_into_view_if_needed()  # the controls and first cards
                whole = suffix == "mobile" and name != "month"  # a month is 40,000 px tall at 360 px
                page.screenshot(path=str(OUTPUT / f"{name}-{suffix}.png"), full_page=whole)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, (rel, suffix)
                assert t.errors == []
            finally:
                t.context.close()
    assert (OUTPUT / "month-light.png").stat().st_size > 10_000


def _png() -> bytes:
    """A small grey portrait PNG (a stand-in first page), made here rather than shipped."""
    import struct
    import zlib

    width, height = 40, 52
    rows = b"".join(b"\x00" + bytes([200, 200, 205]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
