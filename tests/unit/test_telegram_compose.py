"""The Telegram post's text: exact composition, hostile titles escaped, split below the limit on line boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.telegram import ParseError, parse_html
from tasks.models import DayFile, Localized, PaperRecord, StepState
from tasks.steps import paper_steps
from tasks.telegram.compose import FALLBACK_EMOJI, LIMIT, post_lines, split, top_papers, units
from tasks.telegram.publish import work_left

URL = "https://digest.example.com/d/2025-01-23.html"


def _paper(i: int, upvotes: int, *, title: str | None = None, emoji: str | None = "🔥", **kw) -> PaperRecord:
    return PaperRecord(arxiv_id=f"2501.{i:05d}", title=f"Feed title {i}", upvotes=upvotes, feed_rank=i, emoji=emoji,
                       ru=Localized(title=title or f"Заголовок {i}", desc="…"),
                       en=Localized(title=f"English {i}", desc="…"), **kw)


def _day(*papers: PaperRecord) -> DayFile:
    return DayFile(date="2025-01-23", papers=list(papers))


def test_the_post_is_the_date_the_top_papers_by_upvotes_and_the_day_link() -> None:
    day = _day(_paper(0, 5), _paper(1, 40, emoji="🧠"), _paper(2, 40), _paper(3, 1),
               _paper(4, 99, vanished_at=datetime(2025, 1, 24, tzinfo=UTC)))
    assert post_lines(day, "ru", 3, URL) == [
        "<b>Статьи дня на Hugging Face · 2025-01-23</b>",
        "",
        "🧠 Заголовок 1 · 👍 40",  # ties in HF's order; the vanished paper (99 upvotes) is not the date's any more
        "🔥 Заголовок 2 · 👍 40",
        "🔥 Заголовок 0 · 👍 5",
        "",
        f'<a href="{URL}">Все статьи дня (4)</a>',
    ]
    assert post_lines(day, "en", 1, URL) == [
        "<b>Hugging Face daily papers · 2025-01-23</b>", "", "🧠 English 1 · 👍 40", "",
        f'<a href="{URL}">All papers of the day (4)</a>']
    # No zh title yet: the feed's title stands in.
    assert post_lines(day, "zh", 1, URL)[2] == "🧠 Feed title 1 · 👍 40"
    assert post_lines(day, "zh", 1, URL)[-1] == f'<a href="{URL}">当天全部论文（4 篇）</a>'


HOSTILE = [
    '<script>alert(1)</script> & <b>bold</b>',
    'a < b && c > d; &amp; is not &lt;',
    '</a><a href="https://evil.example">click</a>',
    "line\nbreak\r\u2028and\ttab",
    "\u202eevil override\u202c and zero\u200bwidth",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_are_escaped_and_parse_back_to_the_text(title: str) -> None:
    day = _day(_paper(0, 3, title=title, emoji="<i>"))
    text = "\n".join(post_lines(day, "ru", 10, URL))
    plain, entities = parse_html(text)  # the sandbox parses it as Telegram does: no error
    line = plain.splitlines()[2]
    assert line.startswith(f"{FALLBACK_EMOJI} ")  # an "emoji" with markup is not an emoji
    flat = " ".join(title.replace("\u2028", " ").split()).replace("\u202e", "").replace("\u202c", "") \
        .replace("\u200b", "")
    assert line == f"{FALLBACK_EMOJI} {flat} · 👍 3"
    assert [e["type"] for e in entities] == ["bold", "text_link"]  # only the post's own markup
    assert entities[1]["url"] == URL


def test_a_title_is_cut_to_one_short_line() -> None:
    day = _day(_paper(0, 1, title="x" * 1000))
    line = post_lines(day, "ru", 10, URL)[2]
    assert line == f"🔥 {'x' * 199}… · 👍 1"


def test_the_link_is_escaped_for_its_attribute() -> None:
    lines = post_lines(_day(_paper(0, 1)), "en", 10, 'https://x.example/d/1.html?a=1&b="2"')
    assert lines[-1].startswith('<a href="https://x.example/d/1.html?a=1&amp;b=&quot;2&quot;">')
    assert parse_html(lines[-1])[1][0]["url"] == 'https://x.example/d/1.html?a=1&b="2"'


def test_a_short_post_is_one_message_and_a_long_one_is_cut_between_lines_below_the_limit() -> None:
    short = post_lines(_day(*(_paper(i, i) for i in range(10))), "ru", 10, URL)
    assert split(short) == ["\n".join(short)]
    papers = [_paper(i, 1000 - i, title=f"{i:03d} " + "Очень длинный заголовок статьи & <теги> " * 5)
              for i in range(100)]
    lines = post_lines(_day(*papers), "ru", 100, URL)
    parts = split(lines)
    assert len(parts) >= 3 and all(units(p) <= LIMIT for p in parts)
    assert all(len(parse_html(p)[0].encode("utf-16-le")) // 2 <= 4096 for p in parts)
    rejoined = [line for p in parts for line in p.split("\n") if line]
    assert rejoined == [line for line in lines if line]  # every line once, in order; no blank edges
    for p in parts:  # no part starts or ends with a blank line, and each one parses alone
        assert p.strip() == p and parse_html(p)


def test_split_counts_utf16_units_as_telegram_does() -> None:
    lines = ["😀" * 1500, "😀" * 1500]  # 3,000 units each: 6,001 together
    assert split(lines) == lines


def test_split_keeps_at_least_as_many_messages_as_a_post_has() -> None:
    lines = ["header", "", "one", "two", "three", "", "link"]
    assert split(lines, at_least=3) == ["header\n\none", "two\nthree", "link"]
    assert split(lines, at_least=1) == ["\n".join(lines)]
    assert split(["only"], at_least=3) == ["only"]  # fewer lines than messages: the caller fills the rest


def test_top_papers_is_capped_and_ordered() -> None:
    day = _day(*(_paper(i, i % 7) for i in range(20)))
    top = top_papers(day, 10)
    assert len(top) == 10 and [p.upvotes for p in top] == sorted((p.upvotes for p in top), reverse=True)


def test_a_day_waits_for_steps_not_run_but_not_for_lasting_failures() -> None:
    done = {s.name: StepState(status="ok") for s in paper_steps()}
    day = _day(_paper(0, 1, steps=dict(done)), _paper(1, 1, steps={}))
    day.steps["zh_reading"] = StepState(status="ok")
    assert work_left(day) == len(done)  # paper 1 has run nothing yet
    day.papers[1].steps = {**done, "pdf": StepState(status="error", error="HTTP 404")}
    del day.papers[1].steps["affiliations"], day.papers[1].steps["image"]  # they wait for the PDF, which failed
    assert work_left(day) == 0
    day.papers[1].steps["summary_zh"] = StepState(status="deferred", error="budget")
    assert work_left(day) == 1  # stopped at the budget: the next run does it


def test_the_sandbox_refuses_what_telegram_refuses() -> None:
    for bad in ("a < b", "a & b", "<foo>x</foo>", "<b>x", "<b>x</i>", "<br/>"):
        with pytest.raises(ParseError):
            parse_html(bad)
    assert parse_html("&lt;&#60;&#x3c;&quot;&amp; ok >") == ('<<<"& ok >', [])
