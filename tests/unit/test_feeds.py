"""Feeds per language and per topic: every file parses with a feed parser (Atom) or passes a JSON Feed 1.1 check,
each page links the language feeds with hreflang, and one page lists them all."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tasks.render import render_site
from tasks.settings import Settings
from tasks.site.feeds import atom_feed, language_feed, topic_slug
from tests.site_data import XSS, day_file, paper, small_store, write_store

SITE_URL = "https://papers.example.org/hf"
LANGS = ("ru", "en", "zh")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feeds")
    settings = Settings(data_dir=root / "data", site_dir=root / "site", site_url=SITE_URL)
    write_store(Path(settings.data_dir, "days"), small_store())
    render_site(settings)
    return Path(settings.site_dir)


def _rfc3339(value: str) -> None:
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value), value
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_json_feed(feed: dict[str, Any], feed_url: str) -> None:
    """The JSON Feed 1.1 rules a reader relies on (https://jsonfeed.org/version/1.1)."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert feed["feed_url"] == feed_url and feed["home_page_url"].startswith(SITE_URL + "/")
    assert isinstance(feed["items"], list)
    assert all(isinstance(a, dict) and a.get("name") for a in feed.get("authors", []))
    ids = [item["id"] for item in feed["items"]]
    assert len(ids) == len(set(ids))
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)
        assert item["url"].startswith(SITE_URL + "/d/")
        assert isinstance(item["tags"], list) and all(isinstance(t, str) for t in item["tags"])
        for key in ("date_published", "date_modified"):
            if key in item:
                _rfc3339(item[key])
        assert all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in item.get("authors", []))


def feed_files(site: Path) -> list[Path]:
    return sorted((site / "feeds").iterdir())


def test_every_atom_feed_parses_cleanly(site: Path) -> None:
    atoms = [p for p in feed_files(site) if p.suffix == ".xml"] + [site / "feed.xml"]
    assert len(atoms) == 3 + 3 * 5 + 1  # languages, five topics in three languages, the legacy feed
    for path in atoms:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, (path, parsed.get("bozo_exception"))
        assert parsed.version == "atom10", path
        assert parsed.feed.title and parsed.feed.updated and parsed.entries, path
        rel = str(path.relative_to(site))
        assert parsed.feed.links[0].href == f"{SITE_URL}/{rel}"  # rel=self
        for entry in parsed.entries:
            assert entry.id.startswith("https://arxiv.org/abs/") and entry.link.startswith(f"{SITE_URL}/d/")
            assert entry.title and entry.summary and entry.updated and entry.authors


def test_every_json_feed_passes_the_json_feed_1_1_check(site: Path) -> None:
    jsons = [p for p in feed_files(site) if p.suffix == ".json"] + [site / "feed.json"]
    assert len(jsons) == 19
    for path in jsons:
        check_json_feed(json.loads(path.read_text(encoding="utf-8")), f"{SITE_URL}/{path.relative_to(site)}")


@pytest.mark.parametrize("lang", LANGS)
def test_language_feeds_are_written_in_their_language(site: Path, lang: str) -> None:
    parsed = feedparser.parse((site / "feeds" / f"{lang}.xml").read_bytes())
    assert parsed.feed.language == lang
    alpha = next(e for e in parsed.entries if e.id.endswith("2501.00001"))
    assert alpha.title.endswith(f"{lang.upper()} Alpha agents learn")
    assert alpha.link.endswith(("" if lang == "en" else f"?lang={lang}") + "#p-2501.00001")
    delta = next(e for e in parsed.entries if e.id.endswith("2501.00004"))  # no translation: the original
    assert delta.title.endswith("Delta segmentation")
    feed = json.loads((site / "feeds" / f"{lang}.json").read_text(encoding="utf-8"))
    assert feed["language"] == lang and {i["id"] for i in feed["items"]} == {e.id for e in parsed.entries}


def test_a_topic_feed_holds_only_its_topic(site: Path) -> None:
    parsed = feedparser.parse((site / "feeds" / "topic-math.en.xml").read_bytes())
    assert parsed.feed.title.endswith("#math") and len(parsed.entries) == 5
    assert all("MATH" in [t.term for t in e.tags] for e in parsed.entries)
    rl = json.loads((site / "feeds" / "topic-rl.ru.json").read_text(encoding="utf-8"))
    assert len(rl["items"]) == 6 and all("RL" in i["tags"] for i in rl["items"])
    hostile = topic_slug(f"X{XSS}")
    assert re.fullmatch(r"[a-z0-9-]+", hostile) and (site / "feeds" / f"topic-{hostile}.zh.xml").exists()
    assert topic_slug("LONG_CONTEXT") == "long-context" and topic_slug("Long Context") != topic_slug("long-context")


def test_every_page_links_the_language_feeds_with_hreflang(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 8
    for page in pages:
        head = page.read_text(encoding="utf-8").split("</head>")[0]
        links = re.findall(r'<link rel="alternate" type="([^"]+)" hreflang="(\w+)" title="[^"]+" href="([^"]+)">', head)
        depth = "../" * (len(page.relative_to(site).parts) - 1)
        expected = {(kind, lang, f"{depth}feeds/{lang}.{ext}") for lang in LANGS
                    for kind, ext in (("application/atom+xml", "xml"), ("application/feed+json", "json"))}
        assert set(links) == expected, page


def test_the_feeds_page_lists_every_feed(site: Path) -> None:
    html = (site / "feeds.html").read_text(encoding="utf-8")
    listed = set(re.findall(r'href="(feeds/[^"]+)"', html))
    assert listed == {str(p.relative_to(site)) for p in feed_files(site)}


def test_atom_text_is_escaped_and_drops_what_xml_forbids() -> None:
    hostile = paper("2501.07777", f"Vertical\x0btab{XSS} & \"quotes\"\x1f", topics=['A"<b>'],
                    authors=["Ann\x0c Lee", "Bo & <Co>"], enriched=False)
    day = day_file("2025-01-06", [hostile])
    body = atom_feed({day.date: day}, SITE_URL, language_feed("en"))
    root = ET.fromstring(body)  # a strict parser: any forbidden character or bad escape raises
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entry = root.find("a:entry", ns)
    assert entry is not None
    assert entry.findtext("a:title", namespaces=ns).endswith(f"Verticaltab{XSS} & \"quotes\"")
    assert [a.findtext("a:name", namespaces=ns) for a in entry.findall("a:author", ns)] == ["Ann Lee", "Bo & <Co>"]
    assert entry.find("a:category", ns).get("term") == 'A"<b>'
    assert not feedparser.parse(body).bozo
