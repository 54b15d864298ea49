"""Prefect retry settings shared by the HTTP tasks: backoff with jitter, transient errors only.

Each retry is announced in one line at INFO, as it is decided (`HF feed 2025-01-23 page 0: connection failed
(ConnectionError); retry 1/3 in about 2 s`): the console of `hfdaily` and the run's logs show what is being
waited for. Prefect's own retry line, with its exception repr, stays in the dashboard and the log file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect.tasks import exponential_backoff

from tasks.errors import is_retriable
from tasks.log import get_logger
from tasks.settings import Settings


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only timeouts, connection errors, 429 and 5xx (a 404 or a corrupt PDF will not heal).

    Prefect asks only while retries are left, so a True here is a retry that will happen: say so.
    """
    try:
        state.result()
    except Exception as exc:  # the task's own exception
        if not is_retriable(exc):
            return False
        get_logger().info("%s", retry_notice(exc, task_run, task))
        return True
    return False


def retry_notice(exc: BaseException, task_run: Any, task: Any) -> str:
    """`<reason>; retry N/M in about S s` for the attempt that just failed (S before Prefect's jitter)."""
    attempt = max(1, int(getattr(task_run, "run_count", 1) or 1))
    total = int(getattr(task, "retries", 0) or 0)
    delays = getattr(task, "retry_delay_seconds", 0) or 0
    if isinstance(delays, Sequence):
        delay = float(delays[min(attempt - 1, len(delays) - 1)]) if delays else 0.0
    else:
        delay = float(delays)
    when = f"in about {delay:.3g} s" if delay > 0 else "now"
    return f"{exc}; retry {attempt}/{total} {when}"


def retry_options(settings: Settings) -> dict[str, Any]:
    """Options for `task.with_options(...)`: delays base, 2×base, 4×base … each ±50 % jitter."""
    return {
        "retries": settings.retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=settings.retry_base_delay)(settings.retries)
        if settings.retries else 0,
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_if_transient,
    }
