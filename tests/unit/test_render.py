"""The static site renderer: aggregations, feeds, escaping, incremental renders, robustness."""

from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tasks.models import DayFile
from tasks.render import day_page_key, load_days, render_for_day, render_site
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site.aggregate import CalendarMonth, Cell, archive_calendar, month_summary
from tasks.site.feeds import TOPIC_FEED_DAYS
from tasks.site.i18n import LANGS, load_strings
from tasks.site.jinja import CSP
from tests.site_data import XSS, XSS_ID, day_file, paper, small_store, synthetic_store, write_store

SITE_URL = "https://papers.example.org/hf"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url=SITE_URL)
    write_store(Path(s.data_dir, "days"), small_store())
    return s


@pytest.fixture
def site(settings: Settings) -> Path:
    render_site(settings)
    return Path(settings.site_dir)


class Page(HTMLParser):
    """Collects what the safety tests look at: links, scripts, and the embedded JSON."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self.data_json = ""
        self._in_data = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"] or "")
        if tag == "script":
            self.scripts.append(a)
            self._in_data = a.get("id") == "page-data"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self.data_json += data


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def page_data(html: str) -> dict:
    return json.loads(Page(html).data_json)


# ---- loading -------------------------------------------------------------------------------------------

def test_load_days_skips_invalid_files(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    (Path(settings.data_dir, "days") / "2025-01-24.json").write_text("{not json", encoding="utf-8")
    (Path(settings.data_dir, "days") / "2025-01-25.json").write_text(day_file("2025-01-26", []).model_dump_json())
    (Path(settings.data_dir, "days") / "notes.json").write_text("{}", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="tasks.render"):
        days = load_days(settings)
    assert list(days) == ["2025-01-20", "2025-01-21", "2025-01-23"]
    logged = caplog.text
    assert "2025-01-24.json" in logged and "2025-01-25.json" in logged and "notes.json" in logged


def test_render_site_survives_a_broken_day_file(settings: Settings) -> None:
    (Path(settings.data_dir, "days") / "2025-01-22.json").write_text('{"date": "2025-01-22", "papers": [{}]}')
    render_site(settings)
    assert not (Path(settings.site_dir) / day_page_key("2025-01-22")).exists()
    assert (Path(settings.site_dir) / day_page_key("2025-01-21")).exists()


# ---- aggregations ---------------------------------------------------------------------------------------

def test_month_top_counts_a_paper_on_two_days_once() -> None:
    summary = month_summary("2025-01", small_store())
    ids = [p.arxiv_id for _, p in summary.top]
    assert len(ids) == len(set(ids)) == 17 == summary.papers
    date, best = summary.top[0]
    assert (best.arxiv_id, best.upvotes, date) == ("2501.00002", 77, "2025-01-23")  # the freshest copy
    assert [p.upvotes for _, p in summary.top] == sorted((p.upvotes for _, p in summary.top), reverse=True)
    assert summary.per_day == [("2025-01-20", 6), ("2025-01-21", 6), ("2025-01-23", 6)]


def test_month_tag_counts_count_distinct_papers() -> None:
    tags = dict(month_summary("2025-01", small_store()).tags)
    assert tags == {"RL": 6, "CV": 6, "MATH": 5, "AGENTS": 2, f"X{XSS}": 1}  # RL would be 7 without dedup
    ordered = [t for t, _ in month_summary("2025-01", small_store()).tags]
    assert ordered[:3] == ["CV", "RL", "MATH"]  # by count, then name


def test_month_summary_of_empty_days() -> None:
    summary = month_summary("2025-01", [day_file("2025-01-02", [])])
    assert (summary.top, summary.tags, summary.papers, summary.per_day) == ([], [], 0, [("2025-01-02", 0)])


def cells_of(month: CalendarMonth) -> dict[str, Cell]:
    return {c.iso: c for week in month.weeks for c in week if c}


def test_archive_calendar_is_monday_first_newest_month_first() -> None:
    months = archive_calendar({"2025-01-20": 6, "2025-01-21": 4, "2025-02-03": 2})
    assert [m.month for m in months] == ["2025-02", "2025-01"]
    jan = months[1]
    assert (jan.papers, jan.days) == (10, 2)
    first_week = jan.weeks[0]
    assert first_week[:2] == [None, None] and first_week[2] == cells_of(jan)["2025-01-01"]  # Wed 1 Jan
    cells = cells_of(jan)
    assert cells["2025-01-20"].count == 6 and cells["2025-01-22"].count is None
    assert cells["2025-01-20"].level == 4 and cells["2025-01-21"].level == 3


# ---- pages ----------------------------------------------------------------------------------------------

def test_render_site_writes_every_page(settings: Settings, site: Path) -> None:
    for rel in ("index.html", "archive.html", "feed.xml", "feed.json", "m/2025-01.html", "static/site.css",
                "static/site.js", "static/i18n.js", "zh/2025-01-21.html"):
        assert (site / rel).is_file(), rel
    assert sorted(p.name for p in (site / "d").iterdir()) == [
        "2025-01-20.html", "2025-01-21.html", "2025-01-23.html"]
    assert day_page_key("2025-01-21") == "d/2025-01-21.html"
    assert not list(site.rglob("*.tmp"))


def test_index_is_the_latest_day_with_root_links(site: Path) -> None:
    index = read(site / "index.html")
    assert page_data(index)["date"] == "2025-01-23"
    assert 'href="static/site.css"' in index and 'src="static/site.js"' in index
    assert 'href="../static/site.css"' in read(site / "d" / "2025-01-23.html")


def test_day_navigation_skips_missing_dates(site: Path) -> None:
    html = read(site / "d" / "2025-01-21.html")
    assert 'rel="prev" href="../d/2025-01-20.html"' in html
    assert 'rel="next" href="../d/2025-01-23.html"' in html
    assert 'href="../m/2025-01.html"' in html and 'href="../archive.html"' in html
    assert 'href="../zh/2025-01-21.html"' in html
    first = read(site / "d" / "2025-01-20.html")
    assert 'rel="prev"' not in first and 'rel="next" href="../d/2025-01-21.html"' in first


def test_day_page_cards_and_embedded_data(site: Path) -> None:
    html = read(site / "d" / "2025-01-21.html")
    data = page_data(html)
    ids = [p["id"] for p in data["papers"]]
    assert ids == ["2501.00001", "2501.00002", "2501.00003", "2501.00004", "2501.00005", XSS_ID]
    assert [m for m in re.findall(r'<article class="card[^"]*" id="p-([^"]+)"', html)] == ids
    alpha = data["papers"][0]
    assert alpha["t"] == {"ru": "RU Alpha agents learn", "en": "EN Alpha agents learn",
                          "zh": "ZH Alpha agents learn"}
    assert (alpha["up"], alpha["rank"], alpha["tags"]) == (50, 3, ["RL", "AGENTS"])
    assert alpha["pub"].startswith("2025-01-10") and "Author 14" in alpha["au"] and "Lab 12" in alpha["af"]
    assert data["updated"].startswith("2025-01-21T07:00")
    # Long author lists collapse, affiliations stop at 10, known links are shown with GitHub stars.
    card = html.split('id="p-2501.00001"')[1].split("</article>")[0]
    assert "+8 more" in card and "+2 more" in card and "Lab 10" in card and "Lab 11" not in card
    assert 'href="https://github.com/example/alpha"' in html and "★ 1.2k" in html
    assert 'href="https://alpha.example.org"' in html and 'href="https://arxiv.org/pdf/2501.00001"' in html
    chip = '<button type="button" class="chip" data-tag="RL" aria-pressed="false">#rl <span class="chip-n">3'
    assert chip in html


def test_failed_enrichment_and_vanished_papers_are_shown(site: Path) -> None:
    html = read(site / "d" / "2025-01-21.html")
    card = html.split('id="p-2501.00004"')[1].split("</article>")[0]
    assert "Delta segmentation" in card and "Abstract of Delta segmentation." in card
    assert "📄" in card  # placeholder emoji
    assert re.search(r'class="badge badge-pending" data-f="pending" data-i18n="untranslated">', card)
    delta = next(p for p in page_data(html)["papers"] if p["id"] == "2501.00004")
    assert delta["t"] == {} and delta["ot"] == "Delta segmentation"
    assert delta["ab"].startswith("Abstract of Delta")
    moved = html.split('id="p-2501.00005"')[0].rsplit("<article", 1)[1]
    assert "is-moved" in moved
    assert "badge-moved" in html.split('id="p-2501.00005"')[1].split("</article>")[0]


def test_month_page_lists_top_papers_and_a_chart(site: Path) -> None:
    html = read(site / "m" / "2025-01.html")
    assert html.count("<svg") == 2 and 'class="bar"' in html
    assert html.index("EN Beta policy gradients") < html.index("EN Monday paper 6")  # 77 before 60
    # B, listed on two days, is one entry of the top list and one card, both at its freshest day
    assert html.count('href="../d/2025-01-23.html#p-2501.00002"') == 2
    assert 'href="../d/2025-01-21.html#p-2501.00002"' not in html
    assert "#math <span class=\"chip-n\">5</span>" in html
    data = page_data(html)
    assert [p["id"] for p in data["papers"]][0] == "2501.00002" and data["papers"][0]["day"] == "2025-01-23"
    assert len(data["papers"]) == html.count('<article class="card') == 17  # every paper of the month, once


def test_archive_links_every_day_with_counts(site: Path) -> None:
    html = read(site / "archive.html")
    for day in ("2025-01-20", "2025-01-21", "2025-01-23"):
        assert f'href="d/{day}.html" title="{day}: 6"' in html
    assert 'href="m/2025-01.html"' in html and 'href="d/2025-01-22.html"' not in html


def test_zh_page_numbers_sentences_with_pinyin_translation_and_vocab(site: Path) -> None:
    html = read(site / "zh" / "2025-01-21.html")
    assert html.count('<p class="hz" lang="zh">') == 2
    assert "我们研究模型。" in html and "Wǒmen yánjiū móxíng." in html and "It is useful!" in html
    assert "<td lang=\"zh\" class=\"hz\">模型</td>" in html and "móxíng" in html
    assert 'href="../d/2025-01-21.html#p-2501.00001"' in html


def test_zh_reading_falls_back_to_blocks_when_sentences_do_not_align() -> None:
    from tasks.models import VocabItem, ZhReading
    from tasks.site.zh import reading

    r = reading(ZhReading(arxiv_id="x", text="一。二。三。", pinyin="Yī. Èr.", translation="One. Two. Three.",
                          vocab=[VocabItem(word="一", pinyin="yī", trans="one")]))
    assert not r.aligned and [s.text for s in r.sentences] == ["一。", "二。", "三。"]
    assert r.pinyin == "Yī. Èr." and all(s.pinyin == "" for s in r.sentences)


def test_ui_strings_exist_in_every_language(site: Path) -> None:
    strings = load_strings(TEMPLATES_DIR)
    raw = json.loads(read(TEMPLATES_DIR / "i18n.json"))
    assert all(set(v) == set(LANGS) and all(v.values()) for v in raw.values())
    used: set[str] = set()
    for page in site.rglob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-title|-aria|-ph)?="([^"]+)"', read(page)))
    assert used and used <= set(strings), used - set(strings)
    assert "window.HFD_I18N" in read(site / "static" / "i18n.js")


def test_empty_store_renders_index_and_archive(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url="")
    written = render_site(s)
    assert "index.html" in written and "archive.html" in written
    assert json.loads(read(Path(s.site_dir) / "feed.json"))["items"] == []


def test_render_site_removes_pages_of_deleted_days(settings: Settings, site: Path) -> None:
    stale = site / "d" / "2024-12-31.html"
    stale.write_text("old", encoding="utf-8")
    unrelated = site / "d" / "notes.txt"
    unrelated.write_text("keep", encoding="utf-8")
    render_site(settings)
    assert not stale.exists() and unrelated.exists()


# ---- feeds ----------------------------------------------------------------------------------------------

def test_atom_feed_is_valid_with_absolute_links(site: Path) -> None:
    root = ET.parse(site / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    assert root.findtext(f"{ATOM}updated") == "2025-01-23T07:00:00Z"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == f"{SITE_URL}/feed.xml"
    entries = root.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(ids) == len(set(ids)) == 17  # B appears on two days but once in the feed
    for entry in entries:
        for name in ("id", "title", "updated", "content", "summary"):
            assert entry.find(f"{ATOM}{name}") is not None, name
        href = entry.find(f"{ATOM}link[@rel='alternate']").get("href")  # type: ignore[union-attr]
        assert href.startswith(f"{SITE_URL}/d/2025-01-2") and "#p-" in href
    beta = entries[ids.index("https://arxiv.org/abs/2501.00002")]
    assert beta.find(f"{ATOM}link[@rel='alternate']").get("href").endswith("/d/2025-01-23.html#p-2501.00002")
    assert [c.get("term") for c in beta.findall(f"{ATOM}category")] == ["RL"]
    hostile = entries[ids.index(f"https://arxiv.org/abs/{XSS_ID}")]
    assert XSS in hostile.findtext(f"{ATOM}title")  # text, escaped by the XML writer
    assert "javascript:" not in hostile.findtext(f"{ATOM}content")


def test_json_feed_1_1(site: Path) -> None:
    feed = json.loads(read(site / "feed.json"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["home_page_url"] == f"{SITE_URL}/index.html" and feed["feed_url"] == f"{SITE_URL}/feed.json"
    assert len(feed["items"]) == 17
    for item in feed["items"]:
        assert item["id"] and item["title"] and item["content_html"] and item["content_text"]
        assert item["url"].startswith(f"{SITE_URL}/d/")
    first = feed["items"][0]
    assert first["url"] == f"{SITE_URL}/d/2025-01-23.html#p-2501.00002" and first["title"].endswith(
        "EN Beta policy gradients")


def test_feed_holds_only_the_latest_days(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url=SITE_URL + "/")
    write_store(Path(s.data_dir, "days"), synthetic_store(n_days=10, per_day=3))
    render_site(s)
    feed = json.loads(read(Path(s.site_dir) / "feed.json"))
    dates = {item["url"].split("/d/")[1][:10] for item in feed["items"]}
    assert len(dates) == 7 and min(dates) > sorted(load_days(s))[2]
    assert all("//d/" not in item["url"] for item in feed["items"])  # trailing slash of site_url handled


# ---- safety ---------------------------------------------------------------------------------------------

def test_hostile_text_is_escaped_in_html_and_json(site: Path) -> None:
    for path in (site / "d" / "2025-01-21.html", site / "m" / "2025-01.html"):
        html = read(path)
        assert XSS not in html and "<img" not in html
        assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
        page = Page(html)
        assert "img" not in page.tags
        raw = page.data_json
        assert "<" not in raw and ">" not in raw and "&" not in raw and "\u2028" not in raw
        assert html.count("</script>") == len(page.scripts)  # nothing closes a script early
    data = page_data(read(site / "d" / "2025-01-21.html"))
    hostile = next(p for p in data["papers"] if p["id"] == XSS_ID)
    assert hostile["ot"] == f"Hostile {XSS}" and hostile["t"]["en"] == f"EN {XSS}"
    assert hostile["d"]["en"] == f"Desc {XSS} \u2028 line sep" and hostile["tags"] == [f"X{XSS}"]


def test_only_http_urls_become_links(site: Path) -> None:
    for path in site.rglob("*.html"):
        for href in Page(read(path)).hrefs:
            assert re.match(r"^(https?://|\.\./|[\w-]+/|[\w.-]+\.(html|xml|json)|#)", href), (path, href)
            assert not href.lower().startswith(("javascript:", "data:", "vbscript:"))
    card = read(site / "d" / "2025-01-21.html").split(f'id="p-{XSS_ID}"')[1].split("</article>")[0]
    assert "link-code" not in card and "link-project" not in card


@pytest.mark.parametrize(("url", "ok"), [
    ("https://github.com/a/b", True),
    ("http://example.org/x?y=1&z=2", True),
    ("  https://example.org  ", True),
    ("javascript:alert(1)", False),
    ("JavaScript:alert(1)", False),
    (" javascript:alert(1)", False),
    ("data:text/html,<b>x</b>", False),
    ("//evil.example/x", False),
    ("/relative/path", False),
    ("https://", False),
    ('https://example.org/"onmouseover=x', False),
    ("https://example.org/a b", False),
    ("https://example.org/\u0000", False),
    ("ftp://example.org/file", False),
    ("https://example.org:8080/x#y", True),
    ("http://[::1]/x", True),
    ("https://exa mple.org", False),
    ("https://example.org/x\ny", False),
    ("https://./x", False),
    ("", False),
    (None, False),
])
def test_safe_url(url: str | None, ok: bool) -> None:
    from tasks.site.safety import safe_url

    assert (safe_url(url) is not None) == ok


def test_script_json_round_trips_and_cannot_close_the_script() -> None:
    from tasks.site.safety import script_json

    data = {"t": "</script><!-- <![CDATA[ & \u2028\u2029 \"q\"", "n": [1, None]}
    text = str(script_json(data))
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == data


def test_pages_have_a_strict_csp_and_no_inline_script(site: Path) -> None:
    for path in site.rglob("*.html"):
        html = read(path)
        csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        assert csp, path
        policy = csp.group(1).replace("&#39;", "'")
        if path.name == "search.html":  # the one page that runs Pagefind's WebAssembly and fetches its index
            wasm = "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self';"
            assert policy == CSP.replace("script-src 'self';", wasm)
            continue
        assert policy == CSP, path
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
        for attrs in Page(html).scripts:
            assert attrs.get("src") or attrs.get("type") == "application/json", (path, attrs)
        assert not re.search(r"\son[a-z]+=", html.split('id="page-data"')[0].replace("onerror=alert", ""))
        assert not re.findall(r'(?:src|href)="(?:https?:)?//', html.split("<body")[0])  # no CDN, no web fonts


# ---- incremental rendering ------------------------------------------------------------------------------

def _snapshot(site: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}


def _pages(site: Path, written: list[str]) -> set[str]:
    """Written keys, with every feed file and the feeds page counted as one "feeds"."""
    rels = set(written)
    feeds = {r for r in rels if r.startswith("feeds") or r in ("feed.xml", "feed.json")}
    assert not feeds or {"feed.xml", "feed.json", "feeds.html", "feeds/en.xml", "feeds/zh.json"} <= feeds
    bundles = {r for r in rels if r.startswith("pagefind/")}
    return (rels - feeds - bundles) | ({"feeds"} if feeds else set()) | {"search:" + r.split("/")[1] for r in bundles}


def test_render_for_day_writes_only_the_affected_pages(settings: Settings, site: Path) -> None:
    before = _snapshot(site)
    written = render_for_day(settings, "2025-01-20")
    expected = {"d/2025-01-20.html", "d/2025-01-21.html", "zh/2025-01-20.html", "m/2025-01.html",
                "archive.html", "feeds", "search.html"}
    assert _pages(site, written) == expected  # not the index (01-23 is not a neighbour), nor the unchanged index
    expected |= set(written)
    after = _snapshot(site)
    untouched = {p for p in before if str(p.relative_to(site)) not in expected}
    assert all(after[p] == before[p] for p in untouched)


def test_render_for_day_of_a_new_month_refreshes_its_neighbour(settings: Settings, site: Path) -> None:
    write_store(Path(settings.data_dir, "days"), [day_file("2025-02-03", [paper("2502.00001", "February",
                                                                                topics=["RL"])])])
    written = _pages(site, render_for_day(settings, "2025-02-03"))
    assert written == {"d/2025-01-23.html", "d/2025-02-03.html", "zh/2025-02-03.html", "m/2025-02.html",
                       "m/2025-01.html", "index.html", "archive.html", "feeds", "search.html", "search:2025-02"}
    assert page_data(read(site / "index.html"))["date"] == "2025-02-03"
    assert 'rel="next" href="../d/2025-02-03.html"' in read(site / "d" / "2025-01-23.html")
    assert 'rel="next" href="../m/2025-02.html"' in read(site / "m" / "2025-01.html")


def test_render_for_an_old_day_leaves_index_and_feeds_alone(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url=SITE_URL)
    store = synthetic_store(n_days=TOPIC_FEED_DAYS + 6, per_day=2)  # store[3] is older than any feed's days
    write_store(Path(s.data_dir, "days"), store)
    render_site(s)
    written = _pages(Path(s.site_dir), render_for_day(s, store[3].date))
    assert written == {f"d/{store[2].date}.html", f"d/{store[3].date}.html", f"d/{store[4].date}.html",
                       f"zh/{store[3].date}.html", f"m/{store[3].date[:7]}.html", "archive.html", "search.html"}


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[DayFile]]:
    """45 weekdays (January to early March) of 3 papers, an empty Saturday among them, rendered whole."""
    root = tmp_path_factory.mktemp("two-months")
    s = Settings(data_dir=root / "data", site_dir=root / "whole", site_url=SITE_URL)
    store = synthetic_store(n_days=45, per_day=3)
    write_store(Path(s.data_dir, "days"), [*store, _empty_day("2025-02-08", "2025-02-11T08:00")])
    render_site(s)
    return s, store


@pytest.mark.parametrize("pick", ["old", "first of a month", "empty", "latest"])
def test_a_dates_render_writes_the_same_bytes_as_a_whole_site_render(two_months: tuple[Settings, list[DayFile]],
                                                                     tmp_path: Path, pick: str) -> None:
    """A date's render reads only the day files of its pages (plus every day's summary): each page it writes, into
    an empty site, is byte for byte the page the whole-site render wrote from every day file."""
    whole, store = two_months
    date = {"old": store[3].date, "first of a month": "2025-02-03", "empty": "2025-02-08",
            "latest": store[-1].date}[pick]
    s = Settings(data_dir=whole.data_dir, site_dir=tmp_path / "site", site_url=SITE_URL)
    written = render_for_day(s, date)
    pages = [k for k in written if not k.startswith(("pagefind/", "static/", "u/"))]
    assert "archive.html" in pages and len(pages) >= 4
    for key in pages:
        assert (tmp_path / "site" / key).read_bytes() == (Path(whole.site_dir) / key).read_bytes(), key
    signatures = [k for k in written if k.endswith("hfdaily-index.sha256")]  # the month's search records
    assert signatures and all((tmp_path / "site" / k).read_bytes() == (Path(whole.site_dir) / k).read_bytes()
                              for k in signatures)


def test_a_dates_render_keeps_only_the_day_files_its_pages_show(two_months: tuple[Settings, list[DayFile]]) -> None:
    """An old date's render holds its month's day files; the latest date's its month and the feeds' window. Not
    the store: memory that does not grow with the number of stored dates."""
    from tasks.render import load_for_day

    whole, store = two_months
    digests: dict[str, str] = {}
    old = load_for_day(whole, store[3].date, digests)
    assert set(old.days) == {d.date for d in store if d.date.startswith("2025-01")}
    assert len(old.summaries) == len(digests) == len(store) + 1  # every date, the empty one too
    latest = load_for_day(whole, store[-1].date, {})
    assert set(latest.days) == {d.date for d in store[-TOPIC_FEED_DAYS:]} | {d.date for d in store
                                                                             if d.date.startswith("2025-03")}


def test_a_date_whose_pages_need_more_after_the_second_read_reads_every_day_file(
        two_months: tuple[Settings, list[DayFile]], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Should the day files read again show that the pages need a day not read (a file changed between the reads),
    the render reads them all rather than fail on a missing day."""
    import tasks.render
    from tasks.render import load_for_day
    from tasks.site.pages import Site, Target

    whole, store = two_months
    first = [True]
    real = tasks.render.days_read

    def short_the_first_time(site: Site, targets: list[Target]) -> set[str]:
        wanted = real(site, targets)
        if first[0]:
            first[0] = False
            return set(sorted(wanted)[1:])
        return wanted

    monkeypatch.setattr(tasks.render, "days_read", short_the_first_time)
    with caplog.at_level(logging.INFO):
        site = load_for_day(whole, store[3].date, {})
    assert set(site.days) == {d.date for d in store} | {"2025-02-08"}
    assert "reading every day file" in caplog.text


def test_render_for_day_rewrites_changed_static_assets(settings: Settings, site: Path) -> None:
    (site / "static" / "site.css").write_text("/* stale */", encoding="utf-8")
    written = render_for_day(settings, "2025-01-20")
    assert "static/site.css" in written
    assert read(site / "static" / "site.css") == read(TEMPLATES_DIR / "static" / "site.css")


# ---- real data ------------------------------------------------------------------------------------------

def test_real_feed_days_render_every_paper(tmp_path: Path) -> None:
    """Real HF responses (read in place, never copied) normalized by tasks.feed, rendered unenriched."""
    from tasks.feed import normalize_items
    from tasks.models import DayFile, PaperRecord

    folder = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "hf_daily_papers"
    if not folder.is_dir():
        pytest.skip(f"shared fixtures not found at {folder}")
    s = Settings(data_dir=tmp_path / "data", site_dir=tmp_path / "site", site_url=SITE_URL)
    days = []
    for path in sorted(folder.glob("*.json")):
        papers, _ = normalize_items(json.loads(read(path)))
        days.append(DayFile(date=path.stem, papers=[PaperRecord(**p.model_dump()) for p in papers]))
    write_store(Path(s.data_dir, "days"), days)
    render_site(s)
    for day in days:
        html = read(Path(s.site_dir) / "d" / f"{day.date}.html")
        data = page_data(html)
        assert [p["id"] for p in data["papers"]] == [p.arxiv_id for p in sorted(
            day.papers, key=lambda p: (-p.upvotes, p.feed_rank))]
        assert html.count('<article class="card') == len(day.papers)
    feed = ET.parse(Path(s.site_dir) / "feed.xml").getroot()
    assert feed.findall(f"{ATOM}entry")


# ---- empty dates ----------------------------------------------------------------------------------------

def _empty_day(date: str, run_at: str) -> DayFile:
    from tasks.models import RunRecord

    started = datetime.fromisoformat(run_at).replace(tzinfo=UTC)
    return DayFile(date=date, runs=[RunRecord(started_at=started, finished_at=started, feed_papers=0)])


def test_an_empty_date_gets_no_page_and_is_skipped_by_navigation(settings: Settings) -> None:
    write_store(Path(settings.data_dir, "days"), [_empty_day("2025-01-24", "2025-01-24T03:00"),
                                    _empty_day("2025-01-25", "2025-01-28T08:00")])
    render_site(settings)
    site = Path(settings.site_dir)
    assert not (site / "d" / "2025-01-24.html").exists() and not (site / "d" / "2025-01-25.html").exists()
    assert page_data(read(site / "index.html"))["date"] == "2025-01-23"
    assert 'rel="next"' not in read(site / "d" / "2025-01-23.html")
    archive = read(site / "archive.html")
    assert 'href="d/2025-01-24.html"' not in archive and 'href="d/2025-01-25.html"' not in archive
    # Friday was found empty in its first hours (not final); Saturday two days after it ended (final).
    assert re.search(r'class="cal-empty" data-date="2025-01-24" title="2025-01-24: no papers yet"', archive)
    assert re.search(r'class="cal-empty" data-date="2025-01-25" title="2025-01-25: no papers this day"', archive)
    feed = json.loads(read(site / "feed.json"))
    assert not any("2025-01-24" in i["url"] or "2025-01-25" in i["url"] for i in feed["items"])


def test_a_stale_page_of_an_empty_date_is_removed(settings: Settings, site: Path) -> None:
    for rel in ("d/2025-01-24.html", "zh/2025-01-24.html", "d/2025-01-25.html"):
        (site / rel).write_text("an empty page from an older render", encoding="utf-8")
    write_store(Path(settings.data_dir, "days"), [_empty_day("2025-01-24", "2025-01-24T03:00"),
                                    _empty_day("2025-01-25", "2025-01-25T03:00")])
    written = set(render_for_day(settings, "2025-01-24"))
    assert not (site / "d" / "2025-01-24.html").exists() and not (site / "zh" / "2025-01-24.html").exists()
    assert {"d/2025-01-23.html", "index.html", "archive.html"} <= written  # their links are refreshed
    assert (site / "d" / "2025-01-25.html").exists()  # another date: left to its own run or a full render
    render_site(settings)
    assert not (site / "d" / "2025-01-25.html").exists()


def test_a_month_of_empty_dates_only_is_in_the_archive_without_a_page(settings: Settings) -> None:
    write_store(Path(settings.data_dir, "days"), [_empty_day("2025-02-01", "2025-02-01T03:00")])
    render_site(settings)
    archive = read(Path(settings.site_dir) / "archive.html")
    assert 'datetime="2025-02"' in archive and 'href="m/2025-02.html"' not in archive
    assert not (Path(settings.site_dir) / "m" / "2025-02.html").exists()
