"""Reviews on request under Prefect's test harness, against the sandbox (arXiv API, PDFs, LLMs) over real HTTP."""

from __future__ import annotations

import pytest
import requests

from flows.daily import daily_digest
from flows.review import review
from tasks.arxiv_api import BadPaperRef
from tasks.requested import load_request, load_requests
from tasks.settings import Settings
from tasks.steps import paper_steps

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")


def _llm_requests(stats):
    return sum(stats["requests"][p] for p in LLM)


def _day_ids(sandbox) -> list[str]:
    feed = requests.get(f"{sandbox.url}/api/daily_papers", params={"date": DATE}, timeout=5).json()
    return [item["paper"]["id"] for item in feed]


def test_review_runs_every_paper_step_then_a_rerun_pays_nothing(env, sandbox):
    ids = ["2501.04001", "2412.12345"]
    summary = review(papers=[f"https://arxiv.org/abs/{ids[0]}v2", f"https://huggingface.co/papers/{ids[1]}"])
    assert [row["id"] for row in summary["papers"]] == ids and not summary["failed"]
    wanted = {s.name for s in paper_steps(requested=True)}
    assert wanted == {"pdf", "affiliations", "topics", "review_ru", "summary_en", "summary_zh"}
    for arxiv_id in ids:
        record = load_request(Settings(), arxiv_id)
        paper = record.paper
        planted = sandbox.planted(arxiv_id)
        assert paper.title == planted["title"] and paper.authors == planted["authors"]
        assert set(paper.steps) == wanted and all(s.status == "ok" for s in paper.steps.values())
        assert paper.affiliations == planted["affiliations"]
        assert paper.ru.desc and paper.en.title and paper.zh.title and paper.topics and paper.text.head
        assert len(record.runs) == 1 and record.runs[0].usage.calls >= 5
        assert (env / "site" / "u" / f"{arxiv_id}.html").is_file()
    index = (env / "site" / "u" / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{i}.html"' in index for i in ids)
    stats = sandbox.stats()
    assert stats["requests"]["arxiv"] == 1 and stats["requests"]["pdf"] == 2
    assert _llm_requests(stats) == summary["usage"]["calls"] > 0
    assert not any(key.endswith(":zh_reading") for key in stats["by_step"])  # a day step, not a paper's

    sandbox.reset()
    again = review(papers=ids)
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 0 and _llm_requests(stats) == 0
    assert again["usage"]["calls"] == 0 and all(row["status"] == "ok" for row in again["papers"])
    assert len(load_request(Settings(), ids[0]).runs) == 2
    assert [r.paper.arxiv_id for r in load_requests(Settings())][:2] in (ids, ids[::-1])


def test_a_paper_of_a_daily_list_reuses_its_answers(env, sandbox):
    daily_digest(date=DATE, render=False)
    shared = _day_ids(sandbox)[0]
    sandbox.reset()
    sandbox.config(papers_per_day=5)
    summary = review(papers=[shared], render=False)
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 0 and _llm_requests(stats) == 0, stats
    paper = load_request(Settings(), shared).paper
    assert all(s.status == "ok" for s in paper.steps.values()) and summary["papers"][0]["status"] == "ok"


def test_bad_and_unknown_ids_are_named_and_the_others_still_run(env, sandbox):
    summary = review(papers=["not-a-paper", "2501.99999", "https://example.com/abs/2501.04002", "2501.04002"],
                     render=False)
    assert [row["id"] for row in summary["papers"]] == ["2501.04002"]
    failed = summary["failed"]
    assert set(failed) == {"not-a-paper", "2501.99999", "https://example.com/abs/2501.04002"}
    assert "arXiv has no paper" in failed["2501.99999"] and "not an arXiv id" in failed["not-a-paper"]
    assert load_request(Settings(), "2501.99999") is None


def test_nothing_to_review_fails_the_run_in_one_line(env, sandbox):
    with pytest.raises(BadPaperRef, match="no paper to review: 'nope' is not an arXiv id"):
        review(papers=["nope"])
    assert sandbox.stats()["requests"]["arxiv"] == 0
