"""Plain HTTP helpers shared by the feed and PDF tasks: one session, typed errors, Retry-After."""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

import requests

from tasks.errors import RetriableError

USER_AGENT = "hfdaily/0.1 (+https://github.com/hfdaily)"
RETRIABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    return s


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_if_retriable(resp: requests.Response, what: str, *, max_wait: float) -> None:
    """Raise RetriableError for 429/5xx, after honouring a (capped) Retry-After."""
    if resp.status_code not in RETRIABLE_STATUS:
        return
    wait = parse_retry_after(resp.headers.get("Retry-After"))
    if wait:
        time.sleep(min(wait, max_wait))
    raise RetriableError(f"{what}: HTTP {resp.status_code}", retry_after=wait)


def transport_error(exc: requests.RequestException, what: str) -> RetriableError:
    kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
    return RetriableError(f"{what}: {kind} ({type(exc).__name__})")
