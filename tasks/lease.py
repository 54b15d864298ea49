"""Leases: keep two runs of one date (and two renders) apart on any store, local disk or a bucket.

A lease is a small JSON object, `<data>/leases/NAME.json`: who holds it, for what, and until when. It is taken
with a conditional write (create-if-absent, or replace-if-unchanged of a released or expired lease), so of two
takers exactly one wins. The holder renews it every ttl/3 seconds from a background thread (replace-if-unchanged
again); a holder that is killed stops renewing, and its lease is free once it has gone unrenewed for its ttl:

- a waiter that sees the same version of the lease for `ttl` seconds of its own clock takes it over (no
  clock has to agree with another machine's), and so does any taker finding `expires_at` more than one ttl in
  the past (a lease left behind long ago);
- so a killed holder's claim ends at most one ttl (+ one poll) after its last renewal for a run already
  waiting, and at most two ttl for one that arrives later. Default ttl: HFDAILY_LEASE_TTL = 60 s.

A holder whose renewal finds another holder's lease (or that could not renew for a whole ttl) has lost it:
`Lease.lost` is set and `check()` raises, so the holder stops starting work. Nothing is ever deleted: a holder
that ends writes its lease back as released, so a taker can tell "free" from "busy" with one read.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from pydantic import BaseModel, ValidationError

from tasks.errors import StoreError
from tasks.log import get_logger
from tasks.models import utcnow
from tasks.storage import Storage

POLL_SECONDS = 1.0  # how often a waiter looks at a busy lease (one GET)


class LeaseLost(StoreError):
    """Another holder took this lease over: the run it guarded must stop starting work."""


class LeaseRecord(BaseModel):
    holder: str  # host:pid:random, unique per acquisition
    what: str  # "daily run of 2025-01-20", for people reading the object or the wait message
    run: str | None = None  # the Prefect flow run id, when there is one
    ttl: float
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    released: bool = False

    def encode(self) -> bytes:
        return self.model_dump_json(indent=1).encode()


class Lease:
    """A lease this process holds. `lost` is set once another holder has it."""

    def __init__(self, storage: Storage, key: str, record: LeaseRecord, version: str) -> None:
        self.storage, self.key, self.record, self.version = storage, key, record, version
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._callbacks: list[Callable[[], None]] = []

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from the renewing thread) when the lease is lost; at once if it already is."""
        self._callbacks.append(callback)
        if self.lost.is_set():
            callback()

    def _lose(self) -> None:
        self.lost.set()
        for callback in self._callbacks:
            with contextlib.suppress(Exception):
                callback()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"lost the lease {self.key} ({self.record.what}) to another holder")

    def renew(self) -> bool:
        """Push the expiry one ttl further; False (and `lost` set) when another holder has the lease."""
        now = utcnow()
        fresh = self.record.model_copy(update={"renewed_at": now, "expires_at": now + _ttl(self.record)})
        version = self.storage.replace(self.key, fresh.encode(), self.version)
        if version is None:
            current = _read(self.storage, self.key)
            if current is not None and current[0].holder == self.record.holder and not current[0].released:
                self.record, self.version = current  # our own write landed although the answer was lost
                return True
            self._lose()
            return False
        self.record, self.version = fresh, version
        return True

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.key}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        ttl = self.record.ttl
        last_ok = time.monotonic()
        while not self._stop.wait(ttl / 3):
            try:
                if not self.renew():
                    get_logger().warning("lease %s (%s) was taken over by another holder", self.key, self.record.what)
                    return
                last_ok = time.monotonic()
            except Exception as exc:  # the store is unreachable: others may take the lease once it expires
                if time.monotonic() - last_ok > ttl:
                    self._lose()
                    get_logger().warning("lease %s not renewed for %.0f s (%s): treating it as lost",
                                         self.key, ttl, exc)
                    return

    def release(self) -> None:
        """Stop renewing and mark the lease released (only if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.lost.is_set():
            return
        now = utcnow()
        done = self.record.model_copy(update={"released": True, "renewed_at": now, "expires_at": now})
        with contextlib.suppress(Exception):  # an unreleased lease expires on its own
            self.storage.replace(self.key, done.encode(), self.version)


def acquire(storage: Storage, key: str, *, what: str, ttl: float, wait: float, run: str | None = None,
            on_wait: Callable[[LeaseRecord], None] | None = None) -> Lease:
    """Take the lease, waiting up to `wait` seconds for a busy one; StoreError when it stays busy."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait
    seen: tuple[str, float] | None = None  # (version, when this process first saw it)
    told = False
    while True:
        now = utcnow()
        mine = LeaseRecord(holder=holder, what=what, run=run, ttl=ttl, acquired_at=now, renewed_at=now,
                           expires_at=now + timedelta(seconds=ttl))
        current = storage.read_versioned(key)
        if current is None:
            version = storage.create(key, mine.encode(), content_type="application/json")
            if version is not None:
                return Lease(storage, key, mine, version)
            continue  # another taker created it first: look at theirs
        data, version = current
        other = parse_record(data)
        if other is not None and other.holder == holder:  # our own write landed although the answer was lost
            return Lease(storage, key, other, version)
        if seen is None or seen[0] != version:
            seen = (version, time.monotonic())
        if other is None or other.released or _expired(other, now, time.monotonic() - seen[1]):
            taken = storage.replace(key, mine.encode(), version, content_type="application/json")
            if taken is not None:
                if other is not None and not other.released:
                    get_logger().warning("took over the expired lease %s of %s (%s)", key, other.holder, other.what)
                return Lease(storage, key, mine, taken)
            continue
        if time.monotonic() >= deadline:
            raise StoreError(f"{other.what} held {key} for more than {wait:.0f} s (holder {other.holder})")
        if not told and on_wait is not None:
            on_wait(other)
            told = True
        time.sleep(min(POLL_SECONDS, max(0.05, deadline - time.monotonic())))


@contextlib.contextmanager
def hold(storage: Storage, key: str, *, what: str, ttl: float, wait: float, run: str | None = None,
         on_wait: Callable[[LeaseRecord], None] | None = None) -> Iterator[Lease]:
    """Hold the lease for the block, renewed in the background; released at the end (even on errors)."""
    try:
        lease = acquire(storage, key, what=what, ttl=ttl, wait=wait, run=run, on_wait=on_wait)
    except OSError as exc:
        raise StoreError(f"cannot take the lease {storage.describe(key)}: {exc}") from exc
    lease.start_heartbeat()
    try:
        yield lease
    finally:
        lease.release()


def _expired(record: LeaseRecord, now: datetime, unchanged_for: float) -> bool:
    """Unrenewed for a whole ttl by this process's clock, or expired a ttl ago by the writer's."""
    ttl = _ttl(record)
    return unchanged_for >= record.ttl or record.expires_at + ttl < now


def _ttl(record: LeaseRecord) -> timedelta:
    return timedelta(seconds=record.ttl)


def parse_record(data: bytes) -> LeaseRecord | None:
    try:
        return LeaseRecord.model_validate_json(data)
    except (ValidationError, ValueError):
        return None  # unreadable: treated as free, and replaced conditionally like any other


def _read(storage: Storage, key: str) -> tuple[LeaseRecord, str] | None:
    current = storage.read_versioned(key)
    if current is None:
        return None
    record = parse_record(current[0])
    return None if record is None else (record, current[1])
