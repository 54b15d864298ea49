"""The text of a day's Telegram post, in Telegram's HTML parse mode, split into messages.

Pure functions: what a channel reads is decided here and tested without Telegram. Titles and emoji come from LLM
answers and HF's feed, so they are untrusted: flattened to one line, stripped of control and direction-override
characters, shortened, and escaped (HTML mode needs only `<`, `>` and `&` escaped in text; the link's URL is
escaped for an attribute too).
"""

from __future__ import annotations

import html
import unicodedata

from tasks.models import DayFile, PaperRecord

# Telegram refuses a message longer than 4,096 characters (UTF-16 code units) of text after its markup is parsed.
# Counting the HTML source instead, which is never shorter, keeps every message below the limit with room to spare.
LIMIT = 4000
TITLE_MAX = 200  # characters of a title kept on its line
FALLBACK_EMOJI = "📄"
FILLER = "…"  # the text of a message left over when an edited post needs fewer (see `split`)

HEADER = {
    "ru": "Статьи дня на Hugging Face · {date}",
    "en": "Hugging Face daily papers · {date}",
    "zh": "Hugging Face 每日论文 · {date}",
}
ALL_PAPERS = {
    "ru": "Все статьи дня ({n})",
    "en": "All papers of the day ({n})",
    "zh": "当天全部论文（{n} 篇）",
}


def escape(text: str) -> str:
    """Text for Telegram's HTML mode: `&`, `<` and `>` as entities (quotes may stay)."""
    return html.escape(text, quote=False)


def one_line(text: str, limit: int = TITLE_MAX) -> str:
    """`text` on one line, without control or format characters (except the joiner emoji are built with)."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in text
        if unicodedata.category(c) != "Cf" or c == "\u200d"
    )
    flat = " ".join(kept.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def emoji_of(paper: PaperRecord) -> str:
    """The review's emoji when it looks like one (short, no letters, digits or spaces), else a page."""
    value = (paper.emoji or "").strip()
    if value and len(value) <= 8 and not any(c.isalnum() or c.isspace() or c in "<>&" for c in value) \
            and all(unicodedata.category(c) not in ("Cc", "Cf") or c == "\u200d" for c in value):
        return value
    return FALLBACK_EMOJI


def title_of(paper: PaperRecord, lang: str) -> str:
    """The title in the channel's language (the review steps' `ru`/`en`/`zh`), else the feed's."""
    localized = getattr(paper, lang, None)
    title = getattr(localized, "title", "") or ""
    return one_line(title) or one_line(paper.title) or paper.arxiv_id


def top_papers(day: DayFile, top: int) -> list[PaperRecord]:
    """The `top` most upvoted papers still in the date's feed (ties: HF's order)."""
    live = [p for p in day.papers if p.vanished_at is None] or day.papers
    return sorted(live, key=lambda p: (-p.upvotes, p.feed_rank))[:top]


def paper_line(paper: PaperRecord, lang: str) -> str:
    return f"{emoji_of(paper)} {escape(title_of(paper, lang))} · 👍 {paper.upvotes}"


def post_lines(day: DayFile, lang: str, top: int, page_url: str) -> list[str]:
    """The post, one entry a line: the date, the top papers, the link to the day page."""
    live = [p for p in day.papers if p.vanished_at is None] or day.papers
    link = f'<a href="{html.escape(page_url, quote=True)}">{escape(ALL_PAPERS[lang].format(n=len(live)))}</a>'
    return [
        f"<b>{escape(HEADER[lang].format(date=day.date))}</b>",
        "",
        *(paper_line(p, lang) for p in top_papers(day, top)),
        "",
        link,
    ]


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def split(lines: list[str], limit: int = LIMIT, at_least: int = 1) -> list[str]:
    """The lines joined into as few messages as fit below `limit`, cut only between lines; at least `at_least`
    messages when there are lines enough.

    `at_least` is for an edited post: a message once sent cannot be taken back with an edit, so when the new text
    would fit in fewer messages than the post already has, the largest messages are cut in two (between lines)
    until every existing message has a part of the text. Blank lines are not carried over a cut.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        extra = units(line) + (1 if current else 0)
        if current and size + extra > limit:
            groups.append(current)
            current, extra = [], units(line)
            size = 0
        current.append(line)
        size += extra
    groups.append(current)
    groups = [g for g in (_trim(g) for g in groups) if g]
    while len(groups) < at_least:
        cuttable = [i for i, g in enumerate(groups) if len(g) > 1]
        if not cuttable:
            break  # fewer lines than messages: the caller fills the rest (FILLER)
        i = max(cuttable, key=lambda j: units("\n".join(groups[j])))
        parts = _halves(groups[i])
        if len(parts) < 2:
            break
        groups[i:i + 1] = parts
    return ["\n".join(g) for g in groups]


def _trim(group: list[str]) -> list[str]:
    start, end = 0, len(group)
    while start < end and not group[start].strip():
        start += 1
    while end > start and not group[end - 1].strip():
        end -= 1
    return group[start:end]


def _halves(group: list[str]) -> list[list[str]]:
    """The group cut at the line boundary nearest its middle (both halves non-empty after trimming)."""
    total = units("\n".join(group))
    best, best_gap = 1, None
    running = 0
    for k in range(1, len(group)):
        running += units(group[k - 1]) + 1
        left, right = _trim(group[:k]), _trim(group[k:])
        if not left or not right:
            continue
        gap = abs(total - 2 * running)
        if best_gap is None or gap < best_gap:
            best, best_gap = k, gap
    if best_gap is None:  # only blank lines on one side of every cut
        return [group]
    return [_trim(group[:best]), _trim(group[best:])]
