"""Telling a dead child run from a slow one by its date's lease (the backfill's watch in deployment mode)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tasks.childwatch import ChildWatch
from tasks.lease import LeaseRecord
from tasks.models import utcnow
from tasks.storage import open_storage

KEY = "leases/2025-01-20.json"


def _lease(run: str, *, released: bool = False, beat: int = 0) -> bytes:
    now = utcnow() + timedelta(seconds=beat)
    return LeaseRecord(holder=f"h:{run}", what="a run of 2025-01-20", run=run, ttl=10, acquired_at=now,
                       renewed_at=now, expires_at=now + timedelta(seconds=10), released=released).encode()


def test_a_run_whose_lease_stops_changing_is_dead_after_its_ttl(tmp_path: Path) -> None:
    store = open_storage(tmp_path)
    watch = ChildWatch(store, KEY, "run-1", grace=30)
    assert not watch.dead("PENDING", now=0)  # no lease yet: starting up
    store.write(KEY, _lease("run-1"))
    assert not watch.dead("RUNNING", now=5)
    store.write(KEY, _lease("run-1", beat=3))  # renewed: a new version
    assert not watch.dead("RUNNING", now=12)
    assert not watch.dead("RUNNING", now=21)  # unchanged for 9 s of a 10 s ttl
    assert watch.dead("RUNNING", now=22.5) and "not renewed for 10 s" in watch.reason
    assert not watch.dead("COMPLETED", now=100)  # a final run is never dead


def test_a_run_waiting_for_another_runs_live_lease_is_not_dead(tmp_path: Path) -> None:
    store = open_storage(tmp_path)
    watch = ChildWatch(store, KEY, "run-2", grace=30)
    for t in range(0, 100, 5):
        store.write(KEY, _lease("scheduled-run", beat=t))  # the other run keeps renewing
        assert not watch.dead("RUNNING", now=t)


def test_no_live_lease_for_the_grace_period_is_death(tmp_path: Path) -> None:
    store = open_storage(tmp_path)
    watch = ChildWatch(store, KEY, "run-3", grace=30)
    assert not watch.dead("RUNNING", now=0) and not watch.dead("RUNNING", now=29)
    assert watch.dead("RUNNING", now=30) and "no live lease" in watch.reason
    store.write(KEY, _lease("run-3", released=True))  # released, yet the run never ends
    watch = ChildWatch(store, KEY, "run-3", grace=30)
    assert not watch.dead("RUNNING", now=100) and watch.dead("RUNNING", now=131)
