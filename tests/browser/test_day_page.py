"""The day page in a real Chromium, opened from file://: sorting, filters, search, language, theme, URL state,
navigation and XSS resistance. One browser for the module; a fresh context (fresh storage) per test."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tasks.render import render_site
from tasks.settings import PROJECT_ROOT, Settings
from tests.site_data import XSS, XSS_ID, attach_pictures, small_store, synthetic_store, write_store

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = PROJECT_ROOT / "test-output"

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

A, B, C, D, E = (f"2501.0000{i}" for i in range(1, 6))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    settings = Settings(data_dir=root / "data", site_dir=root / "site", site_url="https://example.org")
    write_store(Path(settings.data_dir, "days"), small_store())
    render_site(settings)
    return Path(settings.site_dir)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class Tab:
    """A page in a fresh context that records dialogs and script errors."""

    def __init__(self, browser: Any, **context: Any) -> None:
        options = {"locale": "en-US", "color_scheme": "light", "viewport": {"width": 1280, "height": 900}}
        self.context = browser.new_context(**{**options, **context})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, url: str) -> Any:
        self.page.goto(url)
        deadline = time.monotonic() + 10  # polled with evaluate: wait_for_function evals a string (CSP says no)
        while not self.page.evaluate("document.documentElement.classList.contains('js')"):
            assert time.monotonic() < deadline, "the page's script did not start"
            time.sleep(0.02)
        return self.page

    def visible_ids(self) -> list[str]:
        return self.page.eval_on_selector_all(".card:not([hidden])", "cs => cs.map(c => c.dataset.id)")


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    yield t
    assert t.errors == [], t.errors
    t.context.close()


def url(site: Path, rel: str, query: str = "") -> str:
    return (site / rel).as_uri() + query


def test_sort_orders(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    assert tab.visible_ids() == [A, B, C, D, E, XSS_ID]  # upvotes
    page.get_by_label("Sort by", exact=True).select_option("date")
    assert tab.visible_ids() == [B, D, C, E, A, XSS_ID]  # publication date, newest first
    page.get_by_label("Sort by", exact=True).select_option("rank")
    assert tab.visible_ids() == [B, C, E, A, XSS_ID, D]  # order added to HF


def test_topic_filters_or_and_clear(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    page.click(".chip[data-tag='RL']")
    assert set(tab.visible_ids()) == {A, B, E}
    page.focus(".chip[data-tag='CV']")
    page.keyboard.press("Space")  # chips are real buttons: keyboard works
    assert set(tab.visible_ids()) == {A, B, C, D, E}  # RL or CV
    page.get_by_label("all (AND)").check()
    assert tab.visible_ids() == [E]  # RL and CV
    assert page.text_content("#shown") == "Shown: 1 of 6"
    assert page.get_attribute(".chip[data-tag='RL']", "aria-pressed") == "true"
    page.click("#clear")
    assert len(tab.visible_ids()) == 6
    page.click(f"[id='p-{A}'] .tag[data-tag='AGENTS']")  # a card's topic toggles the same filter
    assert set(tab.visible_ids()) == {A, C}


def test_search_narrows_cards(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    search = page.get_by_label("Search")
    for query, expected in [("gamma", {C}), ("lab 12", {A}), ("AUTHOR 14", {A}), ("mallory", {XSS_ID}),
                            ("english description", {A, B, C, E}), ("abstract of delta", {D}),
                            ("no such paper", set())]:
        search.fill(query)
        assert set(tab.visible_ids()) == expected, query
    assert page.is_visible("#empty")
    search.fill("")
    assert len(tab.visible_ids()) == 6 and not page.is_visible("#empty")


def test_language_switch_changes_cards_and_ui(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    title = f"[id='p-{A}'] [data-f='title']"
    assert page.text_content(title) == "EN Alpha agents learn"
    page.click(".lang-btn[data-lang='ru']")
    assert page.text_content(title) == "RU Alpha agents learn"
    assert page.text_content("label[for='q']") == "Поиск"
    assert page.text_content(f"[id='p-{A}'] .desc").startswith("Описание статьи")
    assert page.evaluate("document.documentElement.lang") == "ru"
    assert page.text_content(f"[id='p-{D}'] [data-f='title']") == "Delta segmentation"  # fallback
    assert page.is_visible(f"[id='p-{D}'] .badge-pending")
    page.click(".lang-btn[data-lang='zh']")
    assert page.text_content(title) == "ZH Alpha agents learn"
    assert page.text_content("label[for='q']") == "搜索"
    page.goto(url(site, "d/2025-01-20.html"))  # the choice is remembered on other pages
    assert page.text_content("label[for='q']") == "搜索"


ZH_HEADING = {"ru": "Чтение на китайском", "en": "Chinese reading", "zh": "中文阅读"}


@pytest.mark.parametrize("lang", ["ru", "en", "zh"])
def test_zh_page_highlights_the_language_it_shows(site: Path, tab: Tab, lang: str) -> None:
    page = tab.open(url(site, "zh/2025-01-21.html", f"?lang={lang}"))
    pressed = page.eval_on_selector_all(".lang-btn[aria-pressed='true']", "bs => bs.map(b => b.dataset.lang)")
    assert pressed == [lang]
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.text_content("h1 [data-i18n='zh_heading']") == ZH_HEADING[lang]
    assert page.text_content(".source [data-f='title']").startswith(f"{lang.upper()} ")  # the paper's title too
    page.click(f".lang-btn[data-lang='{'en' if lang != 'en' else 'ru'}']")  # and a click still switches both
    other = "en" if lang != "en" else "ru"
    assert page.eval_on_selector_all(".lang-btn[aria-pressed='true']", "bs => bs.map(b => b.dataset.lang)") == [other]
    assert page.text_content("h1 [data-i18n='zh_heading']") == ZH_HEADING[other]


def test_theme_toggle_persists_across_reload(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "false"
    page.click("#theme-toggle")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = page.evaluate(background)
    assert dark != light and dark == "rgb(13, 17, 23)"
    tab.open(url(site, "d/2025-01-21.html"))  # no query: only localStorage remembers
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate(background) == dark
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"


def test_system_dark_preference_is_followed(site: Path, browser: Any) -> None:
    t = Tab(browser, color_scheme="dark")
    try:
        page = t.open(url(site, "d/2025-01-21.html"))
        assert page.evaluate("document.documentElement.dataset.theme") is None
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    finally:
        t.context.close()


def _follow(page: Any, selector: str) -> None:
    """Click a link and wait until the page it leads to has loaded (count() does not wait by itself)."""
    with page.expect_navigation(wait_until="load"):
        page.click(selector)


def test_prev_next_navigation_from_file_urls(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "index.html"))
    assert page.get_attribute("time.h-date", "datetime") == "2025-01-23"
    assert page.locator("a[rel='next']").count() == 0
    _follow(page, "a[rel='prev']")  # 2025-01-22 has no data: skipped
    assert page.url.split("?")[0].endswith("/d/2025-01-21.html")
    _follow(page, "a[rel='prev']")
    assert page.url.split("?")[0].endswith("/d/2025-01-20.html")
    assert page.locator("a[rel='prev']").count() == 0
    _follow(page, "a[rel='next']")
    _follow(page, "a[rel='next']")
    assert page.url.split("?")[0].endswith("/d/2025-01-23.html")
    _follow(page, "a[href$='m/2025-01.html']")
    assert page.locator(".toplist li").count() == 17
    _follow(page, "a[href$='archive.html'] >> nth=-1")
    _follow(page, "a[href$='d/2025-01-20.html']")
    assert page.get_attribute("time.h-date", "datetime") == "2025-01-20"


def test_xss_payload_does_not_execute(site: Path, tab: Tab) -> None:
    hostile = "?tags=" + XSS.replace("<", "%3C").replace(">", "%3E") + "&q=%3Cimg%20src%3Dx%3E"
    for rel in ("d/2025-01-21.html", "m/2025-01.html", "zh/2025-01-21.html", "archive.html"):
        page = tab.open(url(site, rel, hostile if rel.startswith("d/") else ""))
        for lang in ("ru", "zh", "en"):
            page.click(f".lang-btn[data-lang='{lang}']")
        assert page.evaluate("document.images.length") == 0, rel
    page = tab.open(url(site, "d/2025-01-21.html"))
    page.click(f".chip[data-tag='X{XSS}']")
    assert tab.visible_ids() == [XSS_ID]
    assert page.text_content(f"[id='p-{XSS_ID}'] [data-f='title']") == f"EN {XSS}"
    page.get_by_label("Search").fill("onerror")
    page.click(f"[id='p-{XSS_ID}'] .desc")
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert tab.dialogs == []


def test_view_state_in_the_url_reproduces_on_a_fresh_load(site: Path, tab: Tab, browser: Any) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    page.click(".lang-btn[data-lang='ru']")
    page.get_by_label("Сортировка", exact=True).select_option("date")
    page.click(".chip[data-tag='RL']")
    page.click(".chip[data-tag='CV']")
    page.get_by_label("все (И)").check()
    page.get_by_label("Поиск").fill("robot")
    shared = page.evaluate("location.href")
    assert "lang=ru" in shared and "sort=date" in shared and "mode=and" in shared and "q=robot" in shared
    expected = tab.visible_ids()
    assert expected == [E]

    fresh = Tab(browser)  # new context: empty localStorage, as for someone the link was sent to
    try:
        other = fresh.open(shared)
        assert fresh.visible_ids() == expected
        assert other.text_content("label[for='q']") == "Поиск"
        assert other.input_value("#sort") == "date" and other.input_value("#q") == "robot"
        assert other.is_checked("input[name='mode'][value='and']")
        assert other.get_attribute(".chip[data-tag='CV']", "aria-pressed") == "true"
        other.get_by_label("Поиск").fill("")
        assert fresh.visible_ids() == [E]  # RL and CV still applied
    finally:
        fresh.context.close()


def test_stored_tag_missing_from_a_day_gets_a_clearable_chip(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    page.click(".chip[data-tag='AGENTS']")
    tab.open(url(site, "d/2025-01-23.html"))  # no AGENTS paper that day
    assert tab.visible_ids() == []
    assert page.get_attribute(".chip[data-tag='AGENTS']", "aria-pressed") == "true"
    page.click(".chip[data-tag='AGENTS']")
    assert len(tab.visible_ids()) == 6


def test_card_details_toggle(site: Path, tab: Tab) -> None:
    page = tab.open(url(site, "d/2025-01-21.html"))
    assert not page.is_visible(f"[id='a-{A}']")  # authors beyond the sixth are collapsed
    page.click(f"[id='p-{A}'] .rest-toggle")
    assert page.is_visible(f"[id='a-{A}']")
    assert page.get_attribute(f"[id='p-{A}'] .rest-toggle", "aria-expanded") == "true"
    assert not page.is_visible(f"[id='p-{A}'] .more")  # a short description needs no "show more"
    assert page.is_visible(f"[id='p-{E}'] .badge-moved")
    assert page.text_content("#updated").startswith("Updated ")
    assert "ago" in page.text_content("#updated")


def test_screenshots(tmp_path: Path, browser: Any) -> None:
    """Realistic text lengths for a visual check: test-output/day-{light,dark,mobile}.png."""
    settings = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="")
    write_store(Path(settings.data_dir, "days"), synthetic_store(n_days=3, per_day=9, start="2025-03-03"))
    render_site(settings)
    OUTPUT.mkdir(exist_ok=True)
    for name, scheme, width in (("day-light", "light", 1280), ("day-dark", "dark", 1280),
                                ("day-mobile", "light", 360)):
        t = Tab(browser, color_scheme=scheme, viewport={"width": width, "height": 900})
        try:
            page = t.open(url(Path(settings.site_dir), "index.html"))
            page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=name == "day-light")
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
            assert t.errors == []
        finally:
            t.context.close()
    assert (OUTPUT / "day-light.png").stat().st_size > 10_000
    shutil.rmtree(Path(settings.site_dir))


def test_card_pictures_are_lazy_with_alt_and_load_from_file(tmp_path: Path, browser: Any) -> None:
    """First-page pictures from file://, under the page's CSP: lazy, sized, with the title as alt text; screenshots
    test-output/day-pictures-{light,dark,mobile}.png."""
    settings = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="")
    store = synthetic_store(n_days=1, per_day=9, start="2025-03-03")
    store[0].papers[0].title = XSS  # the alt text is escaped like every title
    attach_pictures(store, Path(settings.data_dir))
    write_store(Path(settings.data_dir, "days"), store)
    render_site(settings)
    OUTPUT.mkdir(exist_ok=True)
    for name, scheme, width in (("day-pictures-light", "light", 1280), ("day-pictures-dark", "dark", 1280),
                                ("day-pictures-mobile", "light", 360)):
        t = Tab(browser, color_scheme=scheme, viewport={"width": width, "height": 900})
        try:
            page = t.open(url(Path(settings.site_dir), "d/2025-03-03.html"))
            imgs = page.eval_on_selector_all(".card-img", """is => is.map(i => ({loading: i.loading, alt: i.alt,
                width: i.getAttribute('width'), height: i.getAttribute('height')}))""")
            assert len(imgs) == 9
            assert all(i["loading"] == "lazy" and int(i["width"]) > 0 < int(i["height"]) for i in imgs)
            assert {i["alt"] for i in imgs} == {f"First page of {p.title}" for p in store[0].papers}
            first = page.locator(".card-img").first
            first.scroll_into_view_if_needed()
            deadline = time.monotonic() + 5
            while not first.evaluate("i => i.complete && i.naturalWidth > 0"):  # loaded: CSP img-src 'self' allows it
                assert time.monotonic() < deadline, "the picture did not load"
                time.sleep(0.05)
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
            page.screenshot(path=str(OUTPUT / f"{name}.png"))
            assert t.errors == [] and t.dialogs == []
        finally:
            t.context.close()
