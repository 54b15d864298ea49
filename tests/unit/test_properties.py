"""Property tests for what test_parsing.py does not cover: the feed normalizer on arbitrary JSON-like input,
and the schema-level LLM parsers (`parse_model`, `parse_string_list`) on arbitrary and on wrapped answers."""

from __future__ import annotations

import contextlib
import json
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.errors import FeedError
from tasks.feed import collapse_ws, normalize_item, normalize_items
from tasks.llm.parsing import ParseError, parse_model, parse_string_list
from tasks.llm.schemas import Summary
from tasks.models import DayFile, Paper, PaperRecord

FAST = settings(max_examples=80, deadline=None)

# Any text, including lone surrogates (JSON may carry "\udcff"), controls and format characters.
_odd_chars = st.characters(categories=["Cs", "Cc", "Cf", "Zl", "Zp"]) | st.sampled_from("\x00\x1b\x85\u2028\ufeff")
_any_text = st.text(st.characters(exclude_categories=()) | _odd_chars, max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=12,
)
_strict_json = st.recursive(  # what json.dumps writes as valid JSON: no NaN, no Infinity
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_any_text, inner, max_size=3),
    max_leaves=6,
)
# A field's value: any JSON scalar, or a shallow list / object of them (cheaper to draw than `_json`).
_edge_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -1, 10**40, "7", "1e999"])
_scalar = st.none() | st.booleans() | st.integers() | st.floats() | _edge_numbers | _any_text
_field = _scalar | st.lists(_scalar, max_size=3) | st.dictionaries(_any_text, _scalar, max_size=2)
_ids = st.from_regex(r"\A\d{4}\.\d{4,5}(v\d)?\Z") | st.sampled_from(["cs/0112017", "math.GT/0309136"]) | _field
_urls = st.sampled_from(["https://github.com/a/b", "javascript:alert(1)", " http://x.org/p ", "//x", ""]) | _field


@st.composite
def feed_items(draw: st.DrawFn) -> Any:
    """Feed-shaped items whose every field may hold any JSON value."""
    paper = {
        "id": draw(_ids), "title": draw(_any_text | _field), "summary": draw(_field),
        "authors": draw(st.lists(st.fixed_dictionaries({"name": _any_text | _field, "hidden": _field}), max_size=4)
                        | _field),
        "upvotes": draw(_field), "publishedAt": draw(_field | st.just("2025-01-20T10:00:00.000Z")),
        "githubRepo": draw(_urls), "githubStars": draw(_field), "projectPage": draw(_urls),
        "organization": draw(_field | st.fixed_dictionaries({"fullname": _field, "name": _field})),
        "ai_summary": draw(_field), "ai_keywords": draw(_field),
    }
    keep = draw(st.sets(st.sampled_from(sorted(paper))))
    item = {"paper": {k: v for k, v in paper.items() if k in keep or k in ("id", "title")},
            "numComments": draw(_field), "thumbnail": draw(_urls), "publishedAt": draw(_field)}
    return draw(st.sampled_from([item, item, item, item["paper"], [item]]))


def _is_plain_text(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n" for ch in text)


def _check_papers(papers: list[Paper]) -> None:
    for p in papers:
        assert p.title and p.title == collapse_ws(p.title)
        for text in (p.title, p.abstract, *p.authors, p.organization or "", p.ai_summary or "", *p.ai_keywords):
            assert _is_plain_text(text) and "\n" not in text, repr(text)
        assert p.upvotes >= 0 and p.comments >= 0
        for url in (p.github_repo, p.project_page, p.thumbnail):
            assert url is None or url.startswith(("http://", "https://"))
    # whatever came in, the stored form round-trips through the day file's JSON
    day = DayFile(date="2025-01-20", papers=[PaperRecord(**p.model_dump()) for p in papers])
    assert DayFile.model_validate_json(day.model_dump_json().encode()) == day


@FAST
@given(item=_json | feed_items())
def test_normalize_item_raises_only_feed_error(item: Any) -> None:
    try:
        paper = normalize_item(item)
    except FeedError:
        return
    _check_papers([paper])


@settings(max_examples=50, deadline=None)
@given(items=st.lists(feed_items() | _json, max_size=3))
def test_normalize_items_never_raises_and_accounts_for_every_item(items: list[Any]) -> None:
    papers, problems = normalize_items(items)
    ids = [p.arxiv_id for p in papers]
    assert len(ids) == len(set(ids))
    assert len(papers) + len(problems) <= len(items)  # duplicates are dropped silently, the rest reported
    assert [p.feed_rank for p in papers] == sorted(p.feed_rank for p in papers)
    _check_papers(papers)


_word = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cf", "Zs", "Zl", "Zp")),
                min_size=1, max_size=12)
_name = st.lists(_word, min_size=1, max_size=4).map(" ".join)


@FAST
@given(title=_name, abstract=st.lists(_word, max_size=8).map(" ".join), upvotes=st.integers(0, 10**6),
       authors=st.lists(st.tuples(_name, st.booleans()), max_size=6), arxiv_id=st.from_regex(r"\A\d{4}\.\d{5}\Z"),
       pad=st.sampled_from(["", " ", "\n", "\t  "]))
def test_normalize_item_round_trips_feed_facts(
    title: str, abstract: str, upvotes: int, authors: list[tuple[str, bool]], arxiv_id: str, pad: str
) -> None:
    item = {"paper": {"id": arxiv_id, "title": pad + title.replace(" ", pad + " ") + pad, "summary": abstract,
                      "upvotes": upvotes, "authors": [{"name": n, "hidden": h} for n, h in authors]}}
    p = normalize_item(item)
    assert (p.arxiv_id, p.title, p.abstract, p.upvotes) == (arxiv_id, title, abstract, upvotes)
    assert p.authors == [n for n, hidden in authors if not hidden]


# ---- LLM answers at the schema level ------------------------------------------------------------------------

_prose = st.text(alphabet="abcdefghij XYZ.,:;!?-'\n0123456789", max_size=40)
_wrap = st.sampled_from(["{}", "```json\n{}\n```", "```\n{}\n```", "Here it is: {} - done", "{}\n\nHope this helps"])
_sentence = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp")),
                    min_size=25, max_size=120).filter(lambda s: len(s.strip()) >= 25)


@FAST
@given(value=_json, wrap=_wrap)
def test_parsers_raise_only_parse_error_on_any_json_value(value: Any, wrap: str) -> None:
    text = wrap.replace("{}", json.dumps(value))
    with contextlib.suppress(ParseError):
        items = parse_string_list(text)
        assert all(isinstance(i, str) and i and _is_plain_text(i) for i in items)
    with contextlib.suppress(ParseError):
        assert isinstance(parse_model(text, Summary), Summary)


@FAST
@given(text=_any_text | st.text(alphabet='{}[]"\':,` \ntitledesc', max_size=60))
def test_parsers_raise_only_parse_error_on_any_text(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_string_list(text)
    with contextlib.suppress(ParseError):
        parse_model(text, Summary)


@FAST
@given(title=_sentence, desc=_sentence, extra=st.dictionaries(st.sampled_from(["html", "note", "x"]), _strict_json),
       before=_prose, after=_prose, wrap=_wrap, ascii_only=st.booleans())
def test_parse_model_round_trips_a_wrapped_object(
    title: str, desc: str, extra: dict[str, Any], before: str, after: str, wrap: str, ascii_only: bool
) -> None:
    payload = json.dumps({"title": title, "desc": desc, **extra}, ensure_ascii=ascii_only)
    answer = f"{before}\n{wrap.replace('{}', payload)}\n{after}"
    got = parse_model(answer, Summary)
    assert got.title == unicodedata.normalize("NFC", title).strip()
    assert got.desc == unicodedata.normalize("NFC", desc).strip()
    assert set(got.model_dump()) == {"title", "desc"}  # keys outside the schema never come through
