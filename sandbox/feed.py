"""The HF daily-papers feed: synthetic items in the newer HF shape, recorded files, paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sandbox.synth import SynthPaper, papers_for_date, parse_date, stable_hash


def _oid(*parts: object) -> str:
    return f"{stable_hash('oid', *parts):016x}{stable_hash('oid2', *parts) % 2**32:08x}"


def feed_item(p: SynthPaper, thumb_base: str) -> dict[str, Any]:
    """One feed item shaped like the newer real HF API answer."""
    org = (
        {"_id": _oid("org", p.organization[0]), "name": p.organization[0], "fullname": p.organization[1]}
        if p.organization
        else None
    )
    paper: dict[str, Any] = {
        "id": p.arxiv_id,
        "authors": [
            {"_id": _oid(p.arxiv_id, i), "name": name, "hidden": i == p.hidden_author}
            for i, name in enumerate(p.authors)
        ],
        "publishedAt": p.published_at,
        "submittedOnDailyAt": p.submitted_at,
        "title": p.title,
        "summary": p.abstract,
        "upvotes": p.upvotes,
        "discussionId": _oid("discussion", p.arxiv_id),
        "ai_summary": p.ai_summary,
        "ai_keywords": list(p.ai_keywords),
    }
    if p.project_page:
        paper["projectPage"] = p.project_page
    if p.github_repo:
        paper["githubRepo"] = p.github_repo
        paper["githubStars"] = p.github_stars
    if org:
        paper["organization"] = org
    item: dict[str, Any] = {
        "paper": paper,
        "publishedAt": p.published_at.replace("T00:00:00.000Z", "T20:00:00.000Z"),
        "title": p.title,
        "summary": p.abstract,
        "thumbnail": f"{thumb_base}/thumbnails/{p.arxiv_id}.png",
        "numComments": p.num_comments,
        "isAuthorParticipating": False,
    }
    if org:
        item["organization"] = org
    return item


def is_future(date: str) -> bool:
    day = parse_date(date)
    return day is not None and day > datetime.now(UTC).date()


def is_weekend(date: str) -> bool:
    """HF lists no papers on Saturdays and Sundays; the synthetic feed does the same."""
    day = parse_date(date)
    return day is not None and day.weekday() >= 5


def synthetic_items(date: str, count: int, thumb_base: str) -> list[dict[str, Any]]:
    if is_future(date) or is_weekend(date):
        return []
    return [feed_item(p, thumb_base) for p in papers_for_date(date, count)]


def recorded_items(recorded_dir: Path, date: str) -> list[dict[str, Any]]:
    path = recorded_dir / f"{date}.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else []


@lru_cache(maxsize=8)
def recorded_index(recorded_dir: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """arXiv id → (title, author names) over all recorded days (PDFs then carry the feed's title)."""
    index: dict[str, tuple[str, tuple[str, ...]]] = {}
    for path in sorted(recorded_dir.glob("*.json")):
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for item in items if isinstance(items, list) else []:
            paper = item.get("paper") or {} if isinstance(item, dict) else {}
            pid = paper.get("id")
            if isinstance(pid, str):
                names = tuple(a.get("name", "") for a in paper.get("authors") or [] if isinstance(a, dict))
                index[pid] = (str(paper.get("title") or ""), tuple(n for n in names if n))
    return index


def page(items: list[Any], limit: int, p: int) -> list[Any]:
    if limit <= 0 or p < 0:
        return []
    return items[p * limit : (p + 1) * limit]
