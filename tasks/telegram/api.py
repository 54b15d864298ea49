"""A small client of Telegram's Bot API: sendMessage and editMessageText, with the house's retry policy.

Each call is retried on its own (a post of several messages never sends one twice because a later one failed):
transport errors, 5xx and 429 are retried (HFDAILY_RETRIES, delays base, 2×base … with jitter); a 429 waits
the `parameters.retry_after` Telegram asks for, and when that is longer than HFDAILY_RETRY_MAX_WAIT the call
gives up and leaves the post to the next run. Any other 4xx ("chat not found", "bot is not a member") is final.

A sendMessage whose answer was lost after the request went out (a read time-out, a dropped connection, a cut
body) may have posted the message: it is not retried (`TelegramError.maybe_sent`), since Telegram has no way
to send a message at most once. An edit is retried in every case: doing it twice changes nothing.

The token is part of every URL (`{api}/bot{token}/METHOD`), so no URL ever goes into an error or a log line:
errors name the method, and urllib3's own debug line, which quotes the request path, is redacted.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from tasks.errors import HfDailyError
from tasks.http import session
from tasks.llm.redact import REDACTED, redact, register_secret
from tasks.log import get_logger

NOT_MODIFIED = "message is not modified"
EDIT_TARGET_GONE = "message to edit not found"
_BOT_PATH = re.compile(r"/bot\S+?/(?=[A-Za-z]+(?:[\s\"?]|$))")  # /bot<token>/ before the method name


class TelegramError(HfDailyError):
    """The Bot API refused a call or could not be reached; `description` is Telegram's own words."""

    def __init__(self, message: str, *, retriable: bool = False, retry_after: float | None = None,
                 code: int | None = None, description: str = "", maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.maybe_sent = maybe_sent  # the request went out and its answer was lost
        self.retry_after = retry_after
        self.code = code
        self.description = description


class _RedactBotPath(logging.Filter):
    """Takes the token out of urllib3's `"POST /bot<token>/sendMessage HTTP/1.1" 200` debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_BOT_PATH.sub(f"/bot{REDACTED}/", a) if isinstance(a, str) else a
                                for a in (record.args if isinstance(record.args, tuple) else (record.args,)))
        if isinstance(record.msg, str):
            record.msg = _BOT_PATH.sub(f"/bot{REDACTED}/", record.msg)
        return True


def _guard_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactBotPath) for f in logger.filters):
        logger.addFilter(_RedactBotPath())


class BotApi:
    """One bot's calls to one Bot API server (https://api.telegram.org, or the sandbox)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retries: int = 3,
                 base_delay: float = 2.0, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        register_secret(token)  # any error text quoting it is redacted from here on
        _guard_logs()
        self._base = base_url.rstrip("/")
        self._token = token
        self.timeout, self.retries, self.base_delay, self.max_wait = timeout, retries, base_delay, max_wait
        self._sleep = sleep
        self._http = session()

    def send(self, chat_id: str, text: str) -> int:
        """Post `text` (Telegram HTML) to the chat; the new message's id."""
        result = self.call("sendMessage", {"chat_id": _chat(chat_id), "text": text, "parse_mode": "HTML",
                                           "link_preview_options": {"is_disabled": True}}, idempotent=False)
        message_id = result.get("message_id") if isinstance(result, dict) else None
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise TelegramError("Telegram sendMessage: the answer has no message_id")
        return message_id

    def edit(self, chat_id: str, message_id: int, text: str) -> None:
        """Replace a message's text; an edit to the text it already has is no error (a retried edit)."""
        try:
            self.call("editMessageText", {"chat_id": _chat(chat_id), "message_id": message_id, "text": text,
                                          "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}})
        except TelegramError as exc:
            if exc.code == 400 and NOT_MODIFIED in exc.description:
                return
            raise

    def call(self, method: str, payload: dict[str, Any], *, idempotent: bool = True) -> Any:
        """One Bot API method, retried on transient errors; its `result`, or TelegramError. A call that is not
        `idempotent` is not retried once it may have taken effect."""
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, payload)
            except TelegramError as exc:
                if not exc.retriable or attempt >= self.retries or (exc.maybe_sent and not idempotent):
                    raise
                if exc.retry_after is not None:
                    wait = exc.retry_after
                    if wait > self.max_wait:
                        raise TelegramError(
                            f"{exc}; Telegram asks to wait {wait:g} s, more than HFDAILY_RETRY_MAX_WAIT "
                            f"({self.max_wait:g} s): left for the next run", retriable=True, retry_after=wait,
                            code=exc.code, description=exc.description) from None
                else:
                    wait = min(self.base_delay * 2 ** attempt * random.uniform(0.5, 1.5), self.max_wait)
                get_logger().info("%s; retry %d/%d in about %.3g s", exc, attempt + 1, self.retries, wait)
                self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, method: str, payload: dict[str, Any]) -> Any:
        what = f"Telegram {method}"
        try:
            resp = self._http.post(f"{self._base}/bot{self._token}/{method}", json=payload, timeout=self.timeout)
            body = resp.json()
        except requests.RequestException as exc:  # its text quotes the URL, and so the token: only its type
            kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            unsent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError
                                                                             | ConnectTimeoutError)
            raise TelegramError(f"{what}: {kind} ({type(exc).__name__})", retriable=True,
                                maybe_sent=not unsent) from None
        except ValueError:  # a cut body or a proxy's HTML page
            raise TelegramError(f"{what}: HTTP {resp.status_code}, the answer is not JSON",
                                retriable=resp.status_code == 200 or resp.status_code >= 500
                                or resp.status_code == 429, maybe_sent=resp.status_code == 200) from None
        if not isinstance(body, dict):
            raise TelegramError(f"{what}: HTTP {resp.status_code}, the answer is not a Bot API object",
                                retriable=resp.status_code >= 500)
        if body.get("ok") is True and resp.status_code == 200:
            return body.get("result")
        code = body.get("error_code") if isinstance(body.get("error_code"), int) else resp.status_code
        description = redact(" ".join(str(body.get("description") or f"HTTP {code}").split()), [self._token])[:300]
        params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = params.get("retry_after")
        retry_after = float(retry_after) if isinstance(retry_after, int | float) and retry_after >= 0 else None
        retriable = code == 429 or code >= 500
        raise TelegramError(f"{what}: {description} (HTTP {code})", retriable=retriable,
                            retry_after=retry_after if retriable else None, code=code, description=description)


def _chat(chat_id: str) -> int | str:
    """A numeric chat id as a number, a `@channel` name as it is (the Bot API takes either)."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def message_link(chat_id: str, message_id: int) -> str | None:
    """t.me link to a channel message: public `@name` → t.me/name/ID; a `-100…` id → t.me/c/…/ID (members only)."""
    if chat_id.startswith("@"):
        return f"https://t.me/{chat_id[1:]}/{message_id}"
    if chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None
