"""The Telegram step of a daily run: the task run `telegram-DATE`, its artifact, and when it runs at all.

It runs only when the channel is configured (a bot token, from TELEGRAM_BOT_TOKEN or the Secret block
`hfdaily-telegram-bot-token`, and HFDAILY_TELEGRAM_CHAT_ID) and the run may post (`post`; a backfill may not).
Nothing here can fail the day: the day is stored before the post is tried, and what went wrong is the step's
state in the day file (`steps.telegram`), a warning line and the task run's Failed state.
"""

from __future__ import annotations

import re

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from tasks.lease import Lease
from tasks.log import get_logger
from tasks.settings import SecretBlockError, Settings, load_settings
from tasks.store import DayWriter
from tasks.telegram.api import BotApi, message_link
from tasks.telegram.publish import Outcome, page_url, publish


def artifact_key(date: str) -> str:
    return f"hfdaily-day-{date}-telegram"


@task(name="telegram", task_run_name="telegram-{date}", cache_policy=NO_CACHE,
      retries=0)  # each Bot API call is retried on its own (tasks/telegram/api.py)
def telegram_post(date: str, store: DayWriter) -> State:
    """Post the day to the channel, or bring its post up to date."""
    settings = load_settings()
    token = settings.telegram_token()
    assert token, "telegram_post runs only with a bot token"
    api = BotApi(settings.telegram_api_url, token, timeout=settings.http_timeout, retries=settings.retries,
                 base_delay=settings.retry_base_delay, max_wait=settings.retry_max_wait)
    outcome = publish(store, api, chat_id=settings.telegram_chat_id, lang=settings.telegram_lang,
                      top=settings.telegram_top, site_url=settings.site_url)
    if outcome.action in ("sent", "edited", "unchanged", "error"):
        _artifact(settings, date, outcome)
    if outcome.error:
        return Failed(data=outcome, message=outcome.error)
    return Completed(data=outcome, name=outcome.action.capitalize(), message=summary(outcome))


def summary(outcome: Outcome) -> str:
    """One line: `sent 1 message (12)`, `edited 2 messages (12, 13)`, `unchanged: nothing sent`, …"""
    if outcome.action in ("sent", "edited"):
        parts = []
        if outcome.sent:
            parts.append(f"sent {_count(outcome.sent)}")
        if outcome.edited:
            parts.append(f"edited {_count(outcome.edited)}")
        return ", ".join(parts)
    if outcome.action == "unchanged":
        n = len(outcome.messages)
        return f"unchanged ({n} message{'s' if n != 1 else ''}): nothing sent"
    return f"{outcome.action}: {outcome.error or outcome.note}"


def _count(ids: list[int]) -> str:
    return f"{len(ids)} message{'s' if len(ids) != 1 else ''} ({', '.join(map(str, ids))})"


def post_day(store: DayWriter, settings: Settings, *, enabled: bool, lease: Lease | None = None) -> Outcome | None:
    """Run the Telegram step when it is configured and allowed; None when it did not run. Never raises."""
    date = store.day.date
    log = get_logger()
    if not settings.telegram_chat_id:
        if settings.telegram_bot_token is not None:
            log.warning("%s: TELEGRAM_BOT_TOKEN is set but HFDAILY_TELEGRAM_CHAT_ID is not: not posting", date)
        return None
    try:
        token = settings.telegram_token()
    except SecretBlockError as exc:
        log.warning("%s: not posting to Telegram: %s", date, exc)
        return None
    if not token:
        log.warning("%s: HFDAILY_TELEGRAM_CHAT_ID is set but there is no bot token (TELEGRAM_BOT_TOKEN, or the "
                    "Secret block hfdaily-telegram-bot-token with HFDAILY_USE_SECRET_BLOCKS=true): not posting", date)
        return None
    if not enabled:
        log.info("%s: not posted to Telegram (post is off for this run)", date)
        return None
    if lease is not None and lease.lost.is_set():
        return None  # another run holds the date now: it posts
    try:
        state = telegram_post(date, store, return_state=True)
        outcome = state.result(raise_on_failure=False)
    except Exception as exc:  # the day is stored already: a broken post must not fail it
        outcome = exc
    if not isinstance(outcome, Outcome):
        log.warning("%s: telegram (day): %s: %s", date, type(outcome).__name__, outcome)
        return None
    if outcome.action == "error":
        log.warning("%s: telegram (day): %s", date, " ".join(str(outcome.error).split())[:300])
    elif outcome.action == "skipped":
        log.warning("%s: not posted to Telegram: %s", date, outcome.note)
    else:
        log.info("%s: Telegram: %s", date, summary(outcome) if outcome.action != "waiting" else
                 f"not posted yet: {outcome.note}")
    return outcome


def _artifact(settings: Settings, date: str, outcome: Outcome) -> None:
    """What the channel has now: each message with its link, and its text (best effort)."""
    chat = settings.telegram_chat_id
    done = {**{m: "sent" for m in outcome.sent}, **{m: "edited" for m in outcome.edited}}
    lines = [f"# Telegram post of {date}", "",
             f"**{summary(outcome)}** - chat `{chat}`, language {settings.telegram_lang}", ""]
    if settings.site_url:
        lines += [f"Day page: [{page_url(settings.site_url, date)}]({page_url(settings.site_url, date)})", ""]
    if outcome.messages:
        lines += ["| # | message | link | this run |", "|---:|---:|---|---|"]
        for i, message in enumerate(outcome.messages, 1):
            link = message_link(chat, message.message_id)
            lines.append(f"| {i} | {message.message_id} | {f'[{link}]({link})' if link else '-'} | "
                         f"{done.get(message.message_id, 'unchanged')} |")
        text = "\n\n".join(m.text for m in outcome.messages)
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
        lines += ["", "Text as sent (Telegram HTML):", "", fence + "html", text, fence]
    try:
        create_markdown_artifact("\n".join(lines), key=artifact_key(date),
                                 description=f"Telegram post of {date}: {summary(outcome)}")
    except Exception as exc:
        get_logger().warning("telegram artifact not published: %s", exc)
