"""Posting a day to the channel once, and keeping the post up to date: send, edit, or leave alone.

The messages of a date's post are stored in its day file (`DayFile.telegram`), each one saved as soon as
Telegram has taken it, so a run that dies half-way never sends it again. A later run composes the post again
and compares it with what is stored, message by message: the same text sends nothing; a changed one
(new papers, new upvotes, a title that arrived) is edited in place; a post that now needs more messages gets
the extra ones sent after it, and one that needs fewer is spread over the messages it has (compose.split).
The daily flow calls this while it holds the date's lease, so two runs of a date never post it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tasks.errors import HfDailyError
from tasks.models import DayFile, StepState, TelegramMessage, TelegramPost, utcnow
from tasks.steps import is_published, ready, unfinished
from tasks.store import DayWriter
from tasks.telegram.api import EDIT_TARGET_GONE, BotApi, TelegramError
from tasks.telegram.compose import FILLER, post_lines, split

STEP = "telegram"  # its state in the day file: day.steps["telegram"]


@dataclass
class Outcome:
    """What a run did with the post: `sent`, `edited`, `unchanged`, `waiting` (papers not done), `skipped`
    (no site URL) or `error`."""

    action: str
    note: str = ""
    sent: list[int] = field(default_factory=list)  # message ids sent by this run
    edited: list[int] = field(default_factory=list)  # message ids edited by this run
    messages: list[TelegramMessage] = field(default_factory=list)  # the post as stored after this run
    error: str | None = None


def work_left(day: DayFile) -> int:
    """Steps of the day that a run could still do: never run, or stopped at the budget.

    A step in error counts as done here (it is recorded, and retried by the next run, which edits the post if the
    text changes), and so does a step waiting for one in error (affiliations of a paper whose PDF is missing):
    one lasting failure must not keep a day off the channel for good.
    """
    left = 0
    for paper, step in unfinished(day):
        target = paper if paper is not None else day
        state = target.steps.get(step.name)
        if state is None:
            if paper is not None and not ready(paper, step) and all(
                    paper.steps.get(n) is not None and paper.steps[n].status in ("error", "skipped")
                    for n in step.needs if not paper.step_ok(n)):
                continue  # waits for a step that failed: it runs once that one is done
            left += 1
        elif state.status == "deferred":
            left += 1
    return left


def page_url(site_url: str, date: str) -> str:
    return f"{site_url.rstrip('/')}/d/{date}.html"


def publish(store: DayWriter, api: BotApi, *, chat_id: str, lang: str, top: int, site_url: str) -> Outcome:
    """Post the writer's day (or bring its post up to date), recording every message and the step's state."""
    day = store.day
    if not is_published(day):
        return Outcome("waiting", "no papers: an empty date is never posted")
    left = work_left(day)
    if left:
        return Outcome("waiting", f"{left} steps not done yet: posted once every paper is done")
    if not site_url:
        outcome = Outcome("skipped", "HFDAILY_SITE_URL is not set: the post links the day page, so it needs the "
                                     "site's public address")
        _state(store, StepState(status="skipped", error=outcome.note))
        return outcome
    stored = list(day.telegram.messages) if day.telegram is not None and day.telegram.chat_id == chat_id else []
    texts = split(post_lines(day, lang, top, page_url(site_url, day.date)), at_least=len(stored))
    texts += [FILLER] * (len(stored) - len(texts))  # fewer lines than messages: keep none stale
    outcome = Outcome("unchanged")
    try:
        for i, text in enumerate(texts):
            if i < len(stored) and (stored[i].text == text or stored[i].message_id is None):
                continue  # unchanged; or its id was lost, so it can be neither edited nor sent again
            if i < len(stored) and stored[i].message_id is not None:
                try:
                    message_id = stored[i].message_id
                    api.edit(chat_id, message_id, text)
                    outcome.edited.append(message_id)
                    _record(store, chat_id, lang, i, message_id, text, edited=True)
                    continue
                except TelegramError as exc:
                    if not (exc.code == 400 and EDIT_TARGET_GONE in exc.description):
                        raise
                    # deleted in the channel: post that part again
            try:
                message_id = api.send(chat_id, text)
            except TelegramError as exc:
                if exc.maybe_sent:  # it may be in the channel: recorded, so that no run sends it again
                    _record(store, chat_id, lang, i, None, text, edited=False)
                    raise TelegramError(f"{exc}: the message may have been posted, so it is not sent again (nothing "
                                        "is posted twice); its id is unknown, so it cannot be edited") from None
                raise
            outcome.sent.append(message_id)
            _record(store, chat_id, lang, i, message_id, text, edited=False)
    except HfDailyError as exc:
        outcome.action, outcome.error = "error", str(exc)
    else:
        outcome.action = "sent" if outcome.sent and not stored else \
            "edited" if outcome.sent or outcome.edited else "unchanged"
    post = store.day.telegram
    outcome.messages = list(post.messages) if post is not None else []
    previous = store.day.steps.get(STEP)
    if outcome.action != "unchanged" or previous is None or previous.status != "ok":
        _state(store, StepState(status="error", error=outcome.error) if outcome.error else StepState(status="ok"))
    return outcome


def _record(store: DayWriter, chat_id: str, lang: str, index: int, message_id: int | None, text: str, *,
            edited: bool) -> None:
    """Store one message of the post at once: once Telegram has it, no later failure may send it again."""
    now = utcnow()

    def change(day: DayFile) -> None:
        if day.telegram is None or day.telegram.chat_id != chat_id:
            day.telegram = TelegramPost(chat_id=chat_id, lang=lang)
        post = day.telegram
        message = TelegramMessage(message_id=message_id, text=text)
        if index < len(post.messages):
            post.messages[index] = message
        else:
            post.messages.append(message)
        post.lang = lang
        if edited:
            post.edited_at = now
        elif post.posted_at is None:
            post.posted_at = now

    store.apply(change)
    store.save()


def _state(store: DayWriter, state: StepState) -> None:
    previous = store.day.steps.get(STEP)
    if previous is not None and previous.status == state.status == "error":
        state.attempts = previous.attempts + 1

    def change(day: DayFile) -> None:
        day.steps[STEP] = state

    store.apply(change)
    store.save()
