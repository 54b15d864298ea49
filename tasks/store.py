"""The day store: one JSON file per date in the data dir (local or a bucket), merged rather than overwritten.

A run changes its date's day through a `DayWriter`: every change is applied to the writer's copy and also kept
until the next save; a save is a replace-if-unchanged of the version the writer last read or wrote. When
another writer got there first (its lease was taken over from it, or it took one over), the save reloads the
stored day, applies the pending changes to it again and retries, so a result stored by either writer is kept.

`day_lease` and `site_lease` keep runs of one date, and renders of the site, apart (tasks/lease.py).
"""

from __future__ import annotations

import contextlib
import errno
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from tasks.errors import StoreError
from tasks.lease import Lease, LeaseRecord, hold
from tasks.log import get_logger
from tasks.models import FEED_FIELDS, SCHEMA_VERSION, DayFile, Paper, PaperRecord, utcnow
from tasks.settings import Settings
from tasks.storage import Storage

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
DAYS = "days"
MAX_CONFLICTS = 20  # saves lost to another writer in a row before giving up (each one merges and retries)


def day_key(date: str) -> str:
    return f"{DAYS}/{date}.json"


def load_day(settings: Settings, date: str) -> DayFile:
    """The stored day, or a new empty one. A corrupt or newer-schema file is an error, never overwritten."""
    return _load(settings.data, date)[0]


def _load(storage: Storage, date: str) -> tuple[DayFile, str | None]:
    key = day_key(date)
    current = read_stored(storage, key)
    if current is None:
        return DayFile(date=date), None
    return parse_day(current[0], storage.describe(key)), current[1]


def read_stored(storage: Storage, key: str) -> tuple[bytes, str] | None:
    """The stored bytes and their version, or None if absent; an unreadable store is a StoreError."""
    try:
        return storage.read_versioned(key)
    except OSError as exc:
        raise StoreError(f"cannot read {storage.describe(key)}: {exc.strerror or exc}") from exc


def parse_stored(raw: bytes, where: str, model: type[M], what: str) -> M:
    """A stored JSON record of `model`; a corrupt or newer-schema one is a StoreError, never overwritten."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{where} is not valid JSON ({exc}); fix or move it away, it was left as is") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StoreError(f"{where} has schema_version {version!r}; this hfdaily reads up to {SCHEMA_VERSION}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StoreError(f"{where} does not match the {what} schema: {exc.error_count()} problems") from exc


def parse_day(raw: bytes, where: str) -> DayFile:
    return parse_stored(raw, where, DayFile, "day")


def save_day(settings: Settings, day: DayFile) -> str:
    """Write the day as it is, unconditionally (tools and tests; a run saves through a DayWriter)."""
    key = day_key(day.date)
    _write(settings.data, key, lambda: settings.data.write(key, _encode(day), content_type=_JSON, durable=True))
    return key


class DayWriter:
    """A run's copy of one date's day file, saved without ever losing another writer's results."""

    def __init__(self, settings: Settings, date: str) -> None:
        self.storage = settings.data
        self.key = day_key(date)
        self.day, self.version = _load(self.storage, date)
        self._pending: list[Callable[[DayFile], object]] = []

    def apply(self, change: Callable[[DayFile], T]) -> T:
        """Apply a change to the copy; it is applied again to the stored day if a save meets another writer's."""
        result = change(self.day)
        self._pending.append(change)
        return result

    def save(self) -> None:
        """Store the copy (replace-if-unchanged); on a conflict, reload, re-apply the pending changes, retry."""
        self.day, self.version = save_merging(self.storage, self.key, self.day, self.version, self._pending,
                                              lambda: _load(self.storage, self.day.date))


def save_merging(storage: Storage, key: str, record: M, version: str | None,
                 pending: list[Callable[[M], object]], reload: Callable[[], tuple[M, str | None]]) -> tuple[M, str]:
    """Write `record` if the stored copy is still `version` (create it if None); on a conflict, `reload` the
    stored one, apply the `pending` changes to it again and retry. Returns what was written and its version."""
    for _ in range(MAX_CONFLICTS):
        data = record.model_dump_json(indent=1).encode()
        if version is None:
            written = _write(storage, key, lambda d=data: storage.create(key, d, content_type=_JSON))
        else:
            written = _write(storage, key,
                             lambda d=data, v=version: storage.replace(key, d, v, content_type=_JSON))
        if written is not None:
            pending.clear()
            return record, written
        record, version = reload()
        for change in pending:
            change(record)
        get_logger().warning("%s was changed by another run meanwhile: merged its changes, saving again",
                             storage.describe(key))
    raise StoreError(f"{storage.describe(key)} kept changing under this run ({MAX_CONFLICTS} tries)")


_JSON = "application/json"


def _encode(day: DayFile) -> bytes:
    return day.model_dump_json(indent=1).encode()


def _write(storage: Storage, key: str, write: Callable[[], T]) -> T:
    try:
        return write()
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreError(f"cannot write {storage.describe(key)}: {reason}; the previous file is intact") from exc


# -- leases: runs of one date, and renders, take turns --------------------------------------------------

def lease_key(name: str) -> str:
    return f"leases/{name}.json"


@contextlib.contextmanager
def day_lease(settings: Settings, date: str, run: str | None = None) -> Iterator[Lease]:
    """Held by a run of `date` for its whole run: a second run of the date waits (HFDAILY_LEASE_WAIT)."""
    with _hold(settings, date, f"a run of {date}", run) as lease:
        yield lease


@contextlib.contextmanager
def site_lease(settings: Settings, run: str | None = None) -> Iterator[Lease]:
    """Held while rendering: each render reads the day files after taking it, so the last render of any mix
    of parallel runs lists every stored date on the shared pages (month, archive, feeds)."""
    with _hold(settings, "site", "a render of the site", run) as lease:
        yield lease


@contextlib.contextmanager
def _hold(settings: Settings, name: str, what: str, run: str | None) -> Iterator[Lease]:
    def waiting(holder: LeaseRecord) -> None:
        get_logger().info("waiting for %s to finish (lease %s held by %s, up to %.0f s)",
                          holder.what, lease_key(name), holder.holder, settings.lease_wait)

    with hold(settings.data, lease_key(name), what=what, ttl=settings.lease_ttl, wait=settings.lease_wait,
              run=run, on_wait=waiting) as lease:
        yield lease


# -- folding the feed in --------------------------------------------------------------------------------

@dataclass
class MergeReport:
    new: int = 0
    updated: int = 0
    vanished: int = 0


def merge_feed(day: DayFile, papers: list[Paper], now: datetime | None = None) -> MergeReport:
    """Fold today's feed into the stored day.

    New papers are added; known ones get fresh feed facts (upvotes, links …) and keep their derived
    work; papers no longer in the feed stay stored, flagged with when they vanished (HF moves papers
    between days). A feed older than what a record has already seen changes nothing on it, so applying an
    older run's feed again (a merge after a conflict) never rolls newer facts back.
    """
    now = now or utcnow()
    report = MergeReport()
    in_feed = {p.arxiv_id for p in papers}
    for paper in papers:
        record = day.paper(paper.arxiv_id)
        if record is None:
            day.papers.append(PaperRecord(**paper.model_dump(), first_seen=now, last_seen=now))
            report.new += 1
            continue
        if record.last_seen > now:
            continue
        fresh = paper.model_dump(include=set(FEED_FIELDS))
        if any(getattr(record, k) != v for k, v in fresh.items()) or record.vanished_at:
            report.updated += 1
        for key in fresh:
            setattr(record, key, getattr(paper, key))
        record.last_seen = now
        record.vanished_at = None
    # An empty feed is more likely an upstream hiccup than every paper moving away: flag nothing then.
    for record in day.papers:
        if papers and record.arxiv_id not in in_feed and record.vanished_at is None and record.last_seen < now:
            record.vanished_at = now
            report.vanished += 1
    return report
