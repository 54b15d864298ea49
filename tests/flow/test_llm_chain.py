"""Provider failures that are not HTTP errors, through the daily flow: the chain's next provider fills the fields."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests

from flows.daily import daily_digest
from tasks.settings import Settings
from tasks.store import day_key, load_day

DATE = "2025-01-23"
# Per provider: the steps whose chain starts with it, and the provider that fills them instead.
FIRST_IN = {
    "openai": {"affiliations": "mistral", "topics": "mistral", "summary_en": "anthropic", "summary_zh": "anthropic"},
    "anthropic": {"review_ru": "openai"},
    "mistral": {"zh_reading": "openai"},
}


def _step_states(day: Any) -> dict[str, Any]:
    (paper,) = day.papers
    return {**paper.steps, **day.steps}


@pytest.mark.parametrize("provider", list(FIRST_IN))
def test_html_page_with_status_200_moves_the_chain_on(provider: str, env: Path, sandbox: Any) -> None:
    sandbox.config(papers_per_day=1)
    sandbox.faults({"target": provider, "mode": "html"})  # a proxy's page instead of the API's JSON
    summary = daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    (paper,) = day.papers
    states = _step_states(day)
    assert summary["failed"] == 0
    assert all(states[s].status == "ok" for s in ("affiliations", "topics", "review_ru", "summary_en",
                                                   "summary_zh", "zh_reading")), states
    by_step = sandbox.stats()["by_step"]
    for step, fallback in FIRST_IN[provider].items():
        state = states[step]
        assert state.provider == fallback, (step, state)
        assert state.error and state.error.startswith(f"{provider}: unexpected answer"), (step, state.error)
        calls = 2 if step == "topics" else 1  # one call per taxonomy; not retried: a retry would get the same page
        assert by_step[f"{provider}:{step}"] == calls and by_step[f"{fallback}:{step}"] == calls
    filled = {"affiliations": paper.affiliations, "topics": paper.topics, "review_ru": paper.ru,
              "summary_en": paper.en, "summary_zh": paper.zh, "zh_reading": day.zh_reading}
    assert all(filled[step] for step in FIRST_IN[provider]), filled


def test_a_missing_sdk_makes_its_provider_an_error_the_chain_moves_past(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mistralai.client", None)  # `import mistralai.client` raises ImportError
    sandbox.config(papers_per_day=1)
    summary = daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    assert summary["failed"] == 0
    reading = day.steps["zh_reading"]  # mistral first, then openai
    assert reading.status == "ok" and reading.provider == "openai" and day.zh_reading
    assert reading.error and reading.error.startswith("mistral: SDK not usable (ModuleNotFoundError"), reading.error
    by_step = sandbox.stats()["by_step"]
    assert not [k for k in by_step if k.startswith("mistral:")]  # it never reached the wire
    assert all(s.status == "ok" for s in day.papers[0].steps.values())


def test_an_unreadable_secret_block_is_an_error_that_names_it(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.blocks.system import Secret

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("MISTRAL_API_KEY")  # no block of that name exists on the test server: no key
    monkeypatch.setenv("HFDAILY_USE_SECRET_BLOCKS", "true")
    load = Secret.load

    def broken_load(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "hfdaily-anthropic-api-key":  # the block is there but cannot be read
            raise RuntimeError("cannot decrypt block document {'value': 'sk-ant-BLOCKVALUE-Qz7w'}")
        return load(name, *args, **kwargs)

    monkeypatch.setattr(Secret, "load", broken_load)
    sandbox.config(papers_per_day=2)
    summary = daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    assert summary["failed"] == 0
    for paper in day.papers:  # review_ru: anthropic first, then openai
        review = paper.steps["review_ru"]
        assert review.status == "ok" and review.provider == "openai" and paper.ru, review
        assert review.error and "hfdaily-anthropic-api-key" in review.error and "could not be read" in review.error
    reading = day.steps["zh_reading"]  # mistral first: a missing block is still just "no key"
    assert reading.provider == "openai" and reading.error == "mistral: no API key", reading.error
    stored = load_day(Settings(), DATE).model_dump_json()
    assert "BLOCKVALUE" not in stored and "decrypt" not in stored
    named = [r for r in caplog.records if "hfdaily-anthropic-api-key" in r.getMessage()]
    assert len(named) == 1 and named[0].levelname == "WARNING", [r.getMessage() for r in named]
    assert "BLOCKVALUE" not in caplog.text
    assert not [k for k in sandbox.stats()["by_step"] if k.startswith("anthropic:")]


KEY = "sk-proj-LEAKCHECK7f3a9c1eZq9W"  # ends in a piece no id or hash contains by chance


def test_a_401_that_quotes_the_key_leaves_no_trace_of_it(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG, logger="hfdaily")
    caplog.set_level(logging.DEBUG, logger="prefect")
    sandbox.config(papers_per_day=1)
    sandbox.faults([{"target": "openai", "status": 401},  # its body quotes "sk-proj-*****...Zq9W"
                    {"target": "anthropic", "step": "summary_en", "status": 400}])  # the step fails on the 401
    daily_digest(date=DATE, render=True)
    APILogHandler().flush()
    traces = (KEY, KEY[:8], KEY[-4:], "LEAKCHECK", "*****")
    day = load_day(Settings(), DATE)
    (paper,) = day.papers
    error = paper.steps["summary_en"].error
    assert paper.steps["summary_en"].status == "error" and error and "openai: HTTP 401" in error, error
    assert "Incorrect API key provided: [redacted]" in error and not [t for t in traces if t in error], error
    stored = Settings().data.read(day_key(DATE)).decode("utf-8")
    assert "HTTP 401" in stored and not [t for t in traces if t in stored]
    with get_client(sync_client=True) as client:
        run = day.runs[-1].flow_run_id
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run])))
        by_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run]))
        artifacts = client.read_artifacts(artifact_filter=by_run)
    written = "\n".join(log.message for log in logs) + json.dumps([a.model_dump(mode="json") for a in artifacts])
    local = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 401" in written  # the failed step is reported ...
    for text in (written, local):  # ... without the key
        assert not [t for t in traces if t in text]


def test_an_answer_in_the_wrong_language_is_asked_again_then_passed_on(env: Path, sandbox: Any) -> None:
    from tasks.llm.scripts import CYRILLIC, LATIN, written_in

    sandbox.config(papers_per_day=2)
    items = requests.get(f"{sandbox.url}/api/daily_papers", params={"date": DATE}, timeout=5).json()
    stuck, once = (item["paper"]["title"] for item in items)
    sandbox.faults([
        {"target": "openai", "step": "summary_en", "match": stuck, "mode": "wrong_language"},  # Chinese, twice
        {"target": "openai", "step": "summary_en", "match": once, "mode": "wrong_language", "times": 1},
        {"target": "anthropic", "step": "review_ru", "match": stuck, "mode": "wrong_language"},  # English
    ])
    summary = daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    by_title = {p.title: p for p in day.papers}
    a, b = by_title[stuck], by_title[once]
    assert summary["failed"] == 0
    assert a.steps["summary_en"].provider == "anthropic" and a.en and written_in(a.en.title + a.en.desc, LATIN)
    assert "openai: field 'title': must be written in English" in (a.steps["summary_en"].error or "")
    assert b.steps["summary_en"].provider == "openai" and b.en and written_in(b.en.desc, LATIN)  # the re-ask did it
    assert a.steps["review_ru"].provider == "openai" and a.ru and written_in(a.ru.desc, CYRILLIC)
    assert "must be written in Russian" in (a.steps["review_ru"].error or "")
    by_step = sandbox.stats()["by_step"]
    assert by_step["openai:summary_en"] == 2 + 2 and by_step["anthropic:summary_en"] == 1
    assert by_step["anthropic:review_ru"] == 2 + 1 and by_step["openai:review_ru"] == 1
