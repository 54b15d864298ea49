"""The day posted to a Telegram channel, under the real daily flow, against the sandbox's Bot API stand-in.

The stand-in records every call (`GET /_telegram`): the tests read the exact text sent, each message id, and that
nothing is ever sent twice: not by a re-run, not by two runs of a date at once.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from flows.daily import daily_digest
from tasks.models import DayFile
from tasks.settings import Settings
from tasks.store import load_day

DATE = "2025-01-23"  # a Thursday: the sandbox lists papers
SATURDAY = "2025-01-25"
TOKEN = "7301122334:AAF-flowtest-secret_9b1e44c2d0aa"
CHAT = "-1001234567890"
SITE = "https://digest.example.com"


@pytest.fixture
def channel(env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A configured channel on the sandbox; the day has 3 papers."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HFDAILY_TELEGRAM_CHAT_ID", CHAT)
    monkeypatch.setenv("HFDAILY_TELEGRAM_API_URL", sandbox.url)
    monkeypatch.setenv("HFDAILY_SITE_URL", SITE)
    sandbox.config(papers_per_day=3)
    return sandbox


def _day(date: str = DATE) -> DayFile:
    return load_day(Settings(), date)


def _sends(sandbox: Any) -> list[dict[str, Any]]:
    return [c for c in sandbox.telegram()["calls"] if c["method"] == "sendMessage"]


def _expected(day: DayFile, lang: str = "ru") -> str:
    """The post as a reader should get it, written out from the stored day (not from the code that composes it)."""
    ranked = sorted(day.papers, key=lambda p: (-p.upvotes, p.feed_rank))
    lines = [f"{p.emoji} {html.escape(getattr(p, lang).title, quote=False)} · 👍 {p.upvotes}" for p in ranked[:10]]
    header = {"ru": "Статьи дня на Hugging Face", "en": "Hugging Face daily papers"}[lang]
    more = {"ru": f"Все статьи дня ({len(day.papers)})", "en": f"All papers of the day ({len(day.papers)})"}[lang]
    return "\n".join([f"<b>{header} · {day.date}</b>", "", *lines, "",
                      f'<a href="{SITE}/d/{day.date}.html">{more}</a>'])


def test_a_done_day_is_posted_once_with_the_exact_text_and_a_rerun_sends_nothing(channel: Any) -> None:
    summary = daily_digest(date=DATE, render=False)
    day = _day()
    sends = _sends(channel)
    assert len(sends) == 1 and summary["telegram"] == "sent"
    assert sends[0]["text"] == _expected(day)
    assert sends[0]["chat_id"] == int(CHAT) and sends[0]["parse_mode"] == "HTML" and sends[0]["status"] == 200
    assert day.steps["telegram"].status == "ok"
    assert [(m.message_id, m.text) for m in day.telegram.messages] == [(1, _expected(day))]
    assert day.telegram.chat_id == CHAT and day.telegram.lang == "ru" and day.telegram.posted_at is not None
    message = channel.telegram()["chats"][CHAT][0]
    assert message["text"].startswith(f"Статьи дня на Hugging Face · {DATE}\n\n")  # as Telegram parsed it
    assert message["entities"][-1] == {"type": "text_link", "url": f"{SITE}/d/{DATE}.html",
                                       "offset": message["entities"][-1]["offset"],
                                       "length": len(f"Все статьи дня ({len(day.papers)})")}

    summary = daily_digest(date=DATE, render=False)  # nothing new: nothing sent, nothing edited
    assert len(channel.telegram()["calls"]) == 1 and summary["telegram"] == "unchanged"
    assert _day().telegram == day.telegram


def test_a_changed_digest_edits_the_post_in_place(channel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFDAILY_TELEGRAM_LANG", "en")
    daily_digest(date=DATE, render=False)
    channel.config(papers_per_day=5)  # HF lists two more papers later in the day
    summary = daily_digest(date=DATE, render=False)
    day = _day()
    calls = channel.telegram()["calls"]
    assert [(c["method"], c["message_id"], c["status"]) for c in calls] == [
        ("sendMessage", None, 200), ("editMessageText", 1, 200)]
    assert calls[1]["text"] == _expected(day, "en") and len(day.papers) == 5
    assert summary["telegram"] == "edited" and day.telegram.edited_at is not None
    (message,) = channel.telegram()["chats"][CHAT]
    assert message["edits"] == 1 and message["html"] == _expected(day, "en")


def test_a_message_deleted_in_the_channel_is_posted_again_when_the_digest_changes(channel: Any) -> None:
    daily_digest(date=DATE, render=False)
    channel.telegram_delete(CHAT, 1)
    channel.config(papers_per_day=4)
    daily_digest(date=DATE, render=False)
    calls = channel.telegram()["calls"]
    assert [(c["method"], c["status"]) for c in calls] == [
        ("sendMessage", 200), ("editMessageText", 400), ("sendMessage", 200)]
    assert [m.message_id for m in _day().telegram.messages] == [2]


def test_429_is_waited_out_as_telegram_asks(channel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFDAILY_RETRY_MAX_WAIT", "5")
    channel.faults([{"target": "telegram", "status": 429, "retry_after": 1, "times": 1}])
    daily_digest(date=DATE, render=False)
    calls = channel.telegram()["calls"]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["at"] - calls[0]["at"] >= 1.0 and calls[1]["text"] == calls[0]["text"]
    assert _day().steps["telegram"].status == "ok" and len(channel.telegram()["chats"][CHAT]) == 1


def test_chat_not_found_is_an_error_on_the_step_and_the_day_is_fine(
    channel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    caplog.set_level(logging.INFO)
    channel.faults([{"target": "telegram", "mode": "chat_not_found"}])
    state = daily_digest(date=DATE, return_state=True)
    assert state.is_completed()
    summary = state.result()
    day = _day()
    assert summary["failed"] == 0 and summary["telegram"] == "error"
    assert all(s.status == "ok" for p in day.papers for s in p.steps.values())
    assert (Path(Settings().site_dir) / "d" / f"{DATE}.html").exists()
    step = day.steps["telegram"]
    assert step.status == "error" and step.error == "Telegram sendMessage: Bad Request: chat not found (HTTP 400)"
    assert day.telegram is None and len(channel.telegram()["calls"]) == 1  # a 400 is not retried
    assert f"{DATE}: telegram (day): Telegram sendMessage: Bad Request: chat not found (HTTP 400)" in caplog.text

    run_id = state.state_details.flow_run_id
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:  # task runs reach the API as events, a little after the flow returns
            runs = {r.name: r for r in client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))}
            if f"telegram-{DATE}" in runs or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert runs[f"telegram-{DATE}"].state.is_failed()

    channel.reset()  # the chat is fixed: the next run posts
    channel.config(papers_per_day=3)
    daily_digest(date=DATE, render=False)
    assert len(_sends(channel)) == 1 and _day().steps["telegram"].status == "ok"
    assert _day().steps["telegram"].attempts == 1


def test_two_runs_of_a_date_at_once_post_it_once(channel: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.feed
    import tasks.lease

    real_acquire, real_fetch = tasks.lease.acquire, tasks.feed.fetch_page
    contended, holder = threading.Event(), threading.Lock()

    def acquire(*args: Any, on_wait: Any = None, **kw: Any) -> Any:
        def waiting(record: Any) -> None:
            contended.set()
            if on_wait is not None:
                on_wait(record)

        return real_acquire(*args, on_wait=waiting, **kw)

    def fetch_page(*args: Any, **kw: Any) -> Any:
        if holder.acquire(blocking=False):  # the first run's fetch, under the lease: wait for the second run
            assert contended.wait(60), "the second run never reached the date's lease"
        return real_fetch(*args, **kw)

    monkeypatch.setattr(tasks.lease, "acquire", acquire)
    monkeypatch.setattr(tasks.feed, "fetch_page", fetch_page)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            outcomes.append(daily_digest(date=DATE, render=False))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert len(outcomes) == 2 and all(isinstance(o, dict) for o in outcomes), outcomes
    day = _day()
    first, second = sorted(day.runs, key=lambda r: r.finished_at)
    assert second.started_at < first.finished_at  # they overlapped: the second waited for the lease
    assert sorted(o.get("telegram") for o in outcomes) == ["sent", "unchanged"]
    assert len(channel.telegram()["calls"]) == 1 and len(channel.telegram()["chats"][CHAT]) == 1
    assert [m.message_id for m in day.telegram.messages] == [1]


def test_what_is_not_posted(channel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="prefect")  # the run's own lines
    daily_digest(date=DATE, render=False, post=False)  # `hfdaily run --no-post`, and every backfill
    assert channel.telegram()["calls"] == [] and "telegram" not in _day().steps
    assert f"{DATE}: not posted to Telegram (post is off for this run)" in caplog.text

    daily_digest(date=SATURDAY, render=False)  # HF lists nothing: an empty date is never posted
    assert channel.telegram()["calls"] == [] and _day(SATURDAY).telegram is None

    monkeypatch.delenv("HFDAILY_SITE_URL")
    daily_digest(date=DATE, render=False)  # no public address for the day page's link: nothing sent, said so
    assert channel.telegram()["calls"] == []
    assert _day().steps["telegram"].status == "skipped"
    assert "not posted to Telegram: HFDAILY_SITE_URL is not set" in caplog.text

    monkeypatch.setenv("HFDAILY_SITE_URL", SITE)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    daily_digest(date=DATE, render=False)  # a chat but no token: not posting, in one warning line
    assert channel.telegram()["calls"] == []
    assert "HFDAILY_TELEGRAM_CHAT_ID is set but there is no bot token" in caplog.text


def test_a_day_stopped_at_its_budget_waits(channel: Any) -> None:
    daily_digest(date=DATE, render=False, max_cost=0.0001)
    assert channel.telegram()["calls"] == [] and "telegram" not in _day().steps
    daily_digest(date=DATE, render=False)  # the rest is done: now it is posted
    assert len(_sends(channel)) == 1


def test_the_token_is_never_stored_or_logged(channel: Any, caplog: pytest.LogCaptureFixture,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import get_current_settings

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="prefect")
    channel.faults([{"target": "telegram", "status": 502, "times": 1},
                    {"target": "telegram", "mode": "timeout", "delay": 6, "times": 1, "match": "editMessageText"}])
    daily_digest(date=DATE)
    channel.config(papers_per_day=4)
    daily_digest(date=DATE)  # an edit that times out once, retried
    assert Settings().secrets()[-1] == TOKEN
    APILogHandler().flush()
    day = _day()
    deadline = time.monotonic() + 10
    while channel.telegram()["calls"][2]["status"] is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the sandbox is still holding the timed-out request
    assert [c["status"] for c in channel.telegram()["calls"]] == [502, 200, "timeout", 200]
    assert day.telegram.messages[0].text == channel.telegram()["chats"][CHAT][0]["html"]
    with get_client(sync_client=True) as client:
        texts = []
        for record in day.runs:
            by_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[record.flow_run_id]))
            texts += [log.message for log in client.read_logs(log_filter=by_run)]
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[record.flow_run_id])))
            texts.append(json.dumps([a.model_dump(mode="json") for a in artifacts]))
    api_text = "\n".join(texts)
    assert "Telegram post of 2025-01-23" in api_text and "https://t.me/c/1234567890/1" in api_text
    captured = capfd.readouterr()
    local = caplog.text + captured.out + captured.err
    assert "sendMessage" in local  # the lines that would carry it were looked at
    secret_part = TOKEN.split(":")[1]
    for text in (api_text, local):
        assert secret_part not in text
    settings = get_current_settings()
    database = Path(settings.server.database.connection_url.get_secret_value().split("///")[-1]).parent
    for root in (Path(Settings().data_dir), Path(Settings().site_dir), Path(settings.home), database):
        for path in root.rglob("*"):
            assert not path.is_file() or secret_part.encode() not in path.read_bytes(), path
