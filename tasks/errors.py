"""Typed errors. `retriable` tells Prefect's retry condition (and the LLM layer) whether trying again can help."""

from __future__ import annotations


class HfDailyError(Exception):
    """Base of every error hfdaily raises on purpose; its message is meant for a human."""

    retriable: bool = False


class RetriableError(HfDailyError):
    """A transient failure: timeouts, connection errors, 429 and 5xx answers."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidDateError(HfDailyError, ValueError):
    """A date argument that is not a valid, allowed YYYY-MM-DD date."""


class InvalidSettingError(HfDailyError, ValueError):
    """A setting from the environment or `.env` that breaks its rule; the message names the variable and the rule."""


class FeedError(HfDailyError):
    """The HF API rejected the request or answered with something that is not a feed."""


class PdfError(HfDailyError):
    """A PDF could not be downloaded or read (not a PDF, too large, corrupt, parse time-out)."""


class StoreError(HfDailyError):
    """The day store could not be read or written (corrupt file, permission denied, disk full)."""


def is_retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))
