"""Send, edit or leave alone: `publish` against the sandbox's Bot API, with a real day store (no Prefect engine).

The cases the flow tests leave out because they need many papers: a post whose split count grows or shrinks,
and a send whose answer was lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.client import SandboxClient
from sandbox.server import start
from tasks.models import DayFile, Localized, PaperRecord, StepState
from tasks.settings import Settings
from tasks.steps import day_steps, paper_steps
from tasks.store import DayWriter, load_day, save_day
from tasks.telegram.api import BotApi
from tasks.telegram.compose import LIMIT, units
from tasks.telegram.publish import publish

DATE = "2025-01-23"
CHAT = "@hfday_publish"
TOKEN = "7301122334:AAF-publish-secret_0c1d"
SITE = "https://digest.example.com"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with start() as sb:
        yield sb.url


@pytest.fixture
def sb(server: str) -> SandboxClient:
    client = SandboxClient(server)
    client.reset()
    return client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, HFDAILY_DATA_DIR=str(tmp_path / "data"))


def _store(settings: Settings, papers: int, title_words: int = 12) -> DayWriter:
    """A finished day of `papers` papers with long titles, stored, and a writer on it (as a run has)."""
    stored = load_day(settings, DATE)
    day = DayFile(date=DATE, papers=[], telegram=stored.telegram, steps=stored.steps)
    for i in range(papers):
        title = f"{i:03d} " + " ".join(["Длинный"] * title_words)
        day.papers.append(PaperRecord(
            arxiv_id=f"2501.{i:05d}", title=f"Paper {i}", upvotes=500 - i, feed_rank=i, emoji="🔬",
            ru=Localized(title=title, desc="…"), steps={s.name: StepState(status="ok") for s in paper_steps()}))
    for step in day_steps():
        day.steps[step.name] = StepState(status="ok")
    save_day(settings, day)
    return DayWriter(settings, DATE)


def _publish(sb: SandboxClient, store: DayWriter, top: int = 100):
    api = BotApi(sb.url, TOKEN, timeout=5, retries=2, base_delay=0.01, max_wait=1)
    return publish(store, api, chat_id=CHAT, lang="ru", top=top, site_url=SITE)


def _calls(sb: SandboxClient) -> list[tuple[str, int | None]]:
    return [(c["method"], c["message_id"]) for c in sb.telegram()["calls"]]


def test_a_post_that_grows_past_one_message_edits_the_first_and_sends_the_rest(
    sb: SandboxClient, settings: Settings
) -> None:
    assert _publish(sb, _store(settings, 20)).action == "sent"
    outcome = _publish(sb, _store(settings, 90))  # too long for one message now
    messages = load_day(settings, DATE).telegram.messages
    assert outcome.action == "edited" and outcome.edited == [1] and outcome.sent == [2, 3][: len(messages) - 1]
    assert len(messages) >= 2 and [m.message_id for m in messages] == list(range(1, len(messages) + 1))
    assert all(units(m.text) <= LIMIT for m in messages)
    assert _calls(sb) == [("sendMessage", None), ("editMessageText", 1)] + [("sendMessage", None)] * (len(messages) - 1)
    chat = sb.telegram()["chats"][CHAT]
    assert [m["html"] for m in chat] == [m.text for m in messages]  # the channel shows what is stored


def test_a_post_that_shrinks_is_spread_over_the_messages_it_has(sb: SandboxClient, settings: Settings) -> None:
    _publish(sb, _store(settings, 90))
    before = len(load_day(settings, DATE).telegram.messages)
    assert before >= 2
    earlier = len(_calls(sb))
    outcome = _publish(sb, _store(settings, 5))  # fits in one message, but the post has `before`
    messages = load_day(settings, DATE).telegram.messages
    assert outcome.action == "edited" and outcome.sent == [] and len(messages) == before
    assert all(m.text.strip() for m in messages)
    assert _calls(sb)[earlier:] == [("editMessageText", i) for i in range(1, before + 1)]
    lines = [line for m in messages for line in m.text.split("\n") if line]
    assert lines[0].startswith("<b>") and lines[-1].startswith('<a href="') and len(lines) == 1 + 5 + 1


def test_a_send_whose_answer_was_lost_is_never_sent_again(sb: SandboxClient, settings: Settings) -> None:
    sb.faults([{"target": "telegram", "mode": "truncate", "match": "sendMessage", "times": 1}])
    outcome = _publish(sb, _store(settings, 3))
    day = load_day(settings, DATE)
    assert outcome.action == "error" and "may have been posted, so it is not sent again" in outcome.error
    assert day.steps["telegram"].status == "error"
    assert [m.message_id for m in day.telegram.messages] == [None]  # recorded: it may be in the channel
    outcome = _publish(sb, _store(settings, 4))  # changed, but that message can be neither edited nor re-sent
    assert outcome.action == "unchanged" and len(sb.telegram()["calls"]) == 1
    assert load_day(settings, DATE).steps["telegram"].status == "ok"


def test_a_day_with_papers_not_done_waits_and_an_empty_one_is_never_posted(
    sb: SandboxClient, settings: Settings
) -> None:
    store = _store(settings, 2)
    store.day.papers[0].steps.pop("summary_en")
    assert _publish(sb, store).action == "waiting"
    assert _publish(sb, _store(settings, 0)).action == "waiting"
    assert sb.telegram()["calls"] == [] and "telegram" not in load_day(settings, DATE).steps
