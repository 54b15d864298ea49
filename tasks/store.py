"""The day store: one JSON file per date, written atomically, merged rather than overwritten."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from tasks.errors import StoreError
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
    """Write the day atomically (temp file in the same folder, fsync, rename): readers never see half a file."""
    path = day_path(settings, day.date)
    payload = day.model_dump_json(indent=1).encode()
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{day.date}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise StoreError(f"cannot write {path}: {reason}; the previous file is intact") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


@contextlib.contextmanager
def day_lock(settings: Settings, date: str, timeout: float = 600.0) -> Iterator[None]:
    """Exclusive per-date lock across processes, so two runs of one date never interleave their writes."""
    lock_path = settings.days_dir / f".{date}.lock"
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(lock_path, "a+b")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise StoreError(f"cannot create lock {lock_path}: {exc.strerror or exc}") from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"another run holds {date} for more than {timeout:.0f} s") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()  # closing releases the lock


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
