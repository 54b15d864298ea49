"""The day store: one JSON file per date, written atomically, merged rather than overwritten."""

from __future__ import annotations

import contextlib
import errno
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from tasks.errors import StoreError
from tasks.files import LockTimeout, file_lock, write_atomic
from tasks.log import get_logger
from tasks.models import FEED_FIELDS, SCHEMA_VERSION, DayFile, Paper, PaperRecord, utcnow
from tasks.settings import Settings


def day_path(settings: Settings, date: str) -> Path:
    return settings.days_dir / f"{date}.json"


def load_day(settings: Settings, date: str) -> DayFile:
    """The stored day, or a new empty one. A corrupt or newer-schema file is an error, never overwritten."""
    path = day_path(settings, date)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return DayFile(date=date)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}); fix or move it away, it was left as is") from exc
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StoreError(f"{path} has schema_version {version!r}; this hfdaily reads up to {SCHEMA_VERSION}")
    try:
        return DayFile.model_validate(data)
    except ValidationError as exc:
        raise StoreError(f"{path} does not match the day schema: {exc.error_count()} problems") from exc


def save_day(settings: Settings, day: DayFile) -> Path:
    """Write the day atomically and durably: readers never see half a file, a crash never loses the last one."""
    path = day_path(settings, day.date)
    try:
        return write_atomic(path, day.model_dump_json(indent=1), durable=True)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreError(f"cannot write {path}: {reason}; the previous file is intact") from exc


DAY_LOCK_TIMEOUT = 600.0  # a whole run of a date holds its lock; a cold day takes about a minute


@contextlib.contextmanager
def day_lock(settings: Settings, date: str, timeout: float = DAY_LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive per-date lock across processes, so two runs of one date never interleave their writes."""
    with _lock(settings.days_dir / f".{date}.lock", f"another run of {date}", timeout):
        yield


@contextlib.contextmanager
def site_lock(settings: Settings, timeout: float = DAY_LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive lock over rendering: each render reads the day files after taking it, so the last render of
    any mix of parallel runs lists every stored date on the shared pages (month, archive, feeds)."""
    with _lock(settings.days_dir / ".site.lock", "another run rendering the site", timeout):
        yield


@contextlib.contextmanager
def _lock(path: Path, holder: str, timeout: float) -> Iterator[None]:
    def waiting() -> None:
        get_logger().info("waiting for %s to finish (lock %s, up to %.0f s)", holder, path.name, timeout)

    with contextlib.ExitStack() as stack:
        try:  # only taking the lock is translated here, not what the caller's block raises
            stack.enter_context(file_lock(path, timeout=timeout, on_wait=waiting))
        except LockTimeout:
            raise StoreError(f"{holder} held {path.name} for more than {timeout:.0f} s") from None
        except OSError as exc:
            raise StoreError(f"cannot create lock {path}: {exc.strerror or exc}") from exc
        yield


@dataclass
class MergeReport:
    new: int = 0
    updated: int = 0
    vanished: int = 0


def merge_feed(day: DayFile, papers: list[Paper], now: datetime | None = None) -> MergeReport:
    """Fold today's feed into the stored day.

    New papers are added; known ones get fresh feed facts (upvotes, links …) and keep their derived
    work; papers no longer in the feed stay stored, flagged with when they vanished (HF moves papers
    between days).
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
        fresh = paper.model_dump(include=set(FEED_FIELDS))
        if any(getattr(record, k) != v for k, v in fresh.items()) or record.vanished_at:
            report.updated += 1
        for key in fresh:
            setattr(record, key, getattr(paper, key))
        record.last_seen = now
        record.vanished_at = None
    # An empty feed is more likely an upstream hiccup than every paper moving away: flag nothing then.
    for record in day.papers:
        if papers and record.arxiv_id not in in_feed and record.vanished_at is None:
            record.vanished_at = now
            report.vanished += 1
    return report
