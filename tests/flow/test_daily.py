"""The daily flow end to end under Prefect's test harness, against the sandbox over real HTTP."""

from __future__ import annotations

import requests

from flows.daily import daily_digest
from tasks.llm.prompts import load_prompt
from tasks.settings import Settings
from tasks.steps import paper_steps
from tasks.store import load_day

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")


def _day():
    return load_day(Settings(), DATE)


def _llm_requests(stats):
    return sum(stats["requests"][p] for p in LLM)


def test_full_day_then_rerun_costs_nothing(env, sandbox):
    summary = daily_digest(date=DATE)
    day = _day()
    assert len(day.papers) == 5 and summary["failed"] == 0
    taxonomy = {n for t in load_prompt("topics").model_extra["taxonomies"].values() for n in t}
    for p in day.papers:
        assert p.text and p.text.head and len(p.text.deep) >= len(p.text.head)
        assert p.affiliations == sandbox.planted(p.arxiv_id)["affiliations"], p.arxiv_id
        assert p.topics and set(p.topics) <= taxonomy
        assert p.emoji and p.ru.desc and p.en.title and p.zh.title
        assert all(s.status == "ok" for s in p.steps.values()) and len(p.steps) == len(paper_steps())
        assert p.usage.calls >= 6 and p.usage.cost_usd > 0
    assert day.zh_reading and day.zh_reading.vocab and day.steps["zh_reading"].status == "ok"
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 5
    paid = _llm_requests(stats)
    assert day.usage.calls == paid == day.runs[-1].usage.calls
    assert day.usage.cost_usd > sum(p.usage.cost_usd for p in day.papers) > 0  # + the day's zh_reading
    unchanged = {"runs": True, "papers": {"__all__": {"last_seen"}}}  # what a re-run may touch
    first = day.model_dump(exclude=unchanged)

    sandbox.reset()
    sandbox.config(papers_per_day=5)
    daily_digest(date=DATE)
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 0 and _llm_requests(stats) == 0
    again = _day()
    assert len(again.runs) == 2 and again.runs[-1].new == 0
    assert again.model_dump(exclude=unchanged) == first


def test_feed_503_then_200_is_retried(env, sandbox):
    sandbox.faults([{"target": "hf", "status": 503, "retry_after": 0, "times": 1}])
    daily_digest(date=DATE, render=False)
    assert sandbox.stats()["requests"]["hf"] == 2
    assert len(_day().papers) == 5


def test_missing_pdf_fails_one_paper_and_next_run_retries_only_it(env, sandbox):
    feed = requests.get(f"{sandbox.url}/api/daily_papers", params={"date": DATE}, timeout=5).json()
    ids = [item["paper"]["id"] for item in feed]
    sandbox.faults([{"target": "pdf", "match": ids[1], "status": 404}])
    summary = daily_digest(date=DATE, render=False)
    day = _day()
    broken = day.paper(ids[1])
    assert summary["failed"] == 1
    assert broken.steps["pdf"].status == "error" and "404" in broken.steps["pdf"].error
    assert "affiliations" not in broken.steps and broken.en is not None  # the other steps still ran
    assert all(p.step_ok("affiliations") for p in day.papers if p.arxiv_id != ids[1])
    assert sandbox.stats()["pdf_ids"][ids[1]] == 1  # a 404 is not retried

    sandbox.reset()
    sandbox.config(papers_per_day=5)
    daily_digest(date=DATE, render=False)
    stats = sandbox.stats()
    assert stats["pdf_ids"] == {ids[1]: 1}
    assert _llm_requests(stats) == stats["by_step"].get("openai:affiliations", 0) == 1
    assert _day().paper(ids[1]).affiliations == sandbox.planted(ids[1])["affiliations"]


def test_provider_down_falls_back(env, sandbox):
    sandbox.faults([{"target": "openai", "status": 500}])
    daily_digest(date=DATE, render=False)
    day = _day()
    for p in day.papers:
        assert p.steps["affiliations"].provider == "mistral"
        assert p.steps["summary_en"].provider == "anthropic" and p.en.desc
        assert p.affiliations == sandbox.planted(p.arxiv_id)["affiliations"]
    assert sandbox.stats()["requests"]["openai"] > 0


def test_missing_keys_leave_clear_status(env, sandbox, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("MISTRAL_API_KEY")
    summary = daily_digest(date=DATE, render=False)
    day = _day()
    assert summary["papers"] == 5
    for p in day.papers:
        assert p.step_ok("pdf") and p.step_ok("review_ru") and p.step_ok("summary_en")
        state = p.steps["affiliations"]
        assert state.status == "skipped" and "no API key" in state.error and p.affiliations == []
    assert day.steps["zh_reading"].status == "skipped"
    assert sandbox.stats()["requests"]["openai"] == 0


def test_budget_stops_llm_calls(env, sandbox):
    summary = daily_digest(date=DATE, max_cost=0.0001, render=False)
    day = _day()
    assert "budget" in (day.runs[-1].note or "")
    deferred = [s for p in day.papers for s in p.steps.values() if s.status == "deferred"]
    not_started = [p for p in day.papers if len(p.steps) < len(paper_steps())]
    assert deferred or not_started
    assert day.usage.cost_usd < 0.01 and summary["usage"]["calls"] < 30


def test_the_dashboard_graph_shows_affiliations_waiting_for_their_pdf(env, sandbox):
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    state = daily_digest(date=DATE, render=False, return_state=True)
    run_id = state.state_details.flow_run_id
    ids = [p.arxiv_id for p in _day().papers]
    wanted = {f"{step}-{i}" for i in ids for step in ("pdf", "affiliations", "topics")}
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:  # task runs reach the API as events, a little after the flow returns
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            by_name = {r.name: r for r in runs}
            if wanted <= set(by_name) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    for arxiv_id in ids:
        pdf, aff = by_name[f"pdf-{arxiv_id}"], by_name[f"affiliations-{arxiv_id}"]
        upstream = {getattr(i, "id", None) for i in aff.task_inputs.get("wait_for", [])}
        assert pdf.id in upstream, f"affiliations-{arxiv_id} does not wait for pdf-{arxiv_id}"
        topics = by_name[f"topics-{arxiv_id}"]
        assert not topics.task_inputs.get("wait_for"), "topics need no PDF and start at once"
