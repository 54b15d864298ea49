"""Atom and JSON Feed 1.1 of the latest papers: one pair per language (ru, en, zh) and one per topic and language,
with absolute links built from `site_url`.

Atom is written as text with every value escaped (tasks/site/xml_text.py), JSON Feed with json: not templates. Only
published days (with papers) are passed in: an empty date never becomes an entry or moves `updated`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from markupsafe import escape

from tasks.models import DayFile, PaperRecord
from tasks.site.i18n import LANGS
from tasks.site.views import emoji, localized, paper_links, tag_label, unique
from tasks.site.xml_text import xml_attr, xml_text

FEED_DAYS = 7  # a language feed holds the papers of this many latest published days
TOPIC_FEED_DAYS = 30  # a topic is rarer: its feed looks back further ...
TOPIC_FEED_ITEMS = 50  # ... and keeps at most this many papers
FEED_LANG = "en"  # the language of the legacy feed.xml / feed.json
ATOM_NS = "http://www.w3.org/2005/Atom"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
FEED_AUTHORS_SHOWN = 10

TITLES = {"en": "HF Daily Papers", "ru": "HF Daily Papers — на русском", "zh": "HF 每日论文"}
SUBTITLES = {
    "en": "Hugging Face Daily Papers, summarized every day",
    "ru": "Статьи дня с Hugging Face, кратко и по-русски",
    "zh": "Hugging Face 每日论文，每天中文摘要",
}
LINK_LABELS = {
    "en": {"link_hf": "Hugging Face", "link_arxiv": "arXiv", "link_pdf": "PDF", "link_code": "Code",
           "link_project": "Project page"},
    "ru": {"link_hf": "Hugging Face", "link_arxiv": "arXiv", "link_pdf": "PDF", "link_code": "Код",
           "link_project": "Страница проекта"},
    "zh": {"link_hf": "Hugging Face", "link_arxiv": "arXiv", "link_pdf": "PDF", "link_code": "代码",
           "link_project": "项目主页"},
}


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed: its language, its topic (None: every paper) and where its two files go under the site."""

    lang: str
    topic: str | None = None
    atom_path: str = ""
    json_path: str = ""

    @property
    def title(self) -> str:
        return TITLES[self.lang] + (f" · {tag_label(self.topic)}" if self.topic else "")


def topic_slug(topic: str) -> str:
    """A file-name-safe, unique name for a topic: `LONG_CONTEXT` → `long-context`. A topic that needed more than
    lower-casing and `_` → `-` (LLM text, after all) gets a hash suffix so two topics never share a file."""
    plain = topic.strip().lower().replace("_", "-")
    slug = re.sub(r"[^a-z0-9-]+", "-", plain).strip("-")[:40]
    if slug != plain or not slug:
        slug = f"{slug}-{hashlib.sha1(topic.encode()).hexdigest()[:8]}".lstrip("-")
    return slug


def language_feed(lang: str) -> Feed:
    return Feed(lang, None, f"feeds/{lang}.xml", f"feeds/{lang}.json")


def topic_feed(topic: str, lang: str) -> Feed:
    slug = topic_slug(topic)
    return Feed(lang, topic, f"feeds/topic-{slug}.{lang}.xml", f"feeds/topic-{slug}.{lang}.json")


LEGACY = Feed(FEED_LANG, None, "feed.xml", "feed.json")


def all_feeds(topics: list[str]) -> list[Feed]:
    """The language feeds, then every topic in every language."""
    return [language_feed(lang) for lang in LANGS] + [topic_feed(t, lang) for t in topics for lang in LANGS]


def feed_days(days: dict[str, DayFile], count: int = FEED_DAYS) -> list[DayFile]:
    """The latest `count` days, newest first."""
    return [days[d] for d in sorted(days, reverse=True)[:count]]


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


Entries = list[tuple[DayFile, PaperRecord]]


def entries(days: dict[str, DayFile], topic: str | None = None) -> Entries:
    """Papers of the feed's days, newest day first, each paper once (at its latest day); the same for every
    language, so a caller building several feeds of one topic computes it once."""
    latest = feed_days(days, TOPIC_FEED_DAYS if topic else FEED_DAYS)
    seen: set[str] = set()
    out = []
    for day in latest:
        for paper in sorted(day.papers, key=lambda p: (-p.upvotes, p.feed_rank)):
            if paper.arxiv_id in seen or (topic and topic not in unique(paper.topics)):
                continue
            seen.add(paper.arxiv_id)
            out.append((day, paper))
    return out[:TOPIC_FEED_ITEMS] if topic else out


def _texts(paper: PaperRecord, lang: str) -> tuple[str, str]:
    loc = localized(paper, lang)
    title = f"{emoji(paper)} {loc.title if loc else paper.title}"
    return title, loc.desc if loc else paper.abstract


def _content_html(paper: PaperRecord, desc: str, lang: str) -> str:
    # Every value through escape(); f-strings, since Markup.format runs Python's slow string.Formatter.
    labels = LINK_LABELS[lang]
    links = " · ".join(f'<a href="{escape(link.url)}">{escape(labels[link.key])}</a>' for link in paper_links(paper))
    parts = [f"<p>{escape(desc)}</p>", f"<p><i>{escape(paper.title)}</i></p>"]
    if paper.affiliations:
        parts.append(f"<p>{escape('; '.join(unique(paper.affiliations)))}</p>")
    parts.append(f"<p>{links}</p>")
    return "\n".join(parts)


Memo = dict[tuple[int, str], tuple[str, str, str]]


def _entry_texts(paper: PaperRecord, lang: str, memo: Memo | None) -> tuple[str, str, str]:
    """Title, description and HTML content of a paper's entry. They are the same in its language feed, its topic
    feeds and both formats: a caller building many feeds passes one `memo` (keyed by the record object, alive and
    unchanged for the whole render) so each is built once."""
    memo = {} if memo is None else memo
    k = (id(paper), lang)
    if k not in memo:
        title, desc = _texts(paper, lang)
        memo[k] = (title, desc, _content_html(paper, desc, lang))
    return memo[k]


def _entry_url(site_url: str, day: DayFile, paper: PaperRecord, lang: str) -> str:
    query = "" if lang == FEED_LANG else f"?lang={lang}"
    return absolute(site_url, f"d/{day.date}.html{query}#p-{paper.arxiv_id}")


def _home(site_url: str, lang: str) -> str:
    return absolute(site_url, "index.html" if lang == FEED_LANG else f"index.html?lang={lang}")


def _atom_entry(site_url: str, day: DayFile, paper: PaperRecord, lang: str, memo: Memo | None) -> str:
    title, desc, html = _entry_texts(paper, lang, memo)
    # The arXiv URL is the paper's stable identity, so a paper listed again later is not a new entry.
    lines = [f"<id>{xml_text(paper.arxiv_url)}</id>", f"<title>{xml_text(title)}</title>",
             f"<updated>{_utc(day_time(day))}</updated>"]
    if paper.published_at:
        lines.append(f"<published>{_utc(paper.published_at)}</published>")
    lines += [f'<link rel="alternate" type="text/html" href="{xml_attr(_entry_url(site_url, day, paper, lang))}" />',
              f'<link rel="related" href="{xml_attr(paper.arxiv_url)}" />']
    lines += [f"<author><name>{xml_text(name)}</name></author>"
              for name in unique(paper.authors)[:FEED_AUTHORS_SHOWN] or ["unknown"]]
    lines += [f'<category term="{xml_attr(tag)}" label="{xml_attr(tag_label(tag))}" />' for tag in unique(paper.topics)]
    lines += [f"<summary>{xml_text(desc)}</summary>", f'<content type="html">{xml_text(html)}</content>']
    return "  <entry>\n" + "".join(f"    {line}\n" for line in lines) + "  </entry>\n"


def atom_feed(days: dict[str, DayFile], site_url: str, feed: Feed = LEGACY, items: Entries | None = None,
              memo: Memo | None = None, entry_memo: dict[tuple[int, str, str], str] | None = None) -> bytes:
    """The feed as Atom 1.0. Written as text (every value through `xml_text`/`xml_attr`): one paper's entry is
    the same in its language feed and each of its topic feeds, so a caller passing `entry_memo` builds it once."""
    items = entries(days, feed.topic) if items is None else items
    updated = max((day_time(d) for d, _ in items), default=None) or max(
        (day_time(d) for d in feed_days(days)), default=datetime(1970, 1, 1, tzinfo=UTC))
    own = absolute(site_url, feed.atom_path)
    head = [f'<id>{xml_text(own if site_url else f"urn:hfdaily:{feed.atom_path}")}</id>',
            f"<title>{xml_text(feed.title)}</title>", f"<subtitle>{xml_text(SUBTITLES[feed.lang])}</subtitle>",
            f"<updated>{_utc(updated)}</updated>",
            f'<link rel="self" type="application/atom+xml" href="{xml_attr(own)}" />',
            f'<link rel="alternate" type="text/html" href="{xml_attr(_home(site_url, feed.lang))}" />',
            "<author><name>hfdaily</name></author>", "<generator>hfdaily</generator>"]
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n",
             f'<feed xmlns="{ATOM_NS}" xml:lang="{xml_attr(feed.lang)}">\n', *(f"  {line}\n" for line in head)]
    built = {} if entry_memo is None else entry_memo
    for day, paper in items:
        k = (id(paper), day.date, feed.lang)
        if k not in built:
            built[k] = _atom_entry(site_url, day, paper, feed.lang, memo)
        parts.append(built[k])
    parts.append("</feed>\n")
    return "".join(parts).encode()


def json_feed(days: dict[str, DayFile], site_url: str, feed: Feed = LEGACY, items: Entries | None = None,
              memo: Memo | None = None) -> bytes:
    out_items: list[dict[str, Any]] = []
    for day, paper in entries(days, feed.topic) if items is None else items:
        title, desc, html = _entry_texts(paper, feed.lang, memo)
        item: dict[str, Any] = {
            "id": paper.arxiv_url,
            "url": _entry_url(site_url, day, paper, feed.lang),
            "external_url": paper.arxiv_url,
            "title": title,
            "content_text": desc,
            "content_html": html,
            "summary": desc,
            "date_modified": _utc(day_time(day)),
            "tags": unique(paper.topics),
            "authors": [{"name": n} for n in unique(paper.authors)[:FEED_AUTHORS_SHOWN]],
            "language": feed.lang,
        }
        if paper.published_at:
            item["date_published"] = _utc(paper.published_at)
        out_items.append(item)
    out: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": feed.title,
        "home_page_url": _home(site_url, feed.lang),
        "feed_url": absolute(site_url, feed.json_path),
        "description": SUBTITLES[feed.lang],
        "language": feed.lang,
        "authors": [{"name": "hfdaily"}],
        "items": out_items,
    }
    return (json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
