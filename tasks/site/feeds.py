"""Atom and JSON Feed 1.1 of the latest days' papers, with absolute links built from `site_url`.

Built with ElementTree / json rather than templates so that escaping and well-formedness come for free.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, time
from typing import Any

from markupsafe import Markup

from tasks.models import DayFile, PaperRecord
from tasks.site.views import emoji, localized, paper_links, tag_label, unique

FEED_DAYS = 7  # the feed holds the papers of this many latest stored days
FEED_LANG = "en"
ATOM_NS = "http://www.w3.org/2005/Atom"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_TITLE = "HF Daily Papers"
FEED_AUTHORS_SHOWN = 10


def feed_days(days: dict[str, DayFile]) -> list[DayFile]:
    """The latest FEED_DAYS days, newest first."""
    return [days[d] for d in sorted(days, reverse=True)[:FEED_DAYS]]


def absolute(site_url: str, path: str) -> str:
    """`path` under the public base URL; relative when no base is configured (feeds then need xml:base)."""
    return f"{site_url.rstrip('/')}/{path}" if site_url else path


def day_time(day: DayFile) -> datetime:
    """When the day's content last changed: its last finished run, else the start of the day (UTC)."""
    return day.updated_at or datetime.combine(datetime.fromisoformat(day.date).date(), time(), tzinfo=UTC)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # stored timestamps are UTC; tolerate naive ones from older files
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _entries(days: list[DayFile]) -> list[tuple[DayFile, PaperRecord]]:
    """Papers of the feed's days, newest day first, each paper once (at its latest day)."""
    seen: set[str] = set()
    out = []
    for day in days:
        for paper in sorted(day.papers, key=lambda p: (-p.upvotes, p.feed_rank)):
            if paper.arxiv_id not in seen:
                seen.add(paper.arxiv_id)
                out.append((day, paper))
    return out


def _texts(paper: PaperRecord) -> tuple[str, str]:
    loc = localized(paper, FEED_LANG)
    title = f"{emoji(paper)} {loc.title if loc else paper.title}"
    return title, loc.desc if loc else paper.abstract


def _content_html(paper: PaperRecord, desc: str) -> str:
    labels = {"link_hf": "Hugging Face", "link_arxiv": "arXiv", "link_pdf": "PDF", "link_code": "Code",
              "link_project": "Project page"}
    links = Markup(" · ").join(
        Markup('<a href="{}">{}</a>').format(link.url, labels[link.key]) for link in paper_links(paper)
    )
    parts = [Markup("<p>{}</p>").format(desc), Markup("<p><i>{}</i></p>").format(paper.title)]
    if paper.affiliations:
        parts.append(Markup("<p>{}</p>").format("; ".join(unique(paper.affiliations))))
    parts.append(Markup("<p>{}</p>").format(links))
    return str(Markup("\n").join(parts))


def _entry_url(site_url: str, day: DayFile, paper: PaperRecord) -> str:
    return absolute(site_url, f"d/{day.date}.html#p-{paper.arxiv_id}")


def atom_feed(days: dict[str, DayFile], site_url: str) -> bytes:
    latest = feed_days(days)
    ET.register_namespace("", ATOM_NS)
    q = f"{{{ATOM_NS}}}"
    root = ET.Element(q + "feed", {"{http://www.w3.org/XML/1998/namespace}lang": FEED_LANG})
    ET.SubElement(root, q + "id").text = absolute(site_url, "feed.xml") if site_url else "urn:hfdaily:feed"
    ET.SubElement(root, q + "title").text = FEED_TITLE
    ET.SubElement(root, q + "subtitle").text = "Hugging Face Daily Papers, summarized every day"
    updated = max((day_time(d) for d in latest), default=datetime(1970, 1, 1, tzinfo=UTC))
    ET.SubElement(root, q + "updated").text = _utc(updated)
    ET.SubElement(root, q + "link", rel="self", type="application/atom+xml",
                  href=absolute(site_url, "feed.xml"))
    ET.SubElement(root, q + "link", rel="alternate", type="text/html", href=absolute(site_url, "index.html"))
    ET.SubElement(ET.SubElement(root, q + "author"), q + "name").text = "hfdaily"
    ET.SubElement(root, q + "generator").text = "hfdaily"
    for day, paper in _entries(latest):
        title, desc = _texts(paper)
        entry = ET.SubElement(root, q + "entry")
        # The arXiv URL is the paper's stable identity, so a paper listed again later is not a new entry.
        ET.SubElement(entry, q + "id").text = paper.arxiv_url
        ET.SubElement(entry, q + "title").text = title
        ET.SubElement(entry, q + "updated").text = _utc(day_time(day))
        if paper.published_at:
            ET.SubElement(entry, q + "published").text = _utc(paper.published_at)
        ET.SubElement(entry, q + "link", rel="alternate", type="text/html",
                      href=_entry_url(site_url, day, paper))
        ET.SubElement(entry, q + "link", rel="related", href=paper.arxiv_url)
        for name in unique(paper.authors)[:FEED_AUTHORS_SHOWN] or ["unknown"]:
            ET.SubElement(ET.SubElement(entry, q + "author"), q + "name").text = name
        for tag in unique(paper.topics):
            ET.SubElement(entry, q + "category", term=tag, label=tag_label(tag))
        ET.SubElement(entry, q + "summary").text = desc
        ET.SubElement(entry, q + "content", type="html").text = _content_html(paper, desc)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def json_feed(days: dict[str, DayFile], site_url: str) -> bytes:
    latest = feed_days(days)
    items: list[dict[str, Any]] = []
    for day, paper in _entries(latest):
        title, desc = _texts(paper)
        item: dict[str, Any] = {
            "id": paper.arxiv_url,
            "url": _entry_url(site_url, day, paper),
            "external_url": paper.arxiv_url,
            "title": title,
            "content_text": desc,
            "content_html": _content_html(paper, desc),
            "summary": desc,
            "date_modified": _utc(day_time(day)),
            "tags": unique(paper.topics),
            "authors": [{"name": n} for n in unique(paper.authors)[:FEED_AUTHORS_SHOWN]],
        }
        if paper.published_at:
            item["date_published"] = _utc(paper.published_at)
        items.append(item)
    feed: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": FEED_TITLE,
        "home_page_url": absolute(site_url, "index.html"),
        "feed_url": absolute(site_url, "feed.json"),
        "description": "Hugging Face Daily Papers, summarized every day",
        "language": FEED_LANG,
        "items": items,
    }
    return (json.dumps(feed, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
