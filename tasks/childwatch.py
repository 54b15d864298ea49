"""Telling a dead run of a date from a slow one, by the date's lease (for a backfill waiting on its dates).

A run of `daily` on a worker that is killed (the machine, the container, the process) stays *Running* in
Prefect: nothing in the server notices by default. Its lease does: a live run renews it every ttl/3 s. So a
backfill waiting for a date's run calls that run dead when, while Prefect still shows it Pending or Running,

- the date's lease names that run and has not changed for its whole ttl (the run stopped renewing), or
- no live lease has been seen for `grace` seconds (the run died before taking the lease, or after releasing it
  without ever ending).

A lease held by *another* run of the date (the scheduled daily run, say) is live: this run may be waiting for
it, which is not death.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tasks.lease import LeaseRecord, parse_record
from tasks.storage import Storage


@dataclass
class _Seen:
    version: str
    since: float


class ChildWatch:
    """Fed the run's state each poll; `dead()` says when the run can no longer be making progress."""

    def __init__(self, storage: Storage, lease_key: str, run_id: str, *, grace: float) -> None:
        self.storage, self.key, self.run_id, self.grace = storage, lease_key, run_id, grace
        self._seen: _Seen | None = None
        self._no_live_lease_since: float | None = None
        self.reason = ""

    def dead(self, state_type: str | None, now: float | None = None) -> bool:
        """True when a run Prefect shows as Pending or Running has stopped (see the module docstring)."""
        now = time.monotonic() if now is None else now
        if state_type not in ("PENDING", "RUNNING"):
            self._no_live_lease_since = None
            return False
        current = self.storage.read_versioned(self.key)
        record: LeaseRecord | None = None
        if current is not None:
            record = parse_record(current[0])
            if self._seen is None or self._seen.version != current[1]:
                self._seen = _Seen(current[1], now)
        live = record is not None and not record.released and now - self._seen.since < record.ttl  # type: ignore[union-attr]
        if record is not None and record.run == self.run_id and not record.released and not live:
            self.reason = f"its lease {self.key} was not renewed for {record.ttl:.0f} s"
            return True
        if live:
            self._no_live_lease_since = None
            return False
        if self._no_live_lease_since is None:
            self._no_live_lease_since = now
        if now - self._no_live_lease_since >= self.grace:
            self.reason = f"no live lease {self.key} for {self.grace:.0f} s while it was {state_type.lower()}"
            return True
        return False
