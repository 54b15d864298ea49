"""The archive search page in a real Chromium: served over HTTP it finds papers in ru, en and zh under its CSP;
opened from file:// it says that search cannot run there, and nothing breaks."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tasks.render import render_site
from tasks.settings import Settings
from tests.browser.test_day_page import ARGS, CHROMIUM, OUTPUT, Tab
from tests.site_data import XSS, XSS_ID, small_store, synthetic_store, write_store

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    settings = Settings(data_dir=root / "data", site_dir=root / "site", site_url="")
    store = small_store() + synthetic_store(n_days=3, per_day=4, start="2025-02-03")
    write_store(Path(settings.data_dir, "days"), store)
    render_site(settings)
    return Path(settings.site_dir)


@pytest.fixture(scope="module")
def http(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    t = Tab(browser)
    t.csp: list[str] = []  # type: ignore[attr-defined]
    t.page.on("console", lambda m: t.csp.append(m.text) if "Content Security Policy" in m.text else None)
    t.page.on("requestfailed", lambda r: None if r.url.startswith("file:") else t.errors.append(f"failed: {r.url}"))
    yield t
    assert t.errors == [], t.errors
    assert t.csp == [], t.csp  # type: ignore[attr-defined]
    t.context.close()


def until(page: Any, expression: str, timeout: float = 20.0) -> None:
    """Poll `expression` with page.evaluate (Playwright's wait_for_function evaluates strings, which this page's CSP
    rightly refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


def search(page: Any, query: str) -> list[tuple[str, str]]:
    """Type a query, wait for its results; (href, title) of each."""
    page.fill("#sq", query)
    until(page, f"window.hfdSearch.state === 'done' && document.getElementById('sq').value === {json.dumps(query)}")
    found = page.eval_on_selector_all(".result-title", "as => as.map(a => [a.getAttribute('href'), a.textContent])")
    return [tuple(x) for x in found]


def ready(tab: Tab, url: str) -> Any:
    page = tab.open(url)
    until(page, "window.hfdSearch && ['ready', 'done', 'unavailable'].includes(window.hfdSearch.state)")
    return page


def test_search_finds_papers_in_every_language(http: str, tab: Tab) -> None:
    workers: list[str] = []
    tab.page.on("worker", lambda w: workers.append(w.url))
    page = ready(tab, f"{http}/search.html")
    assert page.evaluate("window.hfdSearch.state") == "ready"
    hits = search(page, "gamma")
    assert hits and hits[0] == ("d/2025-01-21.html#p-2501.00003", "EN Gamma vision agents")
    hits = search(page, "beta policy")
    assert any(href == "d/2025-01-23.html#p-2501.00002" for href, _ in hits), hits  # at its latest day
    assert {h for h, _ in search(page, "mallory")} == {f"d/2025-01-21.html#p-{XSS_ID}"}  # authors are indexed
    assert search(page, "lab 12")[0][0] == "d/2025-01-21.html#p-2501.00001"  # and affiliations
    page.click(".lang-btn[data-lang='zh']")
    hits = search(page, "中文描述")  # Chinese words segmented on both sides
    assert hits and all("?lang=zh#p-" in href for href, _ in hits) and all(t.startswith("ZH ") for _, t in hits)
    page.click(".lang-btn[data-lang='ru']")
    hits = search(page, "описание статьи")  # Russian stemming: "описание" also finds "описания"
    assert hits and all("?lang=ru#p-" in href for href, _ in hits)
    page.select_option("#scope", "all")
    until(page, "window.hfdSearch.state === 'done'")
    assert {h.split("?")[0].split("#")[0] for h, _ in search(page, "gamma")} == {"d/2025-01-21.html"}
    assert "scope=all" in page.url and "q=gamma" in page.url
    assert workers == []  # the engine runs on the page (search.js: noWorker); its worker is not even shipped
    page.click(".result-title >> nth=0")
    page.wait_for_load_state("load")
    assert "/d/2025-01-21.html" in page.url


def _meta_requests(tab: Tab) -> list[str]:
    """`MONTH/LANG` of each language index (.pf_meta) the page fetches, as it fetches them."""
    metas: list[str] = []
    tab.page.on("request", lambda r: metas.append(r.url.rsplit("/", 2)[-2] + "/" + r.url.rsplit(".", 2)[-2][:2])
                if r.url.endswith(".pf_meta") else None)
    return metas


def test_the_other_languages_load_after_a_pause_and_a_switch_then_waits_for_nothing(http: str, tab: Tab) -> None:
    metas = _meta_requests(tab)
    page = ready(tab, f"{http}/search.html")
    until(page, "window.hfdSearch.loaded.length === 3")  # nothing typed, no language switched
    assert page.evaluate("window.hfdSearch.warmedBy") == "pause"
    assert page.evaluate("window.hfdSearch.loaded")[0] == "en"  # the page's own language first
    months = [b.split("/")[1] for b in json.loads(page.text_content("#page-data"))["bundles"]]
    every = sorted(f"{m}/{lang}" for m in months for lang in ("en", "ru", "zh"))
    assert len(months) > 1 and sorted(metas) == every  # every month's index in every language, each once
    page.click(".lang-btn[data-lang='zh']")
    assert search(page, "中文描述")
    assert sorted(metas) == every  # the switch loaded nothing more


def test_the_other_languages_load_once_the_first_search_has_its_results(http: str, tab: Tab) -> None:
    metas = _meta_requests(tab)
    page = ready(tab, f"{http}/search.html?q=gamma")
    until(page, "window.hfdSearch.state === 'done' && window.hfdSearch.loaded.length === 3")
    assert page.evaluate("window.hfdSearch.warmedBy") == "search"  # not the pause's timer
    assert page.evaluate("window.hfdSearch.loaded")[0] == "en" and len(set(metas)) == len(metas) == len(
        json.loads(page.text_content("#page-data"))["bundles"]) * 3


def test_results_are_text_and_hostile_records_stay_inert(http: str, tab: Tab) -> None:
    page = ready(tab, f"{http}/search.html?scope=all&q=onerror")
    until(page, "window.hfdSearch.state === 'done'")
    titles = page.eval_on_selector_all(".result-title", "as => as.map(a => a.textContent)")
    assert any(XSS in t for t in titles)
    assert page.evaluate("document.querySelectorAll('#results img, #results script, #results svg').length") == 0
    marks = page.eval_on_selector_all(".result-excerpt mark", "ms => ms.map(m => m.textContent.toLowerCase())")
    assert marks and all("onerror" in m for m in marks)
    assert tab.dialogs == []


def test_search_page_says_so_over_file_urls(site: Path, tab: Tab) -> None:
    page = ready(tab, (site / "search.html").as_uri())
    assert page.evaluate("window.hfdSearch.state") == "unavailable"
    assert page.is_visible("#search-unavailable") and page.is_disabled("#sq")
    assert "http" in page.text_content("#search-unavailable")
    page.click(".lang-btn[data-lang='ru']")
    assert "python3 -m http.server" in page.text_content("#search-unavailable")
    tab.open((site / "d" / "2025-01-21.html").as_uri())  # the day page's own search still works
    page.get_by_label("Поиск").fill("gamma")
    assert tab.visible_ids() == ["2501.00003"]


def test_search_screenshots(http: str, browser: Any) -> None:
    OUTPUT.mkdir(exist_ok=True)
    for name, scheme, width in (("search-light", "light", 1280), ("search-dark", "dark", 1280),
                                ("search-mobile", "light", 360)):
        t = Tab(browser, color_scheme=scheme, viewport={"width": width, "height": 900})
        try:
            page = ready(t, f"{http}/search.html?q=vision")
            until(page, "window.hfdSearch.state === 'done'")
            assert page.locator(".result").count() > 0
            page.screenshot(path=str(OUTPUT / f"{name}.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert t.errors == []
        finally:
            t.context.close()
