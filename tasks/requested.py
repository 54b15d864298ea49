"""The store of papers reviewed on request: `requests/ID.json` in the data dir, apart from the day files.

Each file holds one `PaperRecord` (the same shape and step states as a paper of a day) with when it was asked for
and one record per run. A run changes it through a `RequestWriter`, saved like a day file: replace-if-unchanged,
and on a conflict the stored file is reloaded and this run's changes applied again (a stored result is never
replaced, tasks/steps.py: apply_to). Runs that ask for the same paper also take turns on a lease per paper, so a
step is not paid twice by two runs at once; a run takes its papers' leases in sorted order, so two runs asking
for overlapping lists never wait on each other in a circle.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from pydantic import BaseModel, Field

from tasks.errors import StoreError
from tasks.lease import hold
from tasks.log import get_logger
from tasks.models import SCHEMA_VERSION, Paper, PaperRecord, RunRecord
from tasks.settings import Settings
from tasks.storage import Storage
from tasks.store import lease_key, parse_stored, read_stored, save_merging

REQUESTS = "requests"
# What the arXiv API tells of a paper; the rest of a record's feed facts (upvotes …) are HF's.
ARXIV_FIELDS = ("title", "abstract", "authors", "published_at")


def file_name(arxiv_id: str) -> str:
    """`2501.06600`, or `hep-th_9901001` for an old-style id: one flat name for the file and the page."""
    return arxiv_id.replace("/", "_")


def request_key(arxiv_id: str) -> str:
    return f"{REQUESTS}/{file_name(arxiv_id)}.json"


class RequestFile(BaseModel):
    """`requests/ID.json`: a paper reviewed on request."""

    schema_version: int = SCHEMA_VERSION
    paper: PaperRecord
    requested_at: datetime  # first asked for
    last_requested_at: datetime
    runs: list[RunRecord] = Field(default_factory=list)


def merge_metadata(record: RequestFile | None, meta: Paper, now: datetime) -> RequestFile:
    """A new record for `meta`, or `record` with arXiv's current facts (a new version may retitle a paper).
    Finished steps are kept: re-requesting redoes only what is not done."""
    if record is None:
        paper = PaperRecord(**meta.model_dump(), first_seen=now, last_seen=now)
        return RequestFile(paper=paper, requested_at=now, last_requested_at=now)
    if now >= record.last_requested_at:  # applied again after a conflict: never roll newer facts back
        for key in ARXIV_FIELDS:
            setattr(record.paper, key, getattr(meta, key))
        record.paper.last_seen = record.last_requested_at = now
    return record


def parse_request(raw: bytes, where: str) -> RequestFile:
    return parse_stored(raw, where, RequestFile, "request")


def _load(storage: Storage, key: str) -> tuple[RequestFile | None, str | None]:
    current = read_stored(storage, key)
    if current is None:
        return None, None
    return parse_request(current[0], storage.describe(key)), current[1]


def load_request(settings: Settings, arxiv_id: str) -> RequestFile | None:
    return _load(settings.data, request_key(arxiv_id))[0]


def load_requests(settings: Settings) -> list[RequestFile]:
    """Every readable request file, most recently requested first; unreadable ones are logged and skipped."""
    store = settings.data
    keys = [k for k in store.list(REQUESTS) if k.endswith(".json")]
    out = []
    for key, raw in sorted(store.read_many(keys).items()):
        try:
            out.append(parse_request(raw, store.describe(key)))
        except StoreError as exc:
            get_logger().error("skipping %s", exc)
    return sorted(out, key=lambda r: (r.last_requested_at, r.paper.arxiv_id), reverse=True)


class RequestWriter:
    """A run's copy of one requested paper, saved without ever losing another writer's results."""

    def __init__(self, settings: Settings, meta: Paper, now: datetime) -> None:
        self.storage = settings.data
        self.key = request_key(meta.arxiv_id)
        stored, self.version = _load(self.storage, self.key)
        self._pending: list[Callable[[RequestFile], object]] = []
        self.record = merge_metadata(stored, meta, now)
        self._fold = lambda r: merge_metadata(r, meta, now)  # applied first to whatever is stored at a conflict

    @property
    def paper(self) -> PaperRecord:
        return self.record.paper

    def apply(self, change: Callable[[RequestFile], object]) -> None:
        change(self.record)
        self._pending.append(change)

    def save(self) -> None:
        """Store the copy (replace-if-unchanged); on a conflict, fold arXiv's facts and the pending changes into
        the stored record again and retry."""
        def reload() -> tuple[RequestFile, str | None]:
            stored, version = _load(self.storage, self.key)
            return self._fold(stored), version

        self.record, self.version = save_merging(self.storage, self.key, self.record, self.version, self._pending,
                                                 reload)


@contextlib.contextmanager
def request_leases(settings: Settings, ids: list[str], run: str | None = None,
                   on_lost: Callable[[], None] | None = None) -> Iterator[threading.Event]:
    """Hold the lease of every paper (sorted order) for the block; the event is set (and `on_lost` called) once
    any of them is lost."""
    lost = threading.Event()

    def waiting(holder: object) -> None:
        get_logger().info("waiting for another review of the same paper to finish (%s)",
                          getattr(holder, "what", "another run"))

    with contextlib.ExitStack() as stack:
        for arxiv_id in sorted(set(ids)):
            lease = stack.enter_context(hold(
                settings.data, lease_key(f"request-{file_name(arxiv_id)}"), what=f"a review of {arxiv_id}",
                ttl=settings.lease_ttl, wait=settings.lease_wait, run=run, on_wait=waiting))
            lease.on_lost(lost.set)
            if on_lost is not None:
                lease.on_lost(on_lost)
        yield lost
