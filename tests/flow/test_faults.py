"""The fault matrix of docs/faults.md: upstream HF, arXiv and LLM faults, hostile feeds, secrets, bad dates.

Faults are grouped into few flow runs: each rule targets one paper (`match` on its arXiv id or title) and
one step, so one run exercises many faults, and the run after it shows that exactly the failed steps are
retried (sandbox counters `by_step` / `pdf_ids`). The per-provider LLM matrix runs the chain runner with the
real SDK clients against the sandbox, without a flow around it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from flows.cli import main, sandbox_env
from flows.daily import daily_digest
from sandbox.client import spawn_sandbox
from sandbox.words import INSTITUTIONS
from tasks.errors import InvalidDateError
from tasks.llm.prompts import parse_prompt
from tasks.llm.runner import LLMRuntime, StepFailed
from tasks.models import DayFile
from tasks.render import day_page_key
from tasks.settings import Settings
from tasks.steps import pending
from tasks.store import day_key, load_day, save_day
from tests.unit.test_bad_input import HOSTILE_DATE, IDS, XSS, assert_page_is_inert, hostile_feed

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")


def _feed(sandbox: Any, date: str = DATE) -> list[dict[str, Any]]:
    return requests.get(f"{sandbox.url}/api/daily_papers", params={"date": date}, timeout=5).json()


def _day(date: str = DATE) -> DayFile:
    return load_day(Settings(), date)


def _llm_requests(stats: dict[str, Any]) -> int:
    return sum(stats["requests"][p] for p in LLM)


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hfdaily: error: "), err
    return lines[0]


# ---- upstream HF -----------------------------------------------------------------------------------------

def test_hf_faults(env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HFDAILY_RETRY_MAX_WAIT", "2")
    monkeypatch.setenv("HFDAILY_HTTP_TIMEOUT", "1")
    sandbox.config(papers_per_day=2)
    # 429 with Retry-After, then a timeout, then a cut (malformed) JSON body: each is retried
    sandbox.faults([{"target": "hf", "status": 429, "retry_after": 0.5, "times": 1},
                    {"target": "hf", "mode": "timeout", "delay": 1.5, "times": 1},
                    {"target": "hf", "mode": "malformed", "times": 1}])
    began = time.monotonic()
    summary = daily_digest(date=DATE, render=False)
    assert time.monotonic() - began > 1.5  # Retry-After (0.5 s) and the 1 s timeout were waited for
    assert summary["papers"] == 2 and summary["failed"] == 0
    assert sandbox.stats()["requests"]["hf"] == 4
    assert [r["hits"] for r in sandbox.active_faults()] == [1, 1, 1]
    day = _day()
    assert all(not pending(p) for p in day.papers)

    # an empty list: stored papers are kept (not flagged as vanished) and nothing is asked again
    sandbox.reset()
    sandbox.faults([{"target": "hf", "mode": "empty"}])
    summary = daily_digest(date=DATE, render=False)
    again = _day()
    assert summary["papers"] == 2 and again.runs[-1].vanished == 0
    assert all(p.vanished_at is None for p in again.papers)
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 0 and _llm_requests(stats) == 0

    # answers that never become a feed: the run fails with one line, the stored day is left as it was
    before = Path(Settings().data_dir, day_key(DATE)).read_bytes()
    for rule, reason, requests_made in (({"target": "hf", "mode": "wrong_schema"}, "expected a JSON list", 1),
                                        ({"target": "hf", "mode": "malformed"}, "not JSON", 4)):
        sandbox.reset()
        sandbox.faults(rule)
        code, err = _cli(["run", "--date", DATE, "--no-render"], capsys)
        assert code == 1 and reason in _one_line(err), err
        assert sandbox.stats()["requests"]["hf"] == requests_made, rule  # only transient faults are retried
        assert Path(Settings().data_dir, day_key(DATE)).read_bytes() == before


# ---- arXiv and LLM faults in one run, then the run that retries them -------------------------------------

def test_paper_faults_are_recorded_and_the_next_run_retries_exactly_them(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HFDAILY_PDF_PARSE_TIMEOUT", "2")
    monkeypatch.setenv("HFDAILY_LLM_TIMEOUT", "1")
    sandbox.config(papers_per_day=6)
    items = _feed(sandbox)
    ids = [i["paper"]["id"] for i in items]
    title = [i["paper"]["title"] for i in items]
    sandbox.faults([
        {"target": "pdf", "match": ids[0], "status": 404},
        {"target": "pdf", "match": ids[1], "mode": "html"},
        {"target": "pdf", "match": ids[2], "mode": "truncate"},
        {"target": "pdf", "match": ids[3], "mode": "oversize"},
        {"target": "pdf", "match": ids[4], "mode": "hang_pdf", "ops": 400_000},
        # every provider of summary_en's chain down for paper 0
        {"target": "openai", "step": "summary_en", "match": title[0], "status": 500},
        {"target": "anthropic", "step": "summary_en", "match": title[0], "status": 500},
        # review_ru of paper 1: invalid JSON from the first provider, the wrong schema from the second
        {"target": "anthropic", "step": "review_ru", "match": title[1], "mode": "malformed"},
        {"target": "openai", "step": "review_ru", "match": title[1], "mode": "wrong_schema"},
        # transient: retried on the same provider
        {"target": "openai", "step": "topics", "match": title[2], "status": 429, "retry_after": 0.1, "times": 1},
        {"target": "openai", "step": "summary_zh", "match": title[3], "mode": "timeout", "delay": 1.5, "times": 1},
        # the day's step: the first provider keeps leaving out a key, the second answers
        {"target": "mistral", "step": "zh_reading", "mode": "missing_key"},
    ])
    summary = daily_digest(date=DATE, render=True)

    day = _day()
    html = Path(Settings().site_dir, day_page_key(DATE)).read_text(encoding="utf-8")
    for arxiv_id in ids:  # failed papers are on the page too
        assert f'id="p-{arxiv_id}"' in html
    paper = {p.arxiv_id: p for p in day.papers}
    p = [paper[i] for i in ids]
    assert summary["papers"] == 6 and summary["failed"] == 5
    for k, reason in enumerate(("HTTP 404", "HTML page", "truncated", "larger than", "exceeded 2 s")):
        state = p[k].steps["pdf"]
        assert state.status == "error" and reason in state.error, (k, state)
        assert p[k].text is None and "affiliations" not in p[k].steps  # waits for the PDF
        assert p[k].step_ok("topics") and p[k].step_ok("summary_zh")  # the other steps still ran
    assert p[5].step_ok("pdf") and p[5].step_ok("affiliations")
    error = p[0].steps["summary_en"]
    assert error.status == "error" and "openai: HTTP 500" in error.error and "anthropic: HTTP 500" in error.error
    assert p[0].en is None
    error = p[1].steps["review_ru"]
    assert error.status == "error" and "anthropic: " in error.error and "openai: " in error.error
    assert p[1].ru is None and p[1].emoji is None
    assert p[2].steps["topics"].provider == "openai" and p[3].steps["summary_zh"].provider == "openai"
    zh = day.steps["zh_reading"]
    assert zh.status == "ok" and zh.provider == "openai" and "mistral" in zh.error and day.zh_reading
    stats = sandbox.stats()
    assert stats["pdf_ids"] == {ids[0]: 1, ids[1]: 1, ids[2]: 4, ids[3]: 1, ids[4]: 1, ids[5]: 1}
    by_step = stats["by_step"]
    assert by_step["openai:summary_en"] == 6 + 3 and by_step["anthropic:summary_en"] == 4  # 500: 3 retries
    assert by_step["anthropic:review_ru"] == 6 + 1 and by_step["openai:review_ru"] == 2  # invalid: asked again
    assert by_step["openai:topics"] == 12 + 1 and by_step["openai:summary_zh"] == 6 + 1
    assert by_step["mistral:zh_reading"] == 2 and by_step["openai:zh_reading"] == 1

    sandbox.reset()
    sandbox.config(papers_per_day=6)
    daily_digest(date=DATE, render=True)
    stats = sandbox.stats()
    assert stats["pdf_ids"] == dict.fromkeys(ids[:5], 1)
    two_column = sum(sandbox.planted(i)["layout"] == "two-column" for i in ids[:5])  # openai answers [] there
    expected = {"openai:affiliations": 5, "openai:summary_en": 1, "anthropic:review_ru": 1}
    if two_column:
        expected["mistral:affiliations"] = two_column
    assert stats["by_step"] == expected
    day = _day()
    assert all(not pending(p) for p in day.papers) and day.runs[-1].failed == 0
    assert day.paper(ids[0]).steps["summary_en"].attempts == 2 and day.paper(ids[2]).steps["pdf"].attempts == 2
    html = Path(Settings().site_dir, day_page_key(DATE)).read_text(encoding="utf-8")
    for arxiv_id in ids:
        assert f'id="p-{arxiv_id}"' in html


# ---- each fault of each LLM provider, through the real SDK clients --------------------------------------

FALLBACK = {"openai": "anthropic", "anthropic": "openai", "mistral": "openai"}
MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "mistral": "mistral-small-latest"}
RETRIES = 3

# fault name -> (rules for the first provider P, rules for the fallback Q, outcome)
# outcome: (who answers, calls to P, calls to Q, prompt kind); who answers None = the step fails
MATRIX: dict[str, tuple[list[dict], list[dict], tuple[str | None, int, int, str]]] = {
    "429-retry-after": ([{"status": 429, "retry_after": 0.2, "times": 1}], [], ("P", 2, 0, "object")),
    "timeout-once": ([{"mode": "timeout", "delay": 0.8, "times": 1}], [], ("P", 2, 0, "object")),
    "invalid-json-once": ([{"mode": "malformed", "times": 1}], [], ("P", 2, 0, "object")),
    "missing-key-once": ([{"mode": "missing_key", "times": 1}], [], ("P", 2, 0, "object")),
    "fenced": ([{"mode": "fenced"}], [], ("P", 1, 0, "object")),
    "prose": ([{"mode": "prose"}], [], ("P", 1, 0, "object")),
    "500-always": ([{"status": 500}], [], ("Q", RETRIES + 1, 1, "object")),
    "wrong-schema-always": ([{"mode": "wrong_schema"}], [], ("Q", 2, 1, "object")),
    "empty-list": ([{"mode": "empty"}], [], ("Q", 1, 1, "list")),
    "chain-down": ([{"status": 500}], [{"status": 503}], (None, RETRIES + 1, RETRIES + 1, "object")),
}


def _prompt(kind: str, first: str, second: str) -> Any:
    step, output = ("affiliations", "string_list") if kind == "list" else ("summary_en", "summary")
    chain = "".join(f"  - provider: {p}\n    model: {MODEL[p]}\n    max_tokens: 300\n" for p in (first, second))
    ask = ("List every institution the authors are affiliated with, as a JSON array of strings."
           if kind == "list" else 'Summarise the paper in plain English as a JSON object with "title" and "desc".')
    text = (f"---\nstep: {step}\noutput: {output}\nfallback_on_empty: true\nchain:\n{chain}---\n"
            f'{ask}\n\nTitle: {{{{ title }}}}\n"""\n{{{{ abstract }}}}\n"""\n')
    return parse_prompt(text)


@pytest.mark.parametrize("fault", list(MATRIX))
@pytest.mark.parametrize("provider", LLM)
def test_llm_provider_fault(provider: str, fault: str, env: Path, sandbox: Any,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFDAILY_LLM_TIMEOUT", "0.5")
    monkeypatch.setenv("HFDAILY_RETRY_MAX_WAIT", "1")
    first_rules, second_rules, (who, p_calls, q_calls, kind) = MATRIX[fault]
    second = FALLBACK[provider]
    sandbox.faults([{"target": provider, **r} for r in first_rules] + [{"target": second, **r} for r in second_rules])
    prompt = _prompt(kind, provider, second)
    inputs = {"title": f"A paper by {INSTITUTIONS[0]}", "abstract": f"Work done at {INSTITUTIONS[1]}."}
    rt = LLMRuntime(Settings())
    began = time.monotonic()
    if who is None:
        with pytest.raises(StepFailed) as failed:
            rt.run(prompt, inputs)
        assert failed.value.status == "error"
        assert f"{provider}: HTTP 500" in str(failed.value) and f"{second}: HTTP 503" in str(failed.value)
        assert failed.value.usage.calls == 0  # failed requests are not paid for ...
        assert list(Path(Settings().data_dir, "cache", "llm").glob("*/*.json")) == []  # ... and nothing is cached
    else:
        answer = rt.run(prompt, inputs)
        assert answer.provider == (provider if who == "P" else second)
        if kind == "list":
            assert answer.value == [INSTITUTIONS[0], INSTITUTIONS[1]]
        else:
            assert answer.value.title and len(answer.value.desc) >= 20
        if who == "Q":  # why the first provider was passed over stays readable on the step
            assert answer.notes and answer.notes[0].startswith(f"{provider}: "), answer.notes
    by_step = sandbox.stats()["by_step"]
    assert by_step.get(f"{provider}:{prompt.step}", 0) == p_calls
    assert by_step.get(f"{second}:{prompt.step}", 0) == q_calls
    if fault == "429-retry-after":
        assert time.monotonic() - began >= 0.2  # Retry-After was honoured


# ---- hostile upstream data through the whole flow ---------------------------------------------------------

def test_hostile_feed_is_stored_as_text_and_rendered_inert(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / f"{HOSTILE_DATE}.json").write_text(json.dumps(hostile_feed(authors=400)), encoding="utf-8")
    with spawn_sandbox(recorded=recorded) as hostile:
        for key, value in sandbox_env(hostile.url, env).items():
            monkeypatch.setenv(key, value)
        summary = daily_digest(date=HOSTILE_DATE)
    assert summary["papers"] == 3
    day = _day(HOSTILE_DATE)
    a, b, c = (day.paper(i) for i in IDS)
    assert a.title == f"Scripted {XSS[0]} {XSS[1]}" and len(a.authors) == 402 and a.github_repo is None
    assert "\x1b" not in b.title and "\x00" not in b.abstract
    assert all(p.step_ok("summary_en") for p in (a, b, c))  # hostile text is just text to the LLM steps
    settings = Settings()
    html = Path(settings.site_dir, day_page_key(HOSTILE_DATE)).read_text(encoding="utf-8")
    assert_page_is_inert(html)
    for arxiv_id in IDS:
        assert f'id="p-{arxiv_id}"' in html
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1" in html


# ---- secrets ----------------------------------------------------------------------------------------------

FAKE_KEYS = {"OPENAI_API_KEY": "sk-proj-LEAKCHECK-openai-7f3a9c1e",
             "ANTHROPIC_API_KEY": "sk-ant-LEAKCHECK-anthropic-5d2b8e0a",
             "MISTRAL_API_KEY": "LEAKCHECK-mistral-c4e1f9b7"}


def _files_with(root: Path, secrets: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {s.decode()}" for s in secrets if s in data]
    return hits


def test_secrets_never_leak(env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch,
                            caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import get_current_settings

    for key, value in FAKE_KEYS.items():
        monkeypatch.setenv(key, value)
    secrets = [v.encode() for v in FAKE_KEYS.values()]
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="prefect")  # run logs (prompts and answers at debug) reach the API
    sandbox.config(papers_per_day=2)
    sandbox.faults([  # error paths are where keys usually leak: auth errors, retries, fallbacks
        {"target": "openai", "step": "summary_en", "status": 401},
        {"target": "anthropic", "status": 429, "retry_after": 0, "times": 2},
        {"target": "mistral", "status": 500, "times": 1},
        {"target": "pdf", "status": 403, "times": 1},
    ])
    daily_digest(date=DATE)
    assert Settings().secrets() == list(FAKE_KEYS.values())
    APILogHandler().flush()  # send the queued run logs before reading them back

    day = _day()
    flow_run_id = day.runs[-1].flow_run_id
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    assert len(logs) > 10 and len(artifacts) >= 3  # the test looks where things are written
    api_text = "\n".join(log.message for log in logs) + json.dumps([a.model_dump(mode="json") for a in artifacts])
    captured = capfd.readouterr()
    local_text = caplog.text + "\n".join(r.getMessage() for r in caplog.records) + captured.out + captured.err
    assert "HTTP 401" in json.dumps(day.model_dump(mode="json"))  # the auth error itself was recorded ...
    for secret in FAKE_KEYS.values():  # ... but no key, anywhere
        assert secret not in api_text and secret not in local_text
    assert _files_with(env, secrets) == []  # day files, answer cache, PDF text cache, pages, feeds
    prefect_home = Path(get_current_settings().home)
    database = get_current_settings().server.database.connection_url.get_secret_value().split("///")[-1]
    assert _files_with(prefect_home, secrets) == []  # persisted task results
    assert _files_with(Path(database).parent, secrets) == []  # the harness's API database (flow runs, logs)


# ---- dates and the day store at flow level ------------------------------------------------------------------

def test_invalid_date_parameter_fails_before_anything_is_written(env: Path, sandbox: Any) -> None:
    with pytest.raises(InvalidDateError):  # a deployment's parameter is checked like the CLI's (unit tests)
        daily_digest(date="../../etc/passwd")
    assert not (env / "data").exists() and not (env / "site").exists()
    assert sandbox.stats()["requests"]["hf"] == 0


def test_unwritable_day_store_gives_one_line_and_keeps_the_previous_file(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    settings = Settings()
    previous = DayFile(date=DATE)
    save_day(settings, previous)
    before = Path(settings.data_dir, day_key(DATE)).read_bytes()
    real_replace = os.replace

    def deny(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        if str(dst).startswith(str(Path(settings.data_dir, "days"))):
            raise PermissionError(13, "Permission denied", str(dst))  # tests run as root: chmod would not stop us
        real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", deny)
    code, err = _cli(["run", "--date", DATE], capsys)
    line = _one_line(err)
    assert code == 1 and "Permission denied" in line and f"{DATE}.json" in line and "intact" in line
    assert Path(settings.data_dir, day_key(DATE)).read_bytes() == before
    assert [p.name for p in Path(settings.data_dir, "days").iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(os, "replace", real_replace)

    # a file where the data directory's `days` folder should be
    blocked = env / "blocked"
    blocked.mkdir()
    (blocked / "days").write_text("not a folder")
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(blocked))
    code, err = _cli(["run", "--date", DATE], capsys)
    assert code == 1 and "days" in _one_line(err)
    assert (blocked / "days").read_text() == "not a folder"
