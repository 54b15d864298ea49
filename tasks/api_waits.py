"""Say at INFO when Prefect's client waits for a busy or unreachable API, and why.

Prefect's HTTP client retries a call that got 429/502/503 or no connection, up to PREFECT_CLIENT_MAX_RETRIES (5)
times after about 2, 4, 8, 16, 32 s, and logs each wait only at DEBUG (`prefect.client`). A SQLite server under
several writers answers 503 ("database is locked") often enough that backfill dates started half a minute late
with nothing said. `announce_api_waits()` turns exactly those lines into one INFO line each:

    Prefect API busy (HTTP 503; a SQLite server says so while another write holds the database): the call is
    retried in 4.1 s (attempt 2 of 6)

It lets DEBUG records of `prefect.client` through its level and drops, in a filter, every one that is not a
retry, so nothing else changes. The `hfdaily` command calls it first; the flows call it again when they start
(a worker's run is a process of its own).
"""

from __future__ import annotations

import logging
import re

CLIENT_LOGGER = "prefect.client"
NOTICE = "hfdaily_notice"  # set on the records rewritten here, so the CLI's quiet console shows them
_RETRY = re.compile(
    r"^(?:Received response with retryable status code (?P<status>\w+)|Encountered retryable exception during request)"
    r"\. Another attempt will be made in (?P<wait>[\d.]+)s\. This is attempt (?P<attempt>\d+)/(?P<total>\d+)\.$"
)


def describe_wait(message: str, exc_type: str | None = None) -> str | None:
    """The INFO line for a retry message of Prefect's client, or None if `message` is not one."""
    match = _RETRY.match(message)
    if match is None:
        return None
    status = match["status"]
    if status == "503":
        why = "Prefect API busy (HTTP 503; a SQLite server says so while another write holds the database)"
    elif status:
        why = f"Prefect API answered HTTP {status}"
    else:
        why = f"Prefect API did not answer ({exc_type or 'connection error'})"
    return (f"{why}: the call is retried in {float(match['wait']):.1f} s "
            f"(attempt {match['attempt']} of {match['total']})")


class _RetriesAtInfo(logging.Filter):
    """On `prefect.client`: retry records become INFO with a plain reason; other records below `threshold` go."""

    def __init__(self, threshold: int) -> None:
        super().__init__("hfdaily-api-waits")
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.threshold:
            return True
        exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        line = describe_wait(record.getMessage(), exc_type)
        if line is None:
            return False
        record.msg, record.args, record.exc_info, record.exc_text = line, (), None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
        setattr(record, NOTICE, True)
        return True


def announce_api_waits() -> None:
    """Install the filter once per process (later calls do nothing)."""
    logger = logging.getLogger(CLIENT_LOGGER)
    if any(isinstance(f, _RetriesAtInfo) for f in logger.filters):
        return
    threshold = logger.getEffectiveLevel()
    if threshold <= logging.DEBUG:
        return  # DEBUG is on already: Prefect's own retry lines are shown as they are
    # Loggers below prefect.client would inherit DEBUG from it: keep them where they were (subscriptions is made
    # on first import, so it is made here).
    logging.getLogger(CLIENT_LOGGER + ".subscriptions")
    for name, child in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith(CLIENT_LOGGER + ".") and isinstance(child, logging.Logger) and child.level == logging.NOTSET:
            child.setLevel(threshold)
    logger.addFilter(_RetriesAtInfo(threshold))
    logger.setLevel(logging.DEBUG)
