"""A paper reviewed on request, in a real Chromium: the hostile paper of test_bad_input as u/ID.html and in
u/index.html. No script of the data runs in any language, and the index's controls work as on a day."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_hostile import ARGS, CHROMIUM, CLEAN, INJECTED, sync_api
from tests.unit.test_bad_input import IDS
from tests.unit.test_requested_pages import requested_site

pytestmark = pytest.mark.browser


def test_requested_pages_stay_inert_and_switch_language(tmp_path: Path) -> None:
    settings, hostile = requested_site(tmp_path)
    site = Path(settings.site_dir)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_context(locale="en-US").new_page()
        events: list[str] = []
        tab.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
        tab.on("pageerror", lambda exc: events.append(f"error: {exc}"))
        card = f"[id='p-{IDS[0]}']"
        tab.goto((site / "u" / f"{IDS[0]}.html").as_uri())
        tab.wait_for_function("() => document.documentElement.classList.contains('js')")
        assert tab.evaluate(INJECTED) == CLEAN
        for lang, title in (("ru", hostile.ru.title), ("en", hostile.en.title)):
            tab.click(f".lang-btn[data-lang='{lang}']")
            assert tab.text_content(f"{card} [data-f='title']") == title
            assert tab.evaluate(INJECTED) == CLEAN, lang
        tab.click("a[href='../u/index.html']")  # the navigation's "On request"
        tab.wait_for_function("() => document.documentElement.classList.contains('js')")
        assert tab.evaluate(INJECTED) == CLEAN
        assert tab.locator(".card").count() == 2
        tab.get_by_label("Search").fill("calm")
        assert tab.is_hidden(card) and tab.is_visible("[id='p-hep-th/9901001']")
        tab.get_by_label("Search").fill("")
        tab.click(f"{card} a.card-page")
        assert tab.url.endswith(f"/u/{IDS[0]}.html")
        browser.close()
    assert events == []
