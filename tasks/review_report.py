"""What a review run leaves in the Prefect dashboard: one markdown artifact listing the papers, with their pages."""

from __future__ import annotations

import html
import re
from typing import Any

from prefect.artifacts import create_markdown_artifact

from tasks.log import get_logger
from tasks.models import Usage
from tasks.requested import RequestFile, file_name
from tasks.settings import Settings
from tasks.steps import paper_steps, pending

ARTIFACT_KEY = "hfdaily-review"  # one key: every review run adds a version, the Artifacts page keeps the history
_MARKDOWN = re.compile(r"([\\`*_{}\[\]|#])")


def page_key(arxiv_id: str) -> str:
    return f"u/{file_name(arxiv_id)}.html"


def page_link(settings: Settings, arxiv_id: str, pages: list[str]) -> str | None:
    """The paper's page under HFDAILY_SITE_URL when set, else where the render wrote it."""
    key = page_key(arxiv_id)
    if settings.site_url:
        return f"{settings.site_url.rstrip('/')}/{key}"
    return settings.site.link(key) if key in pages else None


def cell(text: str, limit: int = 90) -> str:
    """Text from arXiv or an LLM as one markdown table cell: one line, markup escaped."""
    line = html.escape(" ".join(str(text).split())[:limit], quote=False)  # no tag survives, whatever renders it
    return _MARKDOWN.sub(r"\\\1", line)


def not_done(record: RequestFile) -> list[str]:
    return [s.name for s in pending(record.paper, paper_steps(requested=True))]


def review_markdown(rows: list[dict[str, Any]], failed: dict[str, str], usage: Usage) -> str:
    lines = [
        "# hfdaily review", "",
        f"{len(rows)} papers reviewed, {len(failed)} not found or not ids; {usage.calls} LLM calls, "
        f"{usage.cached} cached, ${usage.cost_usd:.4f}", "",
        "| paper | title | status | not done | page |", "|---|---|---|---|---|",
    ]
    for row in rows:
        page = f"[{row['id']}]({row['page']})" if row["page"] else "-"
        lines.append(f"| `{row['id']}` | {cell(row['title'])} | {row['status']} | "
                     f"{', '.join(row['not_done']) or '-'} | {page} |")
    if failed:
        lines += ["", "## Not reviewed", *(f"- {cell(why, 300)}" for why in failed.values())]
    return "\n".join(lines)


def publish_review_artifacts(settings: Settings, records: dict[str, RequestFile], failed: dict[str, str],
                             usage: Usage, pages: list[str]) -> dict[str, Any]:
    """The run's artifact; returns the summary the flow returns."""
    rows = []
    for arxiv_id, record in records.items():
        left = not_done(record)
        rows.append({"id": arxiv_id, "title": record.paper.title, "status": "incomplete" if left else "ok",
                     "not_done": left, "page": page_link(settings, arxiv_id, pages)})
    incomplete = sum(1 for r in rows if r["not_done"])
    line = (f"{len(rows)} papers reviewed ({incomplete} with steps not done), {len(failed)} not reviewed; "
            f"{usage.calls} LLM calls, {usage.cached} cached, ${usage.cost_usd:.4f}")
    try:
        create_markdown_artifact(review_markdown(rows, failed, usage), key=ARTIFACT_KEY, description=line)
    except Exception as exc:  # an unreachable API must not cost the reviews
        get_logger().warning("artifact not published: %s", exc)
    return {"papers": rows, "failed": failed, "usage": usage.model_dump(), "line": line,
            "index": page_link(settings, "index", pages)}
