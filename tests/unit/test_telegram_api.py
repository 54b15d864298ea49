"""The Bot API client against the sandbox's stand-in over real HTTP: retries, 429 retry_after, final 4xx, no token
in any error or log line."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from sandbox.client import SandboxClient
from sandbox.server import start
from tasks.telegram.api import BotApi, TelegramError, message_link

TOKEN = "7301122334:AAF-telegram-UNIT-secret_4f0c9d2b7e"
CHAT = "@hfday_sandbox"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start() as sb:
        yield sb.url


@pytest.fixture
def sb(server: str) -> SandboxClient:
    client = SandboxClient(server)
    client.reset()
    return client


def _api(url: str, **kw) -> BotApi:
    return BotApi(url, TOKEN, **{"timeout": 5, "retries": 3, "base_delay": 0.01, "max_wait": 3, **kw})


def test_send_then_edit_as_telegram_answers(sb: SandboxClient) -> None:
    api = _api(sb.url)
    first = api.send(CHAT, "<b>one</b>")
    second = api.send(CHAT, "two &amp; three")
    api.edit(CHAT, first, "<b>one</b> edited")
    api.edit(CHAT, first, "<b>one</b> edited")  # the same text again (a retried edit): no error
    record = sb.telegram()
    assert (first, second) == (1, 2)
    assert [m["text"] for m in record["chats"][CHAT]] == ["one edited", "two & three"]
    calls = record["calls"]
    assert [(c["method"], c["status"]) for c in calls] == [
        ("sendMessage", 200), ("sendMessage", 200), ("editMessageText", 200), ("editMessageText", 400)]
    assert all(c["bot"] == "7301122334" and c["parse_mode"] == "HTML" for c in calls)
    assert TOKEN not in str(record)  # the stand-in keeps the bot's id, never its token


def test_429_waits_the_retry_after_telegram_gives(sb: SandboxClient) -> None:
    sb.faults([{"target": "telegram", "status": 429, "retry_after": 1, "times": 1}])
    _api(sb.url).send(CHAT, "hello")
    calls = sb.telegram()["calls"]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["at"] - calls[0]["at"] >= 1.0
    assert len(sb.telegram()["chats"][CHAT]) == 1


def test_a_retry_after_longer_than_the_max_wait_is_left_for_the_next_run(sb: SandboxClient) -> None:
    sb.faults([{"target": "telegram", "status": 429, "retry_after": 30, "times": 1}])
    with pytest.raises(TelegramError) as err:
        _api(sb.url, max_wait=2).send(CHAT, "hello")
    assert "asks to wait 30 s, more than HFDAILY_RETRY_MAX_WAIT (2 s)" in str(err.value)
    assert len(sb.telegram()["calls"]) == 1


def test_transient_errors_are_retried_and_chat_not_found_is_final(sb: SandboxClient) -> None:
    sb.faults([{"target": "telegram", "status": 502, "times": 1}, {"target": "telegram", "status": 500, "times": 1}])
    assert _api(sb.url).send(CHAT, "hello") == 1
    assert [c["status"] for c in sb.telegram()["calls"]] == [502, 500, 200]
    sb.reset()
    sb.faults([{"target": "telegram", "mode": "chat_not_found"}])
    with pytest.raises(TelegramError) as err:
        _api(sb.url).send(CHAT, "hello")
    assert str(err.value) == "Telegram sendMessage: Bad Request: chat not found (HTTP 400)"
    assert not err.value.retriable and len(sb.telegram()["calls"]) == 1


def test_a_send_whose_answer_was_lost_is_not_retried_but_an_edit_is(sb: SandboxClient) -> None:
    api = _api(sb.url)
    sb.faults([{"target": "telegram", "mode": "truncate", "match": "sendMessage", "times": 1}])
    with pytest.raises(TelegramError) as err:
        api.send(CHAT, "hello")
    assert err.value.maybe_sent and len(sb.telegram()["chats"][CHAT]) == 1  # it was posted: not a second time
    sb.faults([{"target": "telegram", "mode": "truncate", "match": "editMessageText", "times": 1}])
    api.edit(CHAT, 1, "hello again")  # the retry finds the edit done ("not modified"): fine
    assert [c["status"] for c in sb.telegram()["calls"]] == [200, 200, 400]
    assert sb.telegram()["chats"][CHAT][0]["text"] == "hello again"


def test_no_error_or_log_line_carries_the_token(sb: SandboxClient, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TelegramError) as err:
        _api(dead, retries=1).send(CHAT, "x")
    assert str(err.value) == "Telegram sendMessage: connection failed (ConnectionError)"
    with pytest.raises(TelegramError) as err:
        BotApi(sb.url, "not-a-token/" + TOKEN, retries=0).send(CHAT, "x")
    _api(sb.url).send(CHAT, "fine")
    assert any("sendMessage" in r.getMessage() for r in caplog.records)  # urllib3's request lines were there
    text = "\n".join(r.getMessage() for r in caplog.records) + str(err.value)
    assert TOKEN not in text and "AAF-telegram-UNIT" not in text


def test_message_links() -> None:
    assert message_link("@hfday", 7) == "https://t.me/hfday/7"
    assert message_link("-1001234567890", 7) == "https://t.me/c/1234567890/7"
    assert message_link("12345", 7) is None
