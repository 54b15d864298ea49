"""Wait, after a deployment run is final, until the process that ran it has gone — from its worker's own report.

Why: a flow-run process reports its final state first and exits after (it flushes logs and events, stops its PDF
parser workers, tears down its interpreter). A backfill that starts the next date the moment a run reads final
has, for those seconds, more date processes than `max_parallel` on the workers, and the longer the backfill, the
more often such overlaps meet the other runs' peaks (docs/benchmarks.md, "Flat memory").

The signal: a Prefect worker emits `prefect.worker.executed-flow-run`, related to the flow run, once the run's
infrastructure (for the process worker: the process) has exited. It reaches the server wherever the worker runs,
so it works for a backfill spread over several machines. Infrastructure that does not send it (`hfdaily serve`,
an older worker) costs one bounded wait per backfill: once a wait times out before any report came, `ExitWatch`
stops waiting. Measured on a busy SQLite server (4 dates in flight), a daily run's process lived on past its final
state for 5.7 s (median) to 60 s, at its full ~250 MB: shipping its last logs through the API's 503 retries, or
waiting on a shared-budget slot request still in flight when the run ended. Since the shared budgets close with the
process's last run (tasks/llm/shared.py): 2.8 s (median) to 6.1 s (docs/benchmarks.md).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventRelatedFilter

EXECUTED = "prefect.worker.executed-flow-run"
EXIT_WAIT_SECONDS = 60.0  # the longest exit measured (a busy server); the server may store events 5 s late
POLL_SECONDS = 0.5


def exit_reported(client: Any, run_id: UUID, since: datetime) -> bool:
    """True once the server holds the worker's report that run `run_id`'s process exited."""
    # `until` a while ahead: the worker's clock (another machine) may run ahead of this one.
    occurred = EventOccurredFilter(since=since, until=datetime.now(UTC) + timedelta(hours=1))
    found = client.read_events(EventFilter(occurred=occurred, event=EventNameFilter(name=[EXECUTED]),
                                           related=EventRelatedFilter(id=[f"prefect.flow-run.{run_id}"])), limit=1)
    return bool(found.events)


class ExitWatch:
    """One per backfill, shared by its threads: `wait` returns once a final run's process has exited."""

    def __init__(self, timeout: float = EXIT_WAIT_SECONDS, poll: float = POLL_SECONDS) -> None:
        self.timeout, self.poll = timeout, poll
        self._unreported = threading.Event()  # set once a wait timed out before any report came
        self._reported = threading.Event()  # set by the first report: this infrastructure sends them
        self.waited: list[float] = []  # seconds each wait took (tests, logs)

    @property
    def active(self) -> bool:
        return not self._unreported.is_set()

    def wait(self, client: Any, run_id: UUID, since: datetime) -> bool:
        """Poll for the exit report of `run_id` (started at or after `since`); False if it did not come in time,
        or the server could not say (a failed read is not worth holding the backfill up for)."""
        if not self.active:
            return False
        began = time.monotonic()
        while True:
            try:
                if exit_reported(client, run_id, since):
                    self._reported.set()
                    self.waited.append(time.monotonic() - began)
                    return True
            except Exception:
                return False
            if time.monotonic() - began >= self.timeout:
                if not self._reported.is_set():  # never a report: not one to wait for on the next dates
                    self._unreported.set()
                return False
            time.sleep(self.poll)
