"""The HF daily-papers feed: fetch pages of a day (I/O) and normalize items into `Paper`s (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.errors import FeedError, RetriableError
from tasks.http import raise_if_retriable, session, transport_error
from tasks.log import get_logger
from tasks.models import Paper
from tasks.retrying import retry_if_transient

_WS = re.compile(r"\s+")
# Not text: C0/C1 controls that are not whitespace, zero-width characters and the BOM. Lone surrogates (JSON
# allows "\udcff") cannot even be written as UTF-8: they become U+FFFD.
_JUNK = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u200b\u2060\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
MAX_PAGES = 20  # a day has < 100 papers; more pages means the server ignores paging


class FeedNotJson(RetriableError, FeedError):
    """A 200 whose body is not JSON: a cut transfer or a proxy's page more often than HF's answer, so retried."""


def collapse_ws(text: str | None) -> str:
    """One line of plain text: whitespace runs collapsed, control characters dropped, surrogates replaced."""
    return _WS.sub(" ", _JUNK.sub("", _SURROGATE.sub("\ufffd", text or ""))).strip()


def fetch_page(
    date: str, page: int, *, base_url: str, limit: int, timeout: float, max_wait: float,
    http: requests.Session | None = None,
) -> list[dict[str, Any]]:
    """One page of the feed as raw items. Raises RetriableError or FeedError."""
    url = f"{base_url.rstrip('/')}/api/daily_papers"
    what = f"HF feed {date} page {page}"
    http = http or session()
    try:
        resp = http.get(url, params={"date": date, "limit": limit, "p": page}, timeout=timeout)
    except requests.RequestException as exc:
        raise transport_error(exc, what) from exc
    raise_if_retriable(resp, what, max_wait=max_wait)
    if resp.status_code >= 400:
        detail = collapse_ws(resp.text)[:200]
        raise FeedError(f"{what}: HF rejected the request (HTTP {resp.status_code}): {detail}")
    try:
        body = resp.json()
    except (json.JSONDecodeError, ValueError) as exc:
        raise FeedNotJson(f"{what}: the answer is not JSON ({exc})") from exc
    if not isinstance(body, list):
        raise FeedError(f"{what}: expected a JSON list of papers, got {type(body).__name__}")
    return body


def fetch_day(date: str, fetch: Callable[[int], list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """All raw items of a day: pages 0, 1, … until a short page."""
    items: list[dict[str, Any]] = []
    for page in range(MAX_PAGES):
        batch = fetch(page)
        items.extend(batch)
        if len(batch) < limit:
            return items
    raise FeedError(f"HF feed {date}: more than {MAX_PAGES} full pages; is paging ignored?")


def normalize_items(items: list[Any]) -> tuple[list[Paper], list[str]]:
    """Papers from raw items, in feed order, deduplicated by id; plus one message per rejected item."""
    papers: list[Paper] = []
    problems: list[str] = []
    seen: set[str] = set()
    for rank, item in enumerate(items):
        try:
            paper = normalize_item(item, rank)
        except FeedError as exc:
            problems.append(f"item {rank}: {exc}")
            continue
        if paper.arxiv_id not in seen:
            seen.add(paper.arxiv_id)
            papers.append(paper)
    return papers, problems


def normalize_item(item: Any, rank: int = 0) -> Paper:
    """One feed item (2025 or 2026 shape) as a `Paper`. Raises FeedError on an unusable item."""
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise FeedError("not an object with a 'paper' object")
    p: dict[str, Any] = item["paper"]
    arxiv_id = str(p.get("id") or "").strip()
    if not _ARXIV_ID.match(arxiv_id):
        raise FeedError(f"invalid arXiv id {arxiv_id[:40]!r}")
    title = collapse_ws(_str(p.get("title")) or _str(item.get("title")))
    if not title:
        raise FeedError(f"{arxiv_id}: no title")
    org = p.get("organization") or item.get("organization")
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=collapse_ws(_str(p.get("summary")) or _str(item.get("summary"))),
        authors=_visible_authors(p.get("authors")),
        upvotes=_int(p.get("upvotes")),
        published_at=_date(p.get("publishedAt")),
        submitted_at=_date(p.get("submittedOnDailyAt") or item.get("publishedAt")),
        comments=_int(item.get("numComments")),
        github_repo=_url(p.get("githubRepo")),
        github_stars=_int(p["githubStars"]) if p.get("githubStars") is not None else None,
        project_page=_url(p.get("projectPage")),
        organization=collapse_ws(_str(org.get("fullname") or org.get("name"))) or None
        if isinstance(org, dict) else None,
        thumbnail=_url(item.get("thumbnail")),
        ai_summary=collapse_ws(_str(p.get("ai_summary"))) or None,
        ai_keywords=[collapse_ws(k) for k in _list(p.get("ai_keywords")) if isinstance(k, str) and collapse_ws(k)],
        feed_rank=rank,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999 in JSON is float('inf')
        return 0


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _url(value: Any) -> str | None:
    """Only absolute http(s) URLs are kept: anything else (javascript:, relative) is dropped."""
    if isinstance(value, str) and re.match(r"^https?://[^\s<>\"']+$", value.strip()):
        return value.strip()
    return None


def _visible_authors(authors: Any) -> list[str]:
    if not isinstance(authors, list):
        return []
    names = []
    for a in authors:
        if isinstance(a, dict) and not a.get("hidden") and (name := collapse_ws(_str(a.get("name")))):
            names.append(name)
    return names


# -- Prefect task -------------------------------------------------------------------------------------

@task(name="fetch-feed", task_run_name="feed-{date}", cache_policy=NO_CACHE,
      retries=3, retry_delay_seconds=[2, 4, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)
def fetch_feed(date: str, base_url: str, page_size: int, timeout: float, max_wait: float) -> list[Paper]:
    """The day's papers. Never cached: upvotes and the paper list change during the day."""
    http = session()
    items = fetch_day(
        date,
        lambda page: fetch_page(date, page, base_url=base_url, limit=page_size, timeout=timeout,
                                max_wait=max_wait, http=http),
        page_size,
    )
    papers, problems = normalize_items(items)
    log = get_logger()
    for problem in problems:
        log.warning("feed %s: skipped %s", date, problem)
    log.info("feed %s: %d papers", date, len(papers))
    return papers
