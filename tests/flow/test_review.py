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
    assert wanted == {"pdf", "image", "affiliations", "topics", "review_ru", "summary_en", "summary_zh"}
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


@pytest.mark.parametrize("rule", [
    {"target": "arxiv", "status": 503, "retry_after": 0, "times": 1},
    {"target": "arxiv", "mode": "malformed", "times": 1},  # a cut Atom body
])
def test_a_transient_arxiv_api_fault_is_retried(env, sandbox, rule):
    sandbox.faults([rule])
    summary = review(papers=["2501.04005"], render=False)
    assert sandbox.stats()["requests"]["arxiv"] == 2 and summary["papers"][0]["status"] == "ok"


def test_arxiv_api_answering_html_fails_the_run_in_one_line_and_stores_nothing(env, sandbox):
    sandbox.faults([{"target": "arxiv", "mode": "html"}])
    with pytest.raises(Exception, match="arXiv API: the answer is not XML") as failed:
        review(papers=["2501.04006"], render=False)
    assert "\n" not in str(failed.value)
    assert sandbox.stats()["requests"]["arxiv"] == 4  # 3 retries
    assert load_request(Settings(), "2501.04006") is None


def test_a_missing_pdf_is_incomplete_and_a_re_request_redoes_only_it(env, sandbox):
    sandbox.faults([{"target": "pdf", "match": "2501.04007", "status": 404}])
    summary = review(papers=["2501.04007"], render=False)
    row = summary["papers"][0]
    assert row["status"] == "incomplete" and row["not_done"] == ["pdf", "image", "affiliations"]
    paper = load_request(Settings(), "2501.04007").paper
    assert "404" in paper.steps["pdf"].error and paper.en is not None
    sandbox.reset()
    again = review(papers=["2501.04007"], render=False)
    stats = sandbox.stats()
    assert stats["pdf_ids"] == {"2501.04007": 1}
    assert {key.split(":")[1] for key in stats["by_step"]} == {"affiliations"}  # (its provider chain may fall back)
    assert again["papers"][0]["status"] == "ok"


def test_the_command_names_bad_ids_on_stderr_and_exits_1(env, sandbox):
    from tests.flow.test_cli_console import _hfdaily, _latest

    done = _hfdaily(env, "review", "2501.04008", "not-an-id", "2501.99999", "--no-render")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == "2501.04008: ok"
    errors = [line for line in done.stderr.splitlines() if line.startswith("hfdaily: error:")]
    assert errors == ["hfdaily: error: 'not-an-id' is not an arXiv id (like 2501.06600 or hep-th/9901001) "
                      "or an arxiv.org / huggingface.co paper URL",
                      "hfdaily: error: 2501.99999: arXiv has no paper with this id"]
    run = _latest("review-2501.04008-and-2-more")
    assert run.state.is_completed()
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts()
    mine = [a for a in artifact if a.key == "hfdaily-review"]
    assert mine and "`2501.04008`" in mine[0].data and "2501.99999: arXiv has no paper" in mine[0].data
