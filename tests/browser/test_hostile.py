"""Hostile upstream data in a real Chromium: the feed of tests/unit/test_bad_input.py (markup, scripts, control
characters, 3000 authors, javascript: links) normalized as the flow does, enriched by an LLM that obeys an
injected abstract, stored and rendered. No script of the data runs, whatever the reader clicks or types.

test_day_page.py covers a hand-made hostile paper in the store; this covers what upstream sends, after
tasks.feed and the LLM parsers have had their say.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_bad_input import HOSTILE_DATE, IDS, XSS, hostile_site

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

# What an injected payload would leave behind: an element it added, an event handler, a javascript: link,
# or the global it sets.
INJECTED = """() => {
  const bad = [...document.querySelectorAll('img, iframe, object, embed, math, base, form, svg:not(.chart)')];
  const handlers = [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on')));
  const links = [...document.querySelectorAll('[href], [src]')].filter(
      e => /^\\s*(javascript|vbscript|data):/i.test(e.getAttribute('href') || e.getAttribute('src') || '')
        && !(e.tagName === 'LINK' && e.rel === 'icon'));
  return {elements: bad.map(e => e.outerHTML.slice(0, 80)), handlers: handlers.map(e => e.outerHTML.slice(0, 80)),
          links: links.map(e => e.outerHTML.slice(0, 80)), pwned: window.pwned === 1};
}"""
CLEAN = {"elements": [], "handlers": [], "links": [], "pwned": False}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings, _, _ = hostile_site(tmp_path_factory.mktemp("hostile"))
    return Path(settings.site_dir)


@pytest.fixture(scope="module")
def page(site: Path) -> Iterator[tuple[Any, list[str]]]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        events: list[str] = []
        tab.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
        tab.on("pageerror", lambda exc: events.append(f"error: {exc}"))
        yield tab, events
        browser.close()


def test_hostile_feed_and_answers_never_run_in_the_browser(site: Path, page: tuple[Any, list[str]]) -> None:
    tab, events = page
    tab.goto((site / "d" / f"{HOSTILE_DATE}.html").as_uri())
    tab.wait_for_function("document.documentElement.classList.contains('js')")
    assert tab.evaluate(INJECTED) == CLEAN
    hostile = f"[id='p-{IDS[0]}']"
    # the feed's title is shown as text (as the original title under the English one)
    assert f"Scripted {XSS[0]} {XSS[1]}" in tab.text_content(f"{hostile} [data-f='orig']")
    assert tab.text_content(f"{hostile} [data-f='title']") == "</script><script>alert(1)</script>"
    for lang in ("ru", "zh", "en"):
        tab.click(f".lang-btn[data-lang='{lang}']")
        assert tab.evaluate(INJECTED) == CLEAN, lang
    assert tab.text_content(f"{hostile} [data-f='title']") == "</script><script>alert(1)</script>"
    tab.click(f"{hostile} .rest-toggle")  # 3000 authors, some of them markup
    assert tab.is_visible(f"[id='a-{IDS[0]}']")
    for query in (XSS[1], "javascript:alert(1)", "<svg onload=alert(3)>", "mallory"):
        tab.get_by_label("Search").fill(query)
        assert tab.evaluate(INJECTED) == CLEAN, query
    tab.get_by_label("Search").fill("")
    for tag in ("RL", "SECURITY"):
        tab.click(f".chip[data-tag='{tag}']")
    assert tab.evaluate(INJECTED) == CLEAN
    for rel in ("m/2025-01.html", "index.html", "archive.html"):
        tab.goto((site / rel).as_uri())
        assert tab.evaluate(INJECTED) == CLEAN, rel
    assert events == []
