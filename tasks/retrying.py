"""Prefect retry settings shared by the HTTP tasks: backoff with jitter, transient errors only."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from tasks.errors import is_retriable
from tasks.settings import Settings


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only timeouts, connection errors, 429 and 5xx (a 404 or a corrupt PDF will not heal)."""
    try:
        state.result()
    except Exception as exc:  # the task's own exception
        return is_retriable(exc)
    return False


def retry_options(settings: Settings) -> dict[str, Any]:
    """Options for `task.with_options(...)`: delays base, 2×base, 4×base … each ±50 % jitter."""
    return {
        "retries": settings.retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=settings.retry_base_delay)(settings.retries)
        if settings.retries else 0,
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_if_transient,
    }
