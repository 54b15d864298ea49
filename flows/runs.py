"""Flow run names that cannot fail, and the hook that names a run which crashed before it got its name.

Prefect names a run twice: the server gives it a random name (`zealous-polecat`) when it is created, and the
engine replaces that with the flow's `flow_run_name` once the run begins. Two things can leave the random name:

- a `flow_run_name` callable that raises: the engine then stops before the run even starts, so it stays
  Pending, unnamed, for good. `never_fails` gives such a callable a fixed fallback instead.
- a run that crashes before it begins (its process killed, the API unreachable at start): the worker, `hfdaily
  serve` or the engine marks it Crashed and calls the flow's `on_crashed` hooks; `name_if_crashed` names it
  there, from its parameters, so the dashboard and the "run failed" alert say which date it was for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from tasks.log import get_logger


def never_fails(fallback: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Wrap a `flow_run_name` callable so that any error gives `fallback` instead of a run stuck in Pending."""

    def wrap(name: Callable[[], str]) -> Callable[[], str]:
        @functools.wraps(name)
        def safe() -> str:
            try:
                return name()
            except Exception:  # a name is not worth a run: the run itself reports what is wrong
                return fallback

        return safe

    return wrap


def minute_name(prefix: str, when: datetime | None) -> str:
    """`rebuild-site-2025-01-23T1405`: the prefix and the minute (UTC) the run was scheduled for, else now."""
    moment = when.astimezone(UTC) if when is not None and when.tzinfo else (when or datetime.now(UTC))
    return f"{prefix}-{moment:%Y-%m-%dT%H%M}"


def name_if_crashed(name_of: Callable[[Mapping[str, Any], datetime | None], str]) -> Callable[..., Any]:
    """An `on_crashed` hook that gives the run the name `name_of(parameters, scheduled time)` if it has another."""

    async def name_crashed_run(flow: Any, flow_run: Any, state: Any) -> None:
        from prefect.client.orchestration import get_client

        try:
            wanted = name_of(flow_run.parameters or {}, flow_run.expected_start_time)
            if wanted and flow_run.name != wanted:
                async with get_client() as client:
                    await client.set_flow_run_name(flow_run.id, wanted)
        except Exception as exc:  # the run is final already; a name is a convenience
            get_logger().warning("could not name the crashed run %s: %s", flow_run.id, exc)

    return name_crashed_run
