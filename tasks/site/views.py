"""What a page shows of a paper: plain view objects built from `PaperRecord`s, and the JSON the page embeds.

Templates only print these fields; every decision (fallbacks, which URLs become links, how many authors
to show) is made here, where it can be unit tested.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tasks.models import DayFile, Localized, PaperRecord
from tasks.site.i18n import DEFAULT_LANG, LANGS, format_date
from tasks.site.safety import safe_url

PLACEHOLDER_EMOJI = "📄"  # for papers whose review step has not succeeded (yet)
AUTHORS_COLLAPSE_OVER = 8  # longer author lists show the first AUTHORS_SHOWN and a "+N more" toggle
AUTHORS_SHOWN = 6
AFFILIATIONS_SHOWN = 10
# An emoji (even a ZWJ sequence or flag) is short and has no letters, digits or markup; anything else the
# LLM returned in that field is replaced by the placeholder rather than printed as a huge "icon".
_EMOJI = re.compile(r"^[^\w\s<>&\"'`]{1,16}$")
# A first-page image is a file of the site, named by a relative path: no scheme, no "..", no query.
_IMAGE_PATH = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}\.(?:png|jpe?g|webp|avif)\Z", re.IGNORECASE)
IMAGE_SIZE = (400, 518)  # width, height used when the record gives none (a portrait page)


@dataclass(frozen=True, slots=True)
class Link:
    key: str  # i18n key of the label
    url: str
    extra: str = ""  # e.g. GitHub stars

    @property
    def css(self) -> str:
        return "link-" + self.key.removeprefix("link_")


@dataclass(frozen=True, slots=True)
class CardImage:
    src: str  # relative to the page (root prefix included)
    alt: str
    width: int
    height: int


@dataclass(slots=True)
class Card:
    id: str
    emoji: str
    title: str
    desc: str
    orig_title: str
    translated: bool  # False: title/desc fell back to the original title/abstract for this language
    upvotes: int
    published: str | None  # ISO date
    published_label: str  # the date as the default language writes it (JS re-formats on switch)
    moved: str | None  # ISO date the paper left the day's feed
    authors: list[str]
    authors_more: list[str]
    affiliations: list[str]
    affiliations_more: int
    tags: list[tuple[str, str]]  # (topic, "#label")
    links: list[Link] = field(default_factory=list)
    hf_url: str | None = None
    day: str | None = None  # the date the card is listed under (the month page links to it)
    image: CardImage | None = None  # the paper's first page, when a step stored one
    page: str | None = None  # the paper's own page (reviews on request), relative to the card's page


def localized(paper: PaperRecord, lang: str) -> Localized | None:
    loc: Localized | None = getattr(paper, lang, None)
    # An empty title or desc is as good as missing: fall back rather than show a blank card.
    return loc if loc is not None and loc.title.strip() and loc.desc.strip() else None


def emoji(paper: PaperRecord) -> str:
    value = (paper.emoji or "").strip()
    return value if _EMOJI.match(value) else PLACEHOLDER_EMOJI


def unique(items: list[str]) -> list[str]:
    """The items stripped, without blanks and repeats, in their order (map/filter: this runs ~80k times a year's
    render)."""
    return list(dict.fromkeys(filter(None, map(str.strip, items))))


def tag_label(tag: str) -> str:
    return "#" + tag.strip().lower()


def short_count(n: int) -> str:
    return f"{n / 1000:.1f}k".replace(".0k", "k") if n >= 1000 else str(n)


def paper_links(paper: PaperRecord) -> list[Link]:
    stars = f"★ {short_count(paper.github_stars)}" if paper.github_stars is not None else ""
    candidates = (("link_hf", paper.hf_url, ""), ("link_arxiv", paper.arxiv_url, ""), ("link_pdf", paper.pdf_url, ""),
                  ("link_code", paper.github_repo, stars), ("link_project", paper.project_page, ""))
    return [Link(key, url, extra) for key, raw, extra in candidates if (url := safe_url(raw))]


def card_image(paper: PaperRecord, root: str = "") -> CardImage | None:
    """The stored first-page image as a lazy <img>, or None.

    The record's `image` is a site-relative path ("img/2501.00001.webp") or an object {"path", "width",
    "height", "alt"}; anything else (a URL, "..", markup) shows no image rather than a surprising one."""
    raw = (paper.model_extra or {}).get("image")
    info = raw if isinstance(raw, dict) else {"path": raw}
    path = info.get("path") or info.get("src")
    if not isinstance(path, str) or not _IMAGE_PATH.match(path):
        return None
    try:
        width, height = int(info.get("width") or IMAGE_SIZE[0]), int(info.get("height") or IMAGE_SIZE[1])
    except (TypeError, ValueError):
        width, height = IMAGE_SIZE
    if not (0 < width <= 4000 and 0 < height <= 4000):
        width, height = IMAGE_SIZE
    alt = info.get("alt") if isinstance(info.get("alt"), str) else f"First page of {paper.title}"
    return CardImage(root + path, alt[:300], width, height)


def card_view(paper: PaperRecord, lang: str = DEFAULT_LANG, *, day: str | None = None, root: str = "") -> Card:
    loc = localized(paper, lang)
    authors = unique(paper.authors)
    cut = AUTHORS_SHOWN if len(authors) > AUTHORS_COLLAPSE_OVER else len(authors)
    affiliations = unique(paper.affiliations)
    published = paper.published_at.date().isoformat() if paper.published_at else None
    return Card(
        id=paper.arxiv_id,
        emoji=emoji(paper),
        title=loc.title if loc else paper.title,
        desc=loc.desc if loc else paper.abstract,
        orig_title=paper.title,
        translated=loc is not None,
        upvotes=paper.upvotes,
        published=published,
        published_label=format_date(published, "short", lang) if published else "",
        moved=paper.vanished_at.date().isoformat() if paper.vanished_at else None,
        authors=authors[:cut],
        authors_more=authors[cut:],
        affiliations=affiliations[:AFFILIATIONS_SHOWN],
        affiliations_more=max(0, len(affiliations) - AFFILIATIONS_SHOWN),
        tags=[(tag, tag_label(tag)) for tag in unique(paper.topics)],
        links=paper_links(paper),
        hf_url=safe_url(paper.hf_url),
        day=day,
        image=card_image(paper, root),
    )


def default_order(papers: list[PaperRecord]) -> list[PaperRecord]:
    """The order the HTML is written in: most upvoted first, ties in the order HF added them."""
    return sorted(papers, key=lambda p: (-p.upvotes, p.feed_rank))


def texts_payload(paper: PaperRecord, with_desc: bool) -> dict[str, Any]:
    """Per-language texts the browser swaps in; a missing language is simply absent (JS falls back)."""
    out: dict[str, Any] = {"id": paper.arxiv_id, "ot": paper.title, "t": {}}
    if with_desc:
        out["d"] = {}
    for lang in LANGS:
        if loc := localized(paper, lang):
            out["t"][lang] = loc.title
            if with_desc:
                out["d"][lang] = loc.desc
    if with_desc and len(out["d"]) < len(LANGS):
        out["ab"] = paper.abstract  # only needed as the fallback text; keeps pages small otherwise
    return out


def paper_payload(paper: PaperRecord, day: str = "", institutions: list[str] | None = None) -> dict[str, Any]:
    """Everything the day and month pages' script needs to sort, filter, search and translate one card."""
    out = texts_payload(paper, with_desc=True)
    out.update(
        up=paper.upvotes,
        pub=paper.published_at.isoformat() if paper.published_at else None,
        rank=paper.feed_rank,
        day=day,
        tags=unique(paper.topics),
        au=", ".join(unique(paper.authors)),
        af="; ".join(unique(paper.affiliations)),
        inst=institutions or [],
    )
    return out


def day_tag_counts(day: DayFile) -> list[tuple[str, int]]:
    """Topics of the day with how many papers carry each, most frequent first."""
    counts = Counter(tag for p in day.papers for tag in unique(p.topics))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))
